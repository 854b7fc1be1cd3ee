package doip_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/doip/blobtest"
	"github.com/ipfs/go-cid"
)

func TestMemBlobs(t *testing.T) {
	blobtest.TestStore(t, func(t *testing.T) doip.BlobStore { return doip.NewMemBlobs() })
}

func TestFileBlobs(t *testing.T) {
	blobtest.TestStore(t, func(t *testing.T) doip.BlobStore {
		s, err := doip.NewFileBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func newUnixFSBlobs(t *testing.T) *doip.UnixFSBlobs {
	t.Helper()
	cs, err := corestore.Open(context.Background(), t.TempDir(), corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	d, err := cs.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := blobs.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return doip.NewUnixFSBlobs(s)
}

func TestUnixFSBlobs(t *testing.T) {
	blobtest.TestStore(t, func(t *testing.T) doip.BlobStore { return newUnixFSBlobs(t) })
}

// Element bytes in a UnixFSBlobs have Kubo's CIDs (DESIGN.md, Blobs), CIDOf agrees with Put,
// and what Put stores survives a GC with nothing live.
func TestUnixFSBlobsCIDs(t *testing.T) {
	ctx := context.Background()
	u := newUnixFSBlobs(t)
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{[]byte(`{"hello":"world"}`), "bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra"},
		{make([]byte, 1<<20), "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"},
	} {
		c, n, err := u.Put(ctx, bytes.NewReader(tc.in))
		if err != nil || c.String() != tc.want || n != int64(len(tc.in)) {
			t.Fatalf("Put of %d bytes: %s %d %v, want %s", len(tc.in), c, n, err, tc.want)
		}
		if c2, err := u.CIDOf(ctx, bytes.NewReader(tc.in)); err != nil || !c2.Equals(c) {
			t.Fatalf("CIDOf of %d bytes: %s %v", len(tc.in), c2, err)
		}
	}
	if _, err := u.Store().GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := cid.Decode("bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla")
	rc, n, err := u.Open(ctx, c)
	if err != nil || n != 1<<20 {
		t.Fatalf("after GC: %d %v", n, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, make([]byte, 1<<20)) {
		t.Fatal("the bytes after GC differ")
	}
}

// A repository whose blob store is a UnixFSBlobs stores element bytes under Kubo's CIDs.
func TestRepositoryOnUnixFS(t *testing.T) {
	ctx := context.Background()
	cs, err := corestore.Open(ctx, t.TempDir(), corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	db, err := datom.Open(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	core, _ := cs.Create(ctx, "doip")
	repo, err := doip.NewRepository(db, core.Key(), newUnixFSBlobs(t), doip.WithPrefix("u"))
	if err != nil {
		t.Fatal(err)
	}
	u := repo.Blobs()
	data := make([]byte, 1<<20)
	c, n, err := u.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	do, err := repo.Create(ctx, doip.Principal{Kind: doip.Owner}, &doip.DigitalObject{Type: "T", Elements: []doip.Element{{ID: "zeros"}}},
		map[string]doip.ElementData{"zeros": {CID: c, Size: n}})
	if err != nil {
		t.Fatal(err)
	}
	live, err := repo.LiveBlobs(ctx)
	if err != nil || !slices.ContainsFunc(live, func(l cid.Cid) bool {
		return l.String() == "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"
	}) {
		t.Fatalf("live blobs %v %v", live, err)
	}
	rc, size, err := repo.OpenElement(ctx, do.ID, "zeros")
	if err != nil || size != 1<<20 {
		t.Fatalf("open element: %d %v", size, err)
	}
	rc.Close()
}
