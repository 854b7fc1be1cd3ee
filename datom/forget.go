package datom

import (
	"context"
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// errForgotten is returned by work on a core index that Forget dropped while it waited.
var errForgotten = errors.New("the datom database forgot this core")

// Forget drops everything the database keeps about the core with key: its index state, its
// index keys, its cached columns and the core it holds open. Call it before
// corestore.Store.Delete removes the core, so that the derived database keeps nothing of it; a
// core that is still in the store is indexed again from its log by the next CatchUp,
// CatchUpCore, Follow or Transact. Forget
// waits for the core's transactions and index commits in flight; Follow stops following it. A
// core the database never indexed is no error.
func (db *DB) Forget(ctx context.Context, key corestore.Key) error {
	// db.mu is held throughout, so that no read loads the core's state again half-way; no
	// holder of a core's mu takes db.mu.
	db.mu.Lock()
	defer db.mu.Unlock()
	if ci, ok := db.cores[key]; ok {
		ci.mu.Lock()
		err := db.quiesce(ctx, ci)
		ci.forgotten = true
		ci.mu.Unlock()
		delete(db.cores, key)
		if err != nil {
			db.log.Warn("datom: forget core: wait for index commits", "core", key, "err", err)
		}
	}
	var st coreState
	found := false
	err := db.bdb.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(coreStateKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error {
			st, err = decodeCoreState(v)
			return err
		}); err != nil {
			return err
		}
		found = true
		return txn.Delete(coreStateKey(key))
	})
	if err != nil {
		return fmt.Errorf("forget core %s: %w", key, err)
	}
	if !found {
		return nil
	}
	db.cols.dropCore(st.cid)
	prefixes := make([][]byte, 0, len(indexSubs))
	for _, sub := range indexSubs {
		prefixes = append(prefixes, corePrefix(sub, st.cid))
	}
	if err := deletePrefixes(db.bdb, prefixes...); err != nil {
		// Nothing refers to the core number any more: the next Open drops its keys.
		db.log.Warn("datom: forget core: drop its index keys", "core", key, "err", err)
	}
	return nil
}

// dropCore forgets the cached columns of core number cid.
func (c *columnCache) dropCore(cid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, col := range c.cols {
		if k.cid == cid {
			c.used -= col.size
			delete(c.cols, k)
		}
	}
	for k := range c.wanted {
		if k.cid == cid {
			delete(c.wanted, k)
		}
	}
}
