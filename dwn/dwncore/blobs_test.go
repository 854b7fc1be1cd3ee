package dwncore_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/dwntest"
)

// newBlobData returns a BlobDataStore on a blob store and a reference datastore of cs, as a peer
// wires it.
func newBlobData(t testing.TB, cs *corestore.Store) (*dwncore.BlobDataStore, *blobs.Store) {
	t.Helper()
	bd, err := cs.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blobs.New(bd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	refs, err := cs.Datastore(dwncore.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return dwncore.NewBlobDataStore(b, refs), b
}

// TestBlobDataStore runs the data store suite and the node suite on corestore/blobs.
func TestBlobDataStore(t *testing.T) {
	t.Run("data", func(t *testing.T) {
		dwntest.TestDataStore(t, func(t *testing.T) dwn.DataStore {
			cs := openCorestore(t, t.TempDir())
			t.Cleanup(func() { cs.Close() })
			d, _ := newBlobData(t, cs)
			return d
		})
	})
	t.Run("node", func(t *testing.T) {
		dwntest.TestNode(t, func(t *testing.T) *dwn.Node {
			cs := openCorestore(t, t.TempDir())
			d, _ := newBlobData(t, cs)
			s := openStore(t, cs, dwncore.WithDataStore(d))
			t.Cleanup(func() {
				s.Close()
				cs.Close()
			})
			return s.Node()
		})
	})
}

// TestBlobGC: the blob store's GC, given the data store's Live, keeps the data of live records and
// frees the data of a pruned one.
func TestBlobGC(t *testing.T) {
	ctx := context.Background()
	cs := openCorestore(t, t.TempDir())
	defer cs.Close()
	bd, err := cs.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blobs.New(bd)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := openStore(t, cs, dwncore.WithBlobs(b))
	defer s.Close()
	d := s.DataStore().(*dwncore.BlobDataStore)
	node := s.Node()
	alice := dwntest.NewPersona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))

	write := func(data []byte) (string, string) {
		w := alice.RecordsWrite(clock, dwntest.Write{Data: data, DataFormat: "application/octet-stream", Schema: "https://example.com/blob"})
		r, err := node.Process(ctx, alice.DID, w, dwn.WithData(bytes.NewReader(data)))
		if err != nil || r.Status.Code != 202 {
			t.Fatalf("write: %v %+v", err, r)
		}
		id, _ := w.Get("recordId")
		desc, _ := w.Get("descriptor")
		c, _ := desc.(interface{ Get(string) (any, bool) }).Get("dataCid")
		return id.(string), c.(string)
	}
	keep := bytes.Repeat([]byte("k"), 600_000)
	drop := bytes.Repeat([]byte("d"), 600_000)
	_, keepCID := write(keep)
	dropID, dropCID := write(drop)
	if r, err := node.Process(ctx, alice.DID, alice.RecordsDelete(clock, dropID, true)); err != nil || r.Status.Code != 202 {
		t.Fatalf("delete: %v %+v", err, r)
	}
	res, err := b.GC(ctx, d.Live(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks == 0 {
		t.Fatalf("GC freed nothing: %+v", res)
	}
	if ok, _ := b.Has(ctx, cid.MustParse(dropCID)); ok {
		t.Fatal("the pruned record's data survived GC")
	}
	rc, err := d.Fetch(ctx, keepCID)
	if err != nil {
		t.Fatalf("live data lost: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, keep) {
		t.Fatal("live data damaged by GC")
	}
}
