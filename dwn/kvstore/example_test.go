package kvstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/kvstore"
	"github.com/datomspace/datomspace/dwn/memstore"
)

const tenant = "did:example:alice"

// note returns a small message and the indexes a node would store it with.
func note(schema, ts string) (*jsv.Object, dwn.Indexes) {
	d := jsv.NewObject()
	d.Set("interface", "Records")
	d.Set("method", "Write")
	d.Set("schema", schema)
	d.Set("messageTimestamp", ts)
	m := jsv.NewObject()
	m.Set("descriptor", d)
	return m, dwn.Indexes{"schema": schema, "messageTimestamp": ts}
}

func schemaFilter(schema string) dwn.Filter {
	f := jsv.NewObject()
	f.Set("schema", schema)
	return f
}

func timestamp(m *jsv.Object) any {
	d, _ := m.Get("descriptor")
	ts, _ := d.(*jsv.Object).Get("messageTimestamp")
	return ts
}

// A message store over an ordered key-value backend (here memstore's skiplist): messages are
// stored with their indexes and queried by filter, sorted, a page at a time.
func ExampleMessageStore() {
	ctx := context.Background()
	s := kvstore.NewMessageStore(memstore.NewBackend(), 'M')
	for _, n := range []struct{ schema, ts string }{
		{"https://example.com/note", "2025-01-01T00:00:01.000000Z"},
		{"https://example.com/photo", "2025-01-01T00:00:02.000000Z"},
		{"https://example.com/note", "2025-01-01T00:00:03.000000Z"},
		{"https://example.com/note", "2025-01-01T00:00:04.000000Z"},
	} {
		m, ix := note(n.schema, n.ts)
		if err := s.Put(ctx, tenant, m, ix); err != nil {
			panic(err)
		}
	}

	// The notes, newest first, two at a time.
	limit := 2.0
	page := &dwn.Pagination{Limit: &limit}
	newestFirst := dwn.Sort{Property: "messageTimestamp", Descending: true}
	for {
		msgs, cursor, err := s.Query(ctx, tenant, []dwn.Filter{schemaFilter("https://example.com/note")}, newestFirst, page)
		if err != nil {
			panic(err)
		}
		for _, m := range msgs {
			fmt.Println(timestamp(m))
		}
		if cursor == nil {
			break
		}
		fmt.Println("-- next page")
		page.Cursor = cursor
	}

	// A message is got by its CID.
	m, _ := note("https://example.com/photo", "2025-01-01T00:00:02.000000Z")
	cid, _ := dwn.MessageCID(m)
	got, err := s.Get(ctx, tenant, cid)
	fmt.Println(err == nil && jsv.DeepEqual(got, m))
	// Output:
	// 2025-01-01T00:00:04.000000Z
	// 2025-01-01T00:00:03.000000Z
	// -- next page
	// 2025-01-01T00:00:01.000000Z
	// true
}

// The event log gives every append a growing watermark; a query resumes after a cursor.
func ExampleEventLog() {
	ctx := context.Background()
	l := kvstore.NewEventLog(memstore.NewBackend(), 'E')
	for _, ts := range []string{"2025-01-01T00:00:01.000000Z", "2025-01-01T00:00:02.000000Z"} {
		m, ix := note("https://example.com/note", ts)
		cid, _ := dwn.MessageCID(m)
		if err := l.Append(ctx, tenant, cid, ix); err != nil {
			panic(err)
		}
	}
	cids, cursor, _ := l.Query(ctx, tenant, nil, nil)
	fmt.Println(len(cids), cursor.Value)

	m, ix := note("https://example.com/note", "2025-01-01T00:00:03.000000Z")
	cid, _ := dwn.MessageCID(m)
	if err := l.Append(ctx, tenant, cid, ix); err != nil {
		panic(err)
	}
	cids, cursor, _ = l.Query(ctx, tenant, nil, cursor)
	fmt.Println(len(cids), cids[0] == cid, cursor.Value)
	// Output:
	// 2 0000000000000002
	// 1 true 0000000000000003
}

// RunUnit makes every store call in fn one transaction: when fn fails, nothing it wrote stays.
func ExampleRunUnit() {
	ctx := context.Background()
	b := memstore.NewBackend()
	messages := kvstore.NewMessageStore(b, 'M')
	events := kvstore.NewEventLog(b, 'E')
	m, ix := note("https://example.com/note", "2025-01-01T00:00:01.000000Z")
	cid, _ := dwn.MessageCID(m)

	errRejected := errors.New("rejected")
	err := kvstore.RunUnit(ctx, b, func(ctx context.Context) error {
		if err := messages.Put(ctx, tenant, m, ix); err != nil {
			return err
		}
		if err := events.Append(ctx, tenant, cid, ix); err != nil {
			return err
		}
		return errRejected // for example, a check that failed after the writes
	})
	fmt.Println(errors.Is(err, errRejected))

	_, err = messages.Get(ctx, tenant, cid)
	cids, _, _ := events.Query(ctx, tenant, nil, nil)
	fmt.Println(errors.Is(err, dwn.ErrNotFound), len(cids), b.Len())
	// Output:
	// true
	// true 0 0
}
