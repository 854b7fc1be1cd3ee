package kvstore

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// MessageStore is dwn-sdk-js's MessageStoreLevel: messages as DAG-CBOR blocks under their
// message CID (with encodedData kept), and an IndexLevel index.
type MessageStore struct {
	b  Backend
	ix index
}

// NewMessageStore returns a message store over b whose keys all start with ns. Two stores on one
// backend need different namespaces.
func NewMessageStore(b Backend, ns byte) *MessageStore {
	return &MessageStore{b: b, ix: index{ns: ns}}
}

func (s *MessageStore) msgKey(tenant, cid string) []byte {
	k := []byte{s.ix.ns, 'm'}
	k = appendLP(k, tenant)
	return append(k, cid...)
}

// Put implements dwn.MessageStore.
func (s *MessageStore) Put(ctx context.Context, tenant string, m *jsv.Object, ix dwn.Indexes) error {
	cid, err := dwn.MessageCID(m)
	if err != nil {
		return fmt.Errorf("put message: %w", err)
	}
	b, err := jsv.EncodeCBOR(m)
	if err != nil {
		return fmt.Errorf("put message %s: %w", cid, err)
	}
	return update(ctx, s.b, func(tx Tx) error {
		if err := tx.Set(s.msgKey(tenant, cid), b); err != nil {
			return err
		}
		return s.ix.put(tx, tenant, cid, ix)
	})
}

// Get implements dwn.MessageStore.
func (s *MessageStore) Get(ctx context.Context, tenant, cid string) (*jsv.Object, error) {
	var m *jsv.Object
	err := view(ctx, s.b, func(tx Tx) error {
		var err error
		m, err = s.get(tx, tenant, cid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("message %s: %w", cid, dwn.ErrNotFound)
	}
	return m, nil
}

func (s *MessageStore) get(tx Tx, tenant, cid string) (*jsv.Object, error) {
	b, ok, err := tx.Get(s.msgKey(tenant, cid))
	if err != nil || !ok {
		return nil, err
	}
	v, err := jsv.DecodeCBOR(b)
	if err != nil {
		return nil, fmt.Errorf("stored message %s: %w", cid, err)
	}
	m, ok := v.(*jsv.Object)
	if !ok {
		return nil, fmt.Errorf("stored message %s: %w: not a map", cid, jsv.ErrCBOR)
	}
	return m, nil
}

// Delete implements dwn.MessageStore.
func (s *MessageStore) Delete(ctx context.Context, tenant, cid string) error {
	return update(ctx, s.b, func(tx Tx) error {
		if err := tx.Delete(s.msgKey(tenant, cid)); err != nil {
			return err
		}
		return s.ix.del(tx, tenant, cid)
	})
}

// Query implements dwn.MessageStore as MessageStoreLevel.query does: one more than the limit is
// fetched to tell whether a cursor is due.
func (s *MessageStore) Query(ctx context.Context, tenant string, filters []dwn.Filter, sort dwn.Sort, page *dwn.Pagination) ([]*jsv.Object, *dwn.Cursor, error) {
	o := queryOptions{sortProperty: sort.Property, descending: sort.Descending}
	if o.sortProperty == "" {
		o.sortProperty = "messageTimestamp"
	}
	var limit *float64
	if page != nil {
		o.cursor = page.Cursor
		if page.Limit != nil {
			limit = page.Limit
			l := *page.Limit
			if l > 0 {
				l++
			}
			o.limit = &l
		}
	}
	var out []*jsv.Object
	var cursor *dwn.Cursor
	err := view(ctx, s.b, func(tx Tx) error {
		items, err := s.ix.query(tx, tenant, filters, o)
		if err != nil {
			return err
		}
		if limit != nil && *limit < float64(len(items)) {
			items = items[:len(items)-1]
			if cursor, err = cursorFromLast(items, o.sortProperty); err != nil {
				return err
			}
		}
		for _, it := range items {
			m, err := s.get(tx, tenant, it.cid)
			if err != nil {
				return err
			}
			if m != nil {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, cursor, err
}

// cursorFromLast is IndexLevel.createCursorFromLastArrayItem.
func cursorFromLast(items []item, prop string) (*dwn.Cursor, error) {
	if len(items) == 0 {
		return nil, nil
	}
	last := items[len(items)-1]
	v, ok := last.ix[prop]
	if !ok {
		return nil, &dwn.Error{Code: dwn.CodeIndexInvalidCursorSortProperty, Message: fmt.Sprintf("the sort property '%s' is not defined within the given item.", prop)}
	}
	switch v.(type) {
	case string, float64:
	default:
		return nil, &dwn.Error{Code: dwn.CodeIndexInvalidCursorValueType, Message: fmt.Sprintf("only string or number values are supported for cursors, a(n) %s was given.", jsTypeof(v))}
	}
	return &dwn.Cursor{MessageCID: last.cid, Value: v}, nil
}

func jsTypeof(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case []any, *jsv.Object, nil:
		return "object"
	}
	return "undefined"
}

// EventLog is dwn-sdk-js's EventLogLevel: an index of events with a watermark that grows with
// every append. Watermarks are 16 hex digits of a counter kept per store, so that they sort as
// ULIDs do.
type EventLog struct {
	b  Backend
	ix index
}

// NewEventLog returns an event log over b with keys under ns.
func NewEventLog(b Backend, ns byte) *EventLog { return &EventLog{b: b, ix: index{ns: ns}} }

func (l *EventLog) seqKey() []byte { return []byte{l.ix.ns, 'q'} }

// Append implements dwn.EventLog.
func (l *EventLog) Append(ctx context.Context, tenant, cid string, ix dwn.Indexes) error {
	return update(ctx, l.b, func(tx Tx) error {
		var n uint64
		if b, ok, err := tx.Get(l.seqKey()); err != nil {
			return err
		} else if ok && len(b) == 8 {
			n = binary.BigEndian.Uint64(b)
		}
		n++
		if err := tx.Set(l.seqKey(), binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return err
		}
		with := make(dwn.Indexes, len(ix)+1)
		for k, v := range ix {
			with[k] = v
		}
		with["watermark"] = fmt.Sprintf("%016x", n)
		return l.ix.put(tx, tenant, cid, with)
	})
}

// Query implements dwn.EventLog.
func (l *EventLog) Query(ctx context.Context, tenant string, filters []dwn.Filter, cursor *dwn.Cursor) ([]string, *dwn.Cursor, error) {
	var cids []string
	var out *dwn.Cursor
	err := view(ctx, l.b, func(tx Tx) error {
		items, err := l.ix.query(tx, tenant, filters, queryOptions{sortProperty: "watermark", cursor: cursor})
		if err != nil {
			return err
		}
		for _, it := range items {
			cids = append(cids, it.cid)
		}
		out, err = cursorFromLast(items, "watermark")
		return err
	})
	return cids, out, err
}

// Delete implements dwn.EventLog.
func (l *EventLog) Delete(ctx context.Context, tenant string, cids []string) error {
	return update(ctx, l.b, func(tx Tx) error {
		for _, c := range cids {
			if err := l.ix.del(tx, tenant, c); err != nil {
				return err
			}
		}
		return nil
	})
}
