package datom

import (
	badger "github.com/dgraph-io/badger/v4"
)

// deletePrefixes deletes every key under prefixes with ordinary write batches, while the
// database takes other writes. Badger's DropPrefix stops all writes and waits for the
// transactions in flight; run while commits are in flight it hung the node for good under load
// (a Reindex's drop and a Forget's waiting on each other's commit marks), so it is used only at
// Open, before anything else writes. Keys under a dropped core number are referred to by nothing,
// so a crash half-way leaves only keys that the next Open drops.
func deletePrefixes(bdb *badger.DB, prefixes ...[]byte) error {
	wb := bdb.NewWriteBatch()
	defer wb.Cancel()
	err := bdb.View(func(txn *badger.Txn) error {
		for _, p := range prefixes {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			for it.Rewind(); it.ValidForPrefix(p); it.Next() {
				if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}
