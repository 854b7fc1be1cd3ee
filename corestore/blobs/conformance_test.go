package blobs_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/corestore/blobs/blobstest"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

func badgerDatastore(t *testing.T, dir string) ds.Batching {
	cs, err := corestore.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	d, err := cs.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func closeWith(t *testing.T, s *blobs.Store, err error) *blobs.Store {
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite on every setup: everything in the repo's Badger; metadata in
// Badger and blocks in a block directory (the peer's); everything in memory.
func TestConformance(t *testing.T) {
	t.Run("Badger", func(t *testing.T) {
		blobstest.TestStore(t, func(t *testing.T) *blobs.Store {
			s, err := blobs.New(badgerDatastore(t, t.TempDir()))
			return closeWith(t, s, err)
		})
	})
	t.Run("BlockDir", func(t *testing.T) {
		blobstest.TestStore(t, func(t *testing.T) *blobs.Store {
			dir := t.TempDir()
			bd, err := blobs.OpenBlockDir(filepath.Join(dir, "blocks"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bd.Close() })
			s, err := blobs.New(badgerDatastore(t, filepath.Join(dir, "store")), blobs.WithBlockDatastore(bd))
			return closeWith(t, s, err)
		})
	})
	t.Run("Memory", func(t *testing.T) {
		blobstest.TestStore(t, func(t *testing.T) *blobs.Store {
			s, err := blobs.New(dssync.MutexWrap(ds.NewMapDatastore()))
			return closeWith(t, s, err)
		})
	})
}
