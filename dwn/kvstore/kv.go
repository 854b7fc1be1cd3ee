// Package kvstore implements dwn.MessageStore and dwn.EventLog over an ordered key-value store,
// with dwn-sdk-js's IndexLevel semantics reproduced exactly: the same index keys (an encoded value,
// a NUL and the message CID, compared bytewise), the same choice between paging in memory and
// paging along the sort index, the same range-scan quirks, and the same cursors.
//
// A Backend is anything ordered and transactional: the in-memory skiplist in package memstore,
// or a Badger database (package dwncore). A store call made with a context from RunUnit joins
// that unit's transaction, so that processing a whole message is one atomic write.
package kvstore

import (
	"context"
	"errors"
)

// ErrTxnTooBig may be returned by Tx.Set or Tx.Delete when a transaction cannot grow; the store
// then commits what it has and continues in a new transaction (see Backend).
var ErrTxnTooBig = errors.New("transaction too big")

// Tx is a transaction over ordered byte keys.
type Tx interface {
	// Get returns the value of key, and whether it exists.
	Get(key []byte) ([]byte, bool, error)
	// Set sets key to value.
	Set(key, value []byte) error
	// Delete removes key; it is not an error if there is none.
	Delete(key []byte) error
	// Iterate visits the keys with prefix in ascending order from start (inclusive; nil for the
	// first), or with reverse in descending order from start (inclusive; nil for the last), until
	// fn returns false. Keys and values are valid only during fn.
	Iterate(prefix, start []byte, reverse bool, fn func(key, value []byte) (bool, error)) error
}

// Backend runs transactions.
type Backend interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed when fn returns nil and discarded
	// when it returns an error. A backend with bounded transactions may commit one that
	// outgrows them in parts (see ErrTxnTooBig); dwncore's Badger backend marks the store
	// while it does, so that a crash between the parts is seen on open.
	Update(ctx context.Context, fn func(Tx) error) error
}

type unitKey struct{ b Backend }

// unitTx is the transaction a unit runs in.
type unitTx struct {
	tx Tx
}

// RunUnit runs fn in one Update transaction of b: every store call that fn makes with the
// context it gets uses that transaction. It implements dwn.Unit for a Backend.
func RunUnit(ctx context.Context, b Backend, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(unitKey{b}).(*unitTx); ok {
		return fn(ctx) // already in a unit
	}
	return b.Update(ctx, func(tx Tx) error {
		return fn(context.WithValue(ctx, unitKey{b}, &unitTx{tx: tx}))
	})
}

func view(ctx context.Context, b Backend, fn func(Tx) error) error {
	if u, ok := ctx.Value(unitKey{b}).(*unitTx); ok {
		return fn(u.tx)
	}
	return b.View(ctx, fn)
}

func update(ctx context.Context, b Backend, fn func(Tx) error) error {
	if u, ok := ctx.Value(unitKey{b}).(*unitTx); ok {
		return fn(u.tx)
	}
	return b.Update(ctx, fn)
}

// Update runs fn in the unit's transaction when ctx is in a unit of b, else in a transaction of
// its own.
func Update(ctx context.Context, b Backend, fn func(Tx) error) error { return update(ctx, b, fn) }

// View runs fn in the unit's transaction when ctx is in a unit of b, else in a read transaction.
func View(ctx context.Context, b Backend, fn func(Tx) error) error { return view(ctx, b, fn) }
