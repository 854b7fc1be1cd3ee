package blobs

import "errors"

// The errors of this package. Every error it returns wraps one of these (or a context error, or
// the datastore's own), so callers can tell them apart with errors.Is.
var (
	// ErrNotFound: the store does not hold the blob or block.
	ErrNotFound = errors.New("blob not found")
	// ErrIncomplete: the store holds the blob's root but not all of its blocks.
	ErrIncomplete = errors.New("blob is incomplete")
	// ErrInvalidCID: the CID does not parse.
	ErrInvalidCID = errors.New("invalid CID")
	// ErrUnsupported: the CID's codec or hash is not one a blob may use (dag-pb or raw, sha2-256).
	ErrUnsupported = errors.New("unsupported CID")
	// ErrHashMismatch: a block's bytes do not hash to its CID.
	ErrHashMismatch = errors.New("block does not match its CID")
	// ErrMalformed: a block hashes to its CID but is not a valid UnixFS file node.
	ErrMalformed = errors.New("malformed blob block")
	// ErrNotFile: the DAG is UnixFS but not a file (a directory, a symlink, a HAMT shard).
	ErrNotFile = errors.New("not a file")
	// ErrTooLarge: a blob or block exceeds the configured maximum size.
	ErrTooLarge = errors.New("blob too large")
	// ErrTooDeep: a DAG is deeper than the configured maximum.
	ErrTooDeep = errors.New("blob DAG too deep")
	// ErrTooManyLinks: a node has more links than the configured maximum.
	ErrTooManyLinks = errors.New("blob DAG node has too many links")
	// ErrSizeMismatch: a node's file size is not what its parent says it is.
	ErrSizeMismatch = errors.New("blob DAG sizes do not add up")
	// ErrReadOnly: a write through the store's read-only blockstore view.
	ErrReadOnly = errors.New("blob blockstore view is read-only")
	// ErrReleased: a lease used after Release.
	ErrReleased = errors.New("lease released")
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("invalid option")
)
