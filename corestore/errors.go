package corestore

import (
	"errors"
	"fmt"
)

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
	// ErrTooLarge: a batch too large for one atomic commit. Append splits a call into several
	// commits before this can happen, so it is reported only when Badger refuses a transaction.
	ErrTooLarge = errors.New("batch too large for one atomic append")
	// ErrBlockTooLarge: Append was given a block larger than MaxBlockSize; nothing was appended.
	ErrBlockTooLarge = fmt.Errorf("block too large: a block is at most %d bytes (16 MiB less 256 KiB)", MaxBlockSize)
	// ErrBadName: a core name CheckName refuses. The message says what a name may be.
	ErrBadName = fmt.Errorf("a core name is 1 to %d bytes of UTF-8 text without control characters, and not a key (64 hex or 52 z-base32 characters)", maxNameLen)
)

// MaxBlockSize is the largest block, as stored, that Append accepts: 16 MiB less 256 KiB, so that
// a block and the largest proof of it a peer can ask for (its Merkle nodes, a tree upgrade with
// its roots, signature and manifest) always fit in one 16 MiB replication message. The protocols
// package derives its message limit from it. An encrypted core stores EncryptionPadding bytes
// before each block's ciphertext, so its plaintext blocks are at most MaxBlockSize -
// EncryptionPadding bytes.
const MaxBlockSize = 16<<20 - 256<<10
