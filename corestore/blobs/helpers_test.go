package blobs

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/datomspace/datomspace/corestore"
)

// newBadgerStore returns a store on a fresh corestore's Badger, everything in one datastore.
func newBadgerStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	cs, err := corestore.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	d, err := cs.Datastore(DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newDirStore returns a store with its metadata in Badger and its blocks in a block directory,
// as a peer has it.
func newDirStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	dir := t.TempDir()
	cs, err := corestore.Open(context.Background(), filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	d, err := cs.Datastore(DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := OpenBlockDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bd.Close() })
	s, err := New(d, append([]Option{WithBlockDatastore(bd)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
