package doip

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
)

// UnixFSBlobs is the BlobStore of a node: element bytes are blobs of corestore/blobs, UnixFS
// DAGs with CIDv1, raw leaves of 256 KiB and 174 links a node, so an element's CID is the one
// Kubo's `ipfs add --cid-version=1` gives its bytes, and its blocks can be served and fetched
// over bitswap like any blob's.
//
// Put pins what it stores: a blob named by an object's datoms must outlive a GC that runs before
// the transaction naming it is written. Collecting the bytes of deleted elements is a pinning
// policy's business: Repository.LiveBlobs lists the ones current objects name.
type UnixFSBlobs struct {
	s *blobs.Store
}

// NewUnixFSBlobs returns the BlobStore over s, which the caller keeps and closes.
func NewUnixFSBlobs(s *blobs.Store) *UnixFSBlobs { return &UnixFSBlobs{s: s} }

// Store returns the blob store under it.
func (u *UnixFSBlobs) Store() *blobs.Store { return u.s }

// Put implements BlobStore: it imports what r yields as a UnixFS file and pins it.
func (u *UnixFSBlobs) Put(ctx context.Context, r io.Reader) (cid.Cid, int64, error) {
	ref, err := u.s.Add(ctx, r, blobs.WithPin())
	if err != nil {
		return cid.Undef, 0, err
	}
	return ref.CID, int64(ref.Size), nil
}

// Open implements BlobStore. A blob whose root is here but not every block (a fetch cut short)
// is not found either: its bytes cannot be read to the end.
func (u *UnixFSBlobs) Open(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error) {
	complete, err := u.s.Complete(ctx, c)
	switch {
	case errors.Is(err, blobs.ErrNotFound) || err == nil && !complete:
		return nil, 0, fmt.Errorf("%w: %s", ErrBlobNotFound, c)
	case err != nil:
		return nil, 0, err
	}
	r, err := u.s.Open(ctx, c)
	if errors.Is(err, blobs.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", ErrBlobNotFound, c)
	}
	if err != nil {
		return nil, 0, err
	}
	return r, int64(r.Size()), nil
}

// CIDOf returns the CID Put would give what r yields, storing nothing: a caller that fetched
// bytes for a known CID checks them before they enter the store.
func (u *UnixFSBlobs) CIDOf(ctx context.Context, r io.Reader) (cid.Cid, error) {
	ref, err := blobs.CIDOf(ctx, r, blobs.WithMaxSize(u.s.Limits().MaxSize))
	return ref.CID, err
}
