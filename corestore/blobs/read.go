package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Reader reads a held blob. It is an io.ReadSeekCloser and an io.WriterTo; it is not safe for
// concurrent use. A read that reaches a block the store lacks fails with ErrIncomplete.
type Reader struct {
	dr   uio.DagReader
	size uint64
}

// Size returns the blob's size in bytes.
func (r *Reader) Size() uint64 { return r.size }

// Read reads from the current offset.
func (r *Reader) Read(p []byte) (int, error) { return r.dr.Read(p) }

// Seek sets the offset, as io.Seeker does.
func (r *Reader) Seek(offset int64, whence int) (int64, error) { return r.dr.Seek(offset, whence) }

// WriteTo writes the rest of the blob to w.
func (r *Reader) WriteTo(w io.Writer) (int64, error) { return r.dr.WriteTo(w) }

// Close releases the reader.
func (r *Reader) Close() error { return r.dr.Close() }

// Open returns a reader of the blob root, with boxo's UnixFS reader over the store. It fails
// with ErrNotFound if the root block is not held and ErrNotFile if the DAG is not a UnixFS file;
// it does not check that every block is held (Complete does). ctx bounds the reader's life.
func (s *Store) Open(ctx context.Context, root cid.Cid) (*Reader, error) {
	n, err := s.node(ctx, root)
	if err != nil {
		return nil, err
	}
	nd, err := s.ipldNode(root, n.block)
	if err != nil {
		return nil, err
	}
	dr, err := uio.NewDagReader(ctx, nd, nodeGetter{s})
	if err != nil {
		if errors.Is(err, uio.ErrIsDir) || errors.Is(err, uio.ErrCantReadSymlinks) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotFile, root, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, root, err)
	}
	return &Reader{dr: dr, size: dr.Size()}, nil
}

func (s *Store) ipldNode(c cid.Cid, data []byte) (ipld.Node, error) {
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCID, err)
	}
	var nd ipld.Node
	if c.Type() == cid.Raw {
		nd, err = dag.DecodeRawBlock(b)
	} else {
		nd, err = dag.DecodeProtobufBlock(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, c, err)
	}
	return nd, nil
}

// nodeGetter serves the UnixFS reader from the store.
type nodeGetter struct{ s *Store }

func (g nodeGetter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	data, err := g.s.Block(ctx, c)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: block %s is missing", ErrIncomplete, c)
		}
		return nil, err
	}
	return g.s.ipldNode(c, data)
}

func (g nodeGetter) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		n, err := g.Get(ctx, c)
		out <- &ipld.NodeOption{Node: n, Err: err}
		if err != nil {
			break
		}
	}
	close(out)
	return out
}

// Bytes returns the whole blob root, if it holds at most max bytes (ErrTooLarge otherwise):
// for callers that want a value, not a stream (a datom's resolved value, a DWN record's data).
func (s *Store) Bytes(ctx context.Context, root cid.Cid, max uint64) ([]byte, error) {
	r, err := s.Open(ctx, root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > max {
		return nil, fmt.Errorf("%w: %s holds %d bytes, over %d", ErrTooLarge, root, r.Size(), max)
	}
	b := make([]byte, r.Size())
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", root, err)
	}
	return b, nil
}
