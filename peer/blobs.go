package peer

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/datomspace/datomspace/corestore/blobs"
)

// blobBlockDir is the repo's block directory: the blocks of its blobs (Kubo's flatfs layout),
// whose pins and index live in the store's Badger under blobs.DatastorePrefix.
const blobBlockDir = "blocks"

// repoBlobs is a repo's blob store, opened on first use and closed with the repo.
type repoBlobs struct {
	mu    sync.Mutex
	store *blobs.Store
	dir   *blobs.BlockDir
}

// Blobs returns the repo's blob store (corestore/blobs), opening it on first use. It is the
// one store of the repo's blobs in this process: DOIP element bytes are kept there, and it is
// closed with the repo.
func (r *Repo) Blobs() (*blobs.Store, error) {
	r.blobs.mu.Lock()
	defer r.blobs.mu.Unlock()
	if r.blobs.store != nil {
		return r.blobs.store, nil
	}
	d, err := r.Store.Datastore(blobs.DatastorePrefix)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	dir, err := blobs.OpenBlockDir(filepath.Join(r.Path, blobBlockDir))
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	log := r.log
	if log == nil {
		log = slog.Default()
	}
	s, err := blobs.New(d, blobs.WithBlockDatastore(dir), blobs.WithLogger(log))
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	r.blobs.store, r.blobs.dir = s, dir
	return s, nil
}

// closeBlobs closes the blob store, if it was opened.
func (r *Repo) closeBlobs() error {
	r.blobs.mu.Lock()
	defer r.blobs.mu.Unlock()
	if r.blobs.store == nil {
		return nil
	}
	err := r.blobs.store.Close()
	if derr := r.blobs.dir.Close(); err == nil {
		err = derr
	}
	r.blobs.store, r.blobs.dir = nil, nil
	return err
}
