package corestore

import "errors"

// Errors a core or store reports. They are wrapped with the core, index or path they concern;
// test for them with errors.Is.
var (
	// ErrNotAvailable: the block or node is not stored locally (not downloaded, or cleared).
	ErrNotAvailable = errors.New("not available locally")
	// ErrOutOfRange: an index at or past the core's length.
	ErrOutOfRange = errors.New("index out of range")
	// ErrReadOnly: a write to a core this store holds no secret key for.
	ErrReadOnly = errors.New("core is read-only: it is a replica, only its owner can write it")
	// ErrNotFound: no core with that key or name is in the store.
	ErrNotFound = errors.New("core not found")
	// ErrCorrupt: stored bytes fail their checks; the message names the core and index.
	ErrCorrupt = errors.New("stored data is corrupt")
	// ErrLocked: another process holds the store.
	ErrLocked = errors.New("the store is in use by another process")
	// ErrClosed: the store or core has been closed.
	ErrClosed = errors.New("closed")
	// ErrFrozen: a conflict froze the core; it refuses new writes and proofs.
	ErrFrozen = errors.New("core is frozen after a conflict")
	// ErrTooLarge: a batch too large for one atomic commit.
	ErrTooLarge = errors.New("batch too large for one atomic append")
)
