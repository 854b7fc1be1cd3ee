package peer

import (
	"context"
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// deleteCore deletes a replica or an empty writable core: the datom database forgets it first
// (its index state, keys and columns, and its follower), then the store deletes it. db may be nil
// when no datom database is open. Deleting a core that is already gone is not an error.
func deleteCore(ctx context.Context, db *datom.DB, s *corestore.Store, key corestore.Key) error {
	if db != nil {
		if err := db.Forget(ctx, key); err != nil && !errors.Is(err, corestore.ErrNotFound) {
			return fmt.Errorf("delete core %s: %w", key, err)
		}
	}
	if err := s.Delete(ctx, key); err != nil && !errors.Is(err, corestore.ErrNotFound) {
		return err
	}
	return nil
}

// deleteCore stops following the core with key and deletes it.
func (n *Node) deleteCore(ctx context.Context, key corestore.Key) error {
	n.Unfollow(key)
	return deleteCore(ctx, n.DB, n.Repo.Store, key)
}

// deleteCore deletes the core with key from the repo, through the node when one runs.
func (l *Local) deleteCore(ctx context.Context, key corestore.Key) error {
	if n := l.Node(); n != nil {
		return n.deleteCore(ctx, key)
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	db := l.db
	l.mu.Unlock()
	return deleteCore(ctx, db, r.Store, key)
}
