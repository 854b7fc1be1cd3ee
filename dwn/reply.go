package dwn

import (
	"io"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Status is a reply's status.
type Status struct {
	Code   int
	Detail string
}

// Cursor is a pagination cursor: the message CID and the sort value of the last entry returned.
type Cursor struct {
	MessageCID string
	Value      any // string or float64
}

// Entry is the single entry of a RecordsRead or MessagesRead reply.
type Entry struct {
	RecordsWrite  *jsv.Object // RecordsRead: the newest RecordsWrite
	InitialWrite  *jsv.Object // RecordsRead: the initial write, when it is not RecordsWrite
	RecordsDelete *jsv.Object // RecordsRead of a deleted record
	Message       *jsv.Object // MessagesRead
	MessageCID    string      // MessagesRead
}

// Subscription is an open subscription. Events arrive on the handler given to Process until Close.
type Subscription struct {
	ID    string
	close func()
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	if s != nil && s.close != nil {
		s.close()
	}
}

// Reply is what processing a message returns, in dwn-sdk-js's shape.
type Reply struct {
	Status Status
	// Entries: RecordsQuery and ProtocolsQuery messages (*jsv.Object), MessagesQuery message CIDs
	// (string). Nil when the reply has no entries property.
	Entries      []any
	Entry        *Entry
	Cursor       *Cursor
	Subscription *Subscription
	// Data is the record data of a RecordsRead or MessagesRead; the caller must close it.
	Data io.ReadCloser
	// DataFormat is the dataFormat of the record whose data Data is.
	DataFormat string
}

func statusReply(code int, detail string) *Reply {
	return &Reply{Status: Status{Code: code, Detail: detail}}
}

func errorReply(err error, code int) *Reply { return statusReply(code, detailOf(err)) }

// JSON returns the reply as dwn-sdk-js would serialize it (without the data stream).
func (r *Reply) JSON() *jsv.Object {
	o := jsv.NewObject()
	st := jsv.NewObject()
	st.Set("code", float64(r.Status.Code))
	st.Set("detail", r.Status.Detail)
	o.Set("status", st)
	if r.Entries != nil {
		es := make([]any, len(r.Entries))
		copy(es, r.Entries)
		o.Set("entries", es)
	}
	if r.Entry != nil {
		e := jsv.NewObject()
		if r.Entry.RecordsDelete != nil {
			e.Set("recordsDelete", r.Entry.RecordsDelete)
			e.Set("initialWrite", r.Entry.InitialWrite)
		} else if r.Entry.Message != nil {
			e.Set("message", r.Entry.Message)
			e.Set("messageCid", r.Entry.MessageCID)
		} else {
			if r.Entry.RecordsWrite != nil {
				e.Set("recordsWrite", r.Entry.RecordsWrite)
			}
			if r.Entry.InitialWrite != nil {
				e.Set("initialWrite", r.Entry.InitialWrite)
			}
		}
		o.Set("entry", e)
	}
	if r.Cursor != nil {
		c := jsv.NewObject()
		c.Set("messageCid", r.Cursor.MessageCID)
		c.Set("value", r.Cursor.Value)
		o.Set("cursor", c)
	}
	if r.Subscription != nil {
		s := jsv.NewObject()
		s.Set("id", r.Subscription.ID)
		o.Set("subscription", s)
	}
	return o
}

// Event is what a subscription delivers: a message that was stored, and for a RecordsWrite that
// is not the initial write, or a RecordsDelete, the record's initial write.
type Event struct {
	Message      *jsv.Object
	InitialWrite *jsv.Object
}

// JSON returns the event as dwn-server sends it.
func (e Event) JSON() *jsv.Object {
	o := jsv.NewObject()
	o.Set("message", e.Message)
	if e.InitialWrite != nil {
		o.Set("initialWrite", e.InitialWrite)
	}
	return o
}
