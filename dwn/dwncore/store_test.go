package dwncore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/kvstore"
)

func openCorestore(t testing.TB, dir string) *corestore.Store {
	t.Helper()
	cs, err := corestore.Open(context.Background(), dir, corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func openStore(t testing.TB, cs *corestore.Store, opts ...dwncore.Option) *dwncore.Store {
	t.Helper()
	s, err := dwncore.Open(context.Background(), cs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newStore opens a fresh core-backed store that closes with the test.
func newStore(t testing.TB, opts ...dwncore.Option) (*dwncore.Store, *corestore.Store) {
	t.Helper()
	cs := openCorestore(t, t.TempDir())
	s := openStore(t, cs, opts...)
	t.Cleanup(func() {
		s.Close()
		cs.Close()
	})
	return s, cs
}

// TestCoreNode runs the node conformance suite on core-backed stores.
func TestCoreNode(t *testing.T) {
	dwntest.TestNode(t, func(t *testing.T) *dwn.Node {
		s, _ := newStore(t)
		return s.Node()
	})
}

func TestCoreStores(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		dwntest.TestMessageStore(t, func(t *testing.T) dwn.MessageStore {
			cs := openCorestore(t, t.TempDir())
			t.Cleanup(func() { cs.Close() })
			db, err := cs.Derived()
			if err != nil {
				t.Fatal(err)
			}
			return kvstore.NewMessageStore(dwncore.NewBadgerBackend(db, []byte{0xD0}), 'M')
		})
	})
	t.Run("events", func(t *testing.T) {
		dwntest.TestEventLog(t, func(t *testing.T) dwn.EventLog {
			cs := openCorestore(t, t.TempDir())
			t.Cleanup(func() { cs.Close() })
			db, err := cs.Derived()
			if err != nil {
				t.Fatal(err)
			}
			return kvstore.NewEventLog(dwncore.NewBadgerBackend(db, []byte{0xD0}), 'E')
		})
	})
	t.Run("data", func(t *testing.T) {
		dwntest.TestDataStore(t, func(t *testing.T) dwn.DataStore {
			cs := openCorestore(t, t.TempDir())
			t.Cleanup(func() { cs.Close() })
			d, err := cs.Datastore(dwncore.DatastorePrefix)
			if err != nil {
				t.Fatal(err)
			}
			return dwncore.NewBlockDataStore(d)
		})
	})
}

// snapshot is what a tenant's state looks like from the outside: every record the tenant sees
// (with data) and every message CID in the event log.
func snapshot(t testing.TB, n *dwn.Node, tenant string, who *dwntest.Persona, c *dwntest.Clock) string {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	r, err := n.Process(ctx, tenant, who.RecordsQuery(c, dwntest.Obj("dataFormat", "application/json")))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Entries {
		m := e.(*jsv.Object)
		m.Delete("initialWrite")
		out.WriteString(jsv.Stringify(m) + "\n")
	}
	mq, err := n.Process(ctx, tenant, who.MessagesQuery(c, []any{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range mq.Entries {
		out.WriteString(e.(string) + "\n")
	}
	return out.String()
}

// TestReopenAndRebuild processes the generated history, closes the store, and checks that the
// reopened store and a rebuilt one answer as the original did.
func TestReopenAndRebuild(t *testing.T) {
	dir := t.TempDir()
	cs := openCorestore(t, dir)
	s := openStore(t, cs)
	ctx := context.Background()
	steps := dwntest.ExtSteps(t)
	for _, st := range steps {
		var opts []dwn.ProcessOption
		if st.HasData {
			opts = append(opts, dwn.WithData(bytes.NewReader(st.Data)))
		}
		if _, err := s.Node().Process(ctx, st.Tenant, st.Message, opts...); err != nil && !dwn.IsInternal(err) {
			t.Fatal(err)
		}
	}
	alice := dwntest.NewPersona(1)
	c := dwntest.NewClock(timeAfterVectors())
	tenant := steps[0].Tenant
	before := snapshot(t, s.Node(), tenant, alice, c)
	if before == "" {
		t.Fatal("empty state")
	}
	core, err := s.TenantCore(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	entries := core.Length()
	s.Close()
	cs.Close()

	cs = openCorestore(t, dir)
	s = openStore(t, cs)
	if got := snapshot(t, s.Node(), tenant, alice, c); got != before {
		t.Errorf("reopened state differs:\n%s\nwant\n%s", got, before)
	}
	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, s.Node(), tenant, alice, c); got != before {
		t.Errorf("rebuilt state differs:\n%s\nwant\n%s", got, before)
	}
	core, _ = s.TenantCore(ctx, tenant)
	if core.Length() != entries {
		t.Errorf("rebuild changed the core: %d entries, was %d", core.Length(), entries)
	}
	s.Close()
	cs.Close()
}

// TestCatchUpAfterCrash appends an entry to a tenant core without letting the derived state see
// it (what a crash between the two leaves) and checks that opening applies it.
func TestCatchUpAfterCrash(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	alice := dwntest.NewPersona(1)
	c := dwntest.NewClock(timeAfterVectors())
	cs := openCorestore(t, dir)
	s := openStore(t, cs)
	w := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"n":1}`), Schema: "https://example.com/n"})
	if r, err := s.Node().Process(ctx, alice.DID, w, dwn.WithData(bytes.NewReader([]byte(`{"n":1}`)))); err != nil || r.Status.Code != 202 {
		t.Fatalf("write: %v %+v", err, r)
	}
	// a second write lands in the core only
	w2 := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"n":2}`), Schema: "https://example.com/n"})
	core, _ := s.TenantCore(ctx, alice.DID)
	b, err := dwncore.EncodeEntry(dwncore.Entry{Message: w2, Data: []byte(`{"n":2}`), WithData: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	q := func(n *dwn.Node) int {
		r, err := n.Process(ctx, alice.DID, alice.RecordsQuery(c, dwntest.Obj("schema", "https://example.com/n")))
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Entries)
	}
	if got := q(s.Node()); got != 1 {
		t.Fatalf("%d records before reopening", got)
	}
	s.Close()
	cs.Close()
	cs = openCorestore(t, dir)
	s = openStore(t, cs)
	defer cs.Close()
	defer s.Close()
	if got := q(s.Node()); got != 2 {
		t.Errorf("%d records after reopening, want 2", got)
	}
}

// TestIngestRejectsGarbage feeds a core with blocks that are not entries and entries with forged
// messages: nothing is stored.
func TestIngestRejectsGarbage(t *testing.T) {
	ctx := context.Background()
	a, _ := newStore(t)
	b, bcs := newStore(t)
	alice := dwntest.NewPersona(1)
	mallory := dwntest.NewPersona(66)
	c := dwntest.NewClock(timeAfterVectors())
	// mallory's node writes junk and forgeries into its core for alice
	mcore, err := a.TenantCore(ctx, alice.DID)
	if err != nil {
		t.Fatal(err)
	}
	forged := mallory.RecordsWrite(c, dwntest.Write{Data: []byte(`{}`), Schema: "https://example.com/x"})
	tampered := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{}`), Schema: "https://example.com/x"})
	tampered.Get("descriptor")
	d, _ := tampered.Get("descriptor")
	d.(*jsv.Object).Set("schema", "https://example.com/y")
	good := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"ok":1}`), Schema: "https://example.com/x"})
	var blocks [][]byte
	blocks = append(blocks, []byte("not cbor"), []byte{0xa0})
	for _, m := range []*jsv.Object{forged, tampered} {
		e, _ := dwncore.EncodeEntry(dwncore.Entry{Message: m, Data: []byte(`{}`), WithData: true})
		blocks = append(blocks, e)
	}
	e, _ := dwncore.EncodeEntry(dwncore.Entry{Message: good, Data: []byte(`{"ok":1}`), WithData: true})
	blocks = append(blocks, e)
	if _, err := mcore.Append(ctx, blocks...); err != nil {
		t.Fatal(err)
	}
	rep := replicate(t, mcore, bcs)
	st, err := b.Ingest(ctx, alice.DID, rep)
	if err != nil {
		t.Fatal(err)
	}
	if st.Invalid != 2 || st.Parked != 2 || st.Accepted != 1 {
		t.Errorf("stats %+v", st)
	}
	r, _ := b.Node().Process(ctx, alice.DID, alice.RecordsQuery(c, dwntest.Obj("schema", "https://example.com/x")))
	if len(r.Entries) != 1 {
		t.Errorf("%d records, want only the genuine one", len(r.Entries))
	}
	// ingesting again reads nothing new
	if st, _ := b.Ingest(ctx, alice.DID, rep); st.Read != 0 {
		t.Errorf("second ingest read %d", st.Read)
	}
}

var errNoData = errors.New("no data")

func fetcherFrom(s *dwncore.Store, tenant string) dwncore.DataFetcher {
	return func(ctx context.Context, cid string) (io.ReadCloser, error) {
		_ = s
		return nil, errNoData
	}
}
