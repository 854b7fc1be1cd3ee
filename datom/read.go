package datom

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// ReadOption configures a read.
type ReadOption func(*readOptions)

type readOptions struct{ asOf *uint64 }

// AsOf reads the database as it was right after transaction tx.
func AsOf(tx uint64) ReadOption { return func(o *readOptions) { o.asOf = &tx } }

func readOpts(opts []ReadOption) readOptions {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Entity is an entity pulled from one core: its attributes and their values. A cardinality-one
// attribute has one value.
type Entity struct {
	Core  corestore.Key
	ID    string
	Attrs map[string][]Value
}

// view is a consistent read of one core's indexes.
type view struct {
	txn  *badger.Txn
	key  corestore.Key
	cid  uint32
	asOf *uint64
	its  map[byte]*badger.Iterator
}

// state reads the core's index state as the view sees it.
func (v *view) state() (coreState, error) {
	item, err := v.txn.Get(coreStateKey(v.key))
	if err != nil {
		return coreState{}, fmt.Errorf("core %s: read index state: %w", v.key, err)
	}
	var st coreState
	err = item.Value(func(b []byte) error {
		st, err = decodeCoreState(b)
		return err
	})
	return st, err
}

func (db *DB) readView(ctx context.Context, key corestore.Key, asOf *uint64) (*view, *coreIndex, error) {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	return &view{txn: db.bdb.NewTransaction(false), key: key, cid: ci.state.Load().cid, asOf: asOf, its: map[byte]*badger.Iterator{}}, ci, nil
}

func (v *view) close() {
	for _, it := range v.its {
		it.Close()
	}
	v.txn.Discard()
}

func (v *view) iter(sub byte) *badger.Iterator {
	it, ok := v.its[sub]
	if !ok {
		it = v.txn.NewIterator(badger.IteratorOptions{Prefix: corePrefix(sub, v.cid)})
		v.its[sub] = it
	}
	return it
}

// scan calls fn for each entry under prefix, in key order, until fn returns false. It includes
// entries not visible in the view: callers filter.
func (v *view) scan(ctx context.Context, sub byte, prefix []byte, fn func(en *entry) bool) error {
	it := v.iter(sub)
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		en, err := itemEntry(it.Item())
		if err != nil {
			return err
		}
		if !fn(&en) {
			return nil
		}
	}
	return nil
}

// Pull returns entity e of the core with key, as it is now or AsOf a transaction. An entity with
// no visible datom has no Attrs. e is an entity id or, when it starts with [, a lookup ref such
// as ["person/email", "wang@example.cn"] (see ParseLookupRef), which names the entity that
// holds that value of a unique attribute: one that names none is an error wrapping ErrNoEntity,
// one whose attribute is not unique an error wrapping ErrNotUnique.
func (db *DB) Pull(ctx context.Context, key corestore.Key, e string, opts ...ReadOption) (*Entity, error) {
	ref, isRef, err := ParseLookupRef(e)
	if err != nil {
		return nil, fmt.Errorf("pull from core %s: %w", key, err)
	}
	o := readOpts(opts)
	v, ci, err := db.readView(ctx, key, o.asOf)
	if err != nil {
		return nil, err
	}
	defer v.close()
	if isRef {
		if e, err = v.lookup(ctx, ci.sch.Load(), ref); err != nil {
			return nil, fmt.Errorf("pull: %w", err)
		}
	}
	ent := &Entity{Core: key, ID: e, Attrs: map[string][]Value{}}
	prefix := appendKeyString(corePrefix(subEAVT, v.cid), e)
	err = v.scan(ctx, subEAVT, prefix, func(en *entry) bool {
		if en.visible(v.asOf) {
			ent.Attrs[en.a] = append(ent.Attrs[en.a], en.v)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s from core %s: %w", e, key, err)
	}
	return ent, nil
}

// History returns every assertion and retraction of entity e, of attribute a, or of both when
// both are given, in tx order (within a tx, retractions first), up to AsOf when given.
func (db *DB) History(ctx context.Context, key corestore.Key, e, a string, opts ...ReadOption) ([]Datom, error) {
	if e == "" && a == "" {
		return nil, fmt.Errorf("history of core %s: give an entity, an attribute or both", key)
	}
	o := readOpts(opts)
	v, _, err := db.readView(ctx, key, o.asOf)
	if err != nil {
		return nil, err
	}
	defer v.close()
	sub, prefix := subAEVT, appendKeyString(corePrefix(subAEVT, v.cid), a)
	if e != "" {
		sub, prefix = subEAVT, appendKeyString(corePrefix(subEAVT, v.cid), e)
		if a != "" {
			prefix = appendKeyString(prefix, a)
		}
	}
	var out []Datom
	err = v.scan(ctx, sub, prefix, func(en *entry) bool {
		if v.asOf == nil || en.tx <= *v.asOf {
			out = append(out, Datom{E: en.e, A: en.a, V: en.v, Tx: en.tx, Added: true})
		}
		if !en.live && (v.asOf == nil || en.retracted <= *v.asOf) {
			out = append(out, Datom{E: en.e, A: en.a, V: en.v, Tx: en.retracted, Added: false})
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s %s in core %s: %w", e, a, key, err)
	}
	slices.SortStableFunc(out, func(x, y Datom) int {
		if c := cmp.Compare(x.Tx, y.Tx); c != 0 {
			return c
		}
		if x.Added != y.Added {
			if !x.Added {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, nil
}

// itemEntry decodes the index entry an iterator stands on.
func itemEntry(item *badger.Item) (entry, error) {
	var en entry
	err := item.Value(func(val []byte) error {
		var err error
		en, err = decodeEntry(item.Key(), val)
		return err
	})
	return en, err
}
