package corestore

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrNotDeletable is returned by Delete for a writable core that holds blocks: they may be the
// only copy there is.
var ErrNotDeletable = errors.New("a writable core with blocks cannot be deleted")

// Delete removes a core from the store: a replica (its blocks' bytes are punched out of the data
// file first) or an empty writable core. The core vanishes atomically: its key and discovery key
// index entries and its header go in one transaction; its tree nodes and bitfield follow. Callers
// stop using the core first (replication, indexing); a write that still reaches a deleted core
// fails with ErrNotFound.
func (s *Store) Delete(ctx context.Context, key Key) error {
	c, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if c.Writable() && c.Length() > 0 {
		return fmt.Errorf("core %s (%d blocks): %w", key, c.Length(), ErrNotDeletable)
	}
	if err := c.Clear(ctx, 0, c.Length()); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone.Store(true)
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{keyIndexKey(key), discIndexKey(c.dk), coreRecordKey(kindHeader, c.id), coreRecordKey(kindEncryption, c.id)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete core %s: %w", key, err)
	}
	s.mu.Lock()
	delete(s.cores, key)
	s.mu.Unlock()
	for _, kind := range []byte{kindSegment, kindNodePage, kindBitfield} {
		if err := s.deletePrefix(coreRecordKey(kind, c.id)); err != nil {
			return fmt.Errorf("delete core %s: %w", key, err)
		}
	}
	if err := s.deleteUnsyncedOf(c.id); err != nil {
		return fmt.Errorf("delete core %s: %w", key, err)
	}
	s.signalChange()
	if s.durable {
		return s.Sync(ctx)
	}
	return nil
}

// deletePrefix deletes every key with prefix, in transactions of bounded size.
func (s *Store) deletePrefix(prefix []byte) error {
	for {
		var keys [][]byte
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < 10000; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := s.db.Update(func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
}

// deleteUnsyncedOf deletes the unsynced records of core id: nothing of it is left to recheck.
func (s *Store) deleteUnsyncedOf(id uint64) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindUnsynced}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				if u, err := decodeUnsynced(v); err == nil && u.ID == id {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
