package dwncore

import (
	"bytes"
	"context"
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/datomspace/datomspace/dwn/kvstore"
)

// badgerBackend is a kvstore.Backend on a Badger database, under a key prefix. A transaction that
// outgrows Badger's limits is committed in parts; the first part writes the dirty key, and the
// last removes it, so that a crash in between is seen on open.
type badgerBackend struct {
	db     *badger.DB
	prefix []byte
	dirty  []byte // key (with prefix) present while a split transaction is being written
}

// NewBadgerBackend returns a kvstore.Backend on db whose keys all start with prefix.
func NewBadgerBackend(db *badger.DB, prefix []byte) kvstore.Backend {
	return newBackend(db, prefix)
}

func newBackend(db *badger.DB, prefix []byte) *badgerBackend {
	return &badgerBackend{db: db, prefix: prefix, dirty: append(append([]byte(nil), prefix...), "!dirty"...)}
}

func (b *badgerBackend) key(k []byte) []byte {
	out := make([]byte, 0, len(b.prefix)+len(k))
	return append(append(out, b.prefix...), k...)
}

func (b *badgerBackend) View(ctx context.Context, fn func(kvstore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(func(txn *badger.Txn) error {
		return fn(&badgerTx{b: b, txn: txn})
	})
}

func (b *badgerBackend) Update(ctx context.Context, fn func(kvstore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx := &badgerTx{b: b, txn: b.db.NewTransaction(true), rw: true}
	defer func() { tx.txn.Discard() }()
	if err := fn(tx); err != nil {
		return err
	}
	if tx.split {
		if err := tx.txn.Delete(b.dirty); err != nil {
			return err
		}
	}
	return tx.txn.Commit()
}

type badgerTx struct {
	b     *badgerBackend
	txn   *badger.Txn
	rw    bool
	split bool
}

func (t *badgerTx) Get(k []byte) ([]byte, bool, error) {
	it, err := t.txn.Get(t.b.key(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := it.ValueCopy(nil)
	return v, true, err
}

// retry runs op, and when the transaction is too big commits it and runs op in a new one.
func (t *badgerTx) retry(op func(txn *badger.Txn) error) error {
	err := op(t.txn)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if !t.split {
		t.split = true
		if err := t.txn.Set(t.b.dirty, nil); err != nil && !errors.Is(err, badger.ErrTxnTooBig) {
			return err
		}
	}
	if err := t.txn.Commit(); err != nil {
		return err
	}
	t.txn = t.b.db.NewTransaction(true)
	return op(t.txn)
}

func (t *badgerTx) Set(k, v []byte) error {
	key := t.b.key(k)
	val := append([]byte(nil), v...)
	return t.retry(func(txn *badger.Txn) error { return txn.Set(key, val) })
}

func (t *badgerTx) Delete(k []byte) error {
	key := t.b.key(k)
	return t.retry(func(txn *badger.Txn) error { return txn.Delete(key) })
}

func (t *badgerTx) Iterate(prefix, start []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	full := t.b.key(prefix)
	opts := badger.DefaultIteratorOptions
	opts.Prefix = full
	opts.Reverse = reverse
	opts.PrefetchValues = false
	it := t.txn.NewIterator(opts)
	defer it.Close()
	var seek []byte
	switch {
	case start != nil:
		seek = t.b.key(start)
	case reverse:
		seek = append(append([]byte(nil), full...), bytes.Repeat([]byte{0xff}, 8)...)
	default:
		seek = full
	}
	n := len(t.b.prefix)
	for it.Seek(seek); it.ValidForPrefix(full); it.Next() {
		item := it.Item()
		var v []byte
		if item.ValueSize() > 0 {
			var err error
			if v, err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		ok, err := fn(item.Key()[n:], v)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}
