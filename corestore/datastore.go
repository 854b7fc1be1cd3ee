package corestore

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// Datastore is a go-datastore over the store's Badger database, under a one-byte key prefix. The
// peer keeps its DHT records, peerstore and routing-table peers in it, so they live, and are
// backed up, with the cores.
type Datastore struct {
	db     *badger.DB
	space  *spaceGuard
	prefix []byte
}

var _ ds.Batching = (*Datastore)(nil)

// Datastore returns a go-datastore that keeps its keys under prefix, which must be at least
// ExtensionKeyPrefix.
func (s *Store) Datastore(prefix byte) (*Datastore, error) {
	if prefix < ExtensionKeyPrefix {
		return nil, fmt.Errorf("datastore prefix %#x is reserved for corestore", prefix)
	}
	return &Datastore{db: s.db, space: s.space, prefix: []byte{prefix}}, nil
}

func (d *Datastore) key(k ds.Key) []byte {
	return append(append([]byte(nil), d.prefix...), k.Bytes()...)
}

// Get returns the value of key, or ds.ErrNotFound.
func (d *Datastore) Get(ctx context.Context, key ds.Key) ([]byte, error) {
	var v []byte
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(d.key(key))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ds.ErrNotFound
	}
	return v, err
}

// Has reports whether key is present.
func (d *Datastore) Has(ctx context.Context, key ds.Key) (bool, error) {
	_, err := d.GetSize(ctx, key)
	if errors.Is(err, ds.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetSize returns the size of key's value, or ds.ErrNotFound.
func (d *Datastore) GetSize(ctx context.Context, key ds.Key) (int, error) {
	size := -1
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(d.key(key))
		if err != nil {
			return err
		}
		size = int(item.ValueSize())
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return -1, ds.ErrNotFound
	}
	return size, err
}

// Put stores value under key.
func (d *Datastore) Put(ctx context.Context, key ds.Key, value []byte) error {
	if err := d.space.check(int64(len(value))); err != nil {
		return fmt.Errorf("datastore put: %w", err)
	}
	return d.db.Update(func(txn *badger.Txn) error { return txn.Set(d.key(key), value) })
}

// Delete removes key; deleting a missing key is not an error.
func (d *Datastore) Delete(ctx context.Context, key ds.Key) error {
	return d.db.Update(func(txn *badger.Txn) error { return txn.Delete(d.key(key)) })
}

// Sync makes every write so far durable.
func (d *Datastore) Sync(ctx context.Context, prefix ds.Key) error { return d.db.Sync() }

// Close does nothing: the database belongs to the Store.
func (d *Datastore) Close() error { return nil }

// Query runs q over a snapshot of the keys under q.Prefix.
func (d *Datastore) Query(ctx context.Context, q dsq.Query) (dsq.Results, error) {
	prefix := ds.NewKey(q.Prefix).String()
	if prefix != "/" {
		prefix += "/"
	}
	var entries []dsq.Entry
	err := d.db.View(func(txn *badger.Txn) error {
		p := append([]byte(nil), d.prefix...)
		if prefix != "/" {
			p = append(p, prefix...)
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: !q.KeysOnly})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			e := dsq.Entry{Key: string(item.Key()[len(d.prefix):]), Size: int(item.ValueSize())}
			if !q.KeysOnly {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				e.Value = v
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Filters, orders, offset and limit on the snapshot; the results report the caller's query.
	naive := q
	naive.Prefix = ""
	all, err := dsq.NaiveQueryApply(naive, dsq.ResultsWithEntries(naive, entries)).Rest()
	if err != nil {
		return nil, err
	}
	return dsq.ResultsWithEntries(q, all), nil
}

// Batch returns a batch whose writes commit together.
func (d *Datastore) Batch(ctx context.Context) (ds.Batch, error) {
	return &dsBatch{d: d, ops: map[string]*[]byte{}}, nil
}

type dsBatch struct {
	d   *Datastore
	ops map[string]*[]byte // nil value: delete
}

func (b *dsBatch) Put(ctx context.Context, key ds.Key, value []byte) error {
	v := append([]byte(nil), value...)
	b.ops[key.String()] = &v
	return nil
}

func (b *dsBatch) Delete(ctx context.Context, key ds.Key) error {
	b.ops[key.String()] = nil
	return nil
}

func (b *dsBatch) Commit(ctx context.Context) error {
	size := 0
	for _, v := range b.ops {
		if v != nil {
			size += len(*v)
		}
	}
	if size > 0 {
		if err := b.d.space.check(int64(size)); err != nil {
			return fmt.Errorf("datastore batch: %w", err)
		}
	}
	wb := b.d.db.NewWriteBatch()
	defer wb.Cancel()
	for k, v := range b.ops {
		var err error
		if v == nil {
			err = wb.Delete(b.d.key(ds.RawKey(k)))
		} else {
			err = wb.Set(b.d.key(ds.RawKey(k)), *v)
		}
		if err != nil {
			return err
		}
	}
	return wb.Flush()
}
