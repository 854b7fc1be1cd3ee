package blobs

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	h "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// AddOption configures Add and CIDOf.
type AddOption func(*addConfig) error

type addConfig struct {
	progress func(uint64)
	lease    *Lease
	maxSize  uint64
	commit   []CommitOption
}

// WithProgress calls fn with the number of bytes read so far, after every read from the input
// (from the import's reading goroutine; calls do not overlap).
func WithProgress(fn func(bytes uint64)) AddOption {
	return func(c *addConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: nil progress callback", ErrInvalidOption)
		}
		c.progress = fn
		return nil
	}
}

// WithLease writes the blob's blocks under l, which keeps GC off them after Add returns, until
// the caller has referenced the blob (a datom, a DWN record) and releases l.
func WithLease(l *Lease) AddOption {
	return func(c *addConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil lease", ErrInvalidOption)
		}
		c.lease = l
		return nil
	}
}

// WithMaxSize sets the largest input accepted, in bytes (default: the store's MaxSize; for CIDOf
// DefaultLimits().MaxSize). A longer input fails with ErrTooLarge.
func WithMaxSize(n uint64) AddOption {
	return func(c *addConfig) error {
		if n == 0 {
			return fmt.Errorf("%w: maximum size must be positive", ErrInvalidOption)
		}
		c.maxSize = n
		return nil
	}
}

// WithUnlisted records the blob unlisted (see Unlisted).
func WithUnlisted() AddOption {
	return func(c *addConfig) error {
		c.commit = append(c.commit, Unlisted())
		return nil
	}
}

// WithPin pins the blob when it is recorded, in the same write.
func WithPin() AddOption {
	return func(c *addConfig) error {
		c.commit = append(c.commit, Pinned())
		return nil
	}
}

// Add imports r as a UnixFS file: CIDv1, raw leaves of 256 KiB, a balanced DAG of 174 links per
// node, as `ipfs add --cid-version=1` does. It streams, and memory does not grow with the input:
// the input is read a few chunks ahead, leaves are hashed in parallel, and blocks are written in
// batches of a few MiB, several at once, while the next ones are hashed. The blob is recorded among the held ones (Roots) and, with WithPin,
// pinned. If Add fails (a read error, ErrTooLarge, a full disk, ctx ending), nothing is recorded
// or pinned and the blocks written so far are left for GC.
func (s *Store) Add(ctx context.Context, r io.Reader, opts ...AddOption) (Ref, error) {
	c := addConfig{maxSize: s.lim.MaxSize}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return Ref{}, err
		}
	}
	if err := s.begin(); err != nil {
		return Ref{}, err
	}
	defer s.end()
	l := c.lease
	if l == nil {
		l = s.NewLease()
		defer l.Release()
	}
	w := newBatchWriter(ctx, l)
	ref, err := importFile(ctx, r, w, c)
	if ferr := w.close(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return Ref{}, err
	}
	var cc commitConfig
	for _, o := range c.commit {
		o(&cc)
	}
	if err := s.record(ctx, ref, cc); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// CIDOf returns the ref Add would return for r, storing nothing.
func CIDOf(ctx context.Context, r io.Reader, opts ...AddOption) (Ref, error) {
	c := addConfig{maxSize: DefaultLimits().MaxSize}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return Ref{}, err
		}
	}
	return importFile(ctx, r, discard{}, c)
}

func importFile(ctx context.Context, r io.Reader, dserv ipld.DAGService, c addConfig) (Ref, error) {
	in := &input{ctx: ctx, r: r, max: c.maxSize, progress: c.progress}
	pre := newPrehash(in)
	defer pre.close()
	params := h.DagBuilderParams{
		Maxlinks:   LinksPerNode,
		RawLeaves:  true,
		CidBuilder: preBuilder{codec: cid.DagProtobuf, p: pre},
		Dagserv:    dserv,
	}
	db, err := params.New(pre)
	if err != nil {
		return Ref{}, fmt.Errorf("blob import: %w", err)
	}
	root, err := balanced.Layout(db)
	if err != nil {
		if in.err != nil {
			return Ref{}, in.err
		}
		return Ref{}, fmt.Errorf("blob import: %w", err)
	}
	return Ref{CID: root.Cid(), Size: in.n}, nil
}

// input is the reader the chunker reads: it counts, reports progress, stops at the size limit
// and when ctx ends, and remembers the error it returned so that Add reports it unwrapped.
type input struct {
	ctx      context.Context
	r        io.Reader
	n, max   uint64
	progress func(uint64)
	err      error
}

func (in *input) Read(p []byte) (int, error) {
	if err := in.ctx.Err(); err != nil {
		in.err = err
		return 0, err
	}
	k, err := in.r.Read(p)
	in.n += uint64(k)
	if in.n > in.max {
		in.err = fmt.Errorf("%w: the input is over %d bytes", ErrTooLarge, in.max)
		return 0, in.err
	}
	if k > 0 && in.progress != nil {
		in.progress(in.n)
	}
	if err != nil && err != io.EOF {
		in.err = fmt.Errorf("blob import: read input: %w", err)
		return k, in.err
	}
	return k, err
}

// batchWriter is the DAGService the importer writes to: it writes blocks under the lease in
// batches of about flushBytes, on writer goroutines of its own, so that hashing and writing
// overlap and several batches are written at once (one file per block: the writes of one batch
// do not use the disk's or the kernel's parallelism). At most writerCount+2 batches are in
// memory: one filling, one queued, one per writer.
type batchWriter struct {
	ctx    context.Context
	l      *Lease
	batch  []blocks.Block
	bytes  int
	work   chan []blocks.Block
	wg     sync.WaitGroup
	failed atomic.Pointer[error] // the first write error; the writers skip the rest
}

const flushBytes = 4 << 20

// writerCount is the number of batches written at once.
var writerCount = max(2, min(runtime.NumCPU(), 4))

func newBatchWriter(ctx context.Context, l *Lease) *batchWriter {
	w := &batchWriter{ctx: ctx, l: l, work: make(chan []blocks.Block, 1)}
	for range writerCount {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for b := range w.work {
				if w.failed.Load() != nil {
					continue
				}
				if err := w.l.putMany(w.ctx, b); err != nil {
					w.failed.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	return w
}

func (w *batchWriter) Add(ctx context.Context, n ipld.Node) error {
	if err := w.failed.Load(); err != nil {
		return *err
	}
	w.batch = append(w.batch, n)
	w.bytes += len(n.RawData())
	if w.bytes >= flushBytes {
		w.flush()
	}
	return nil
}

func (w *batchWriter) flush() {
	if len(w.batch) > 0 {
		w.work <- w.batch
		w.batch, w.bytes = nil, 0
	}
}

// close writes what is left, waits for the writer and returns its error.
func (w *batchWriter) close() error {
	w.flush()
	close(w.work)
	w.wg.Wait()
	if err := w.failed.Load(); err != nil {
		return *err
	}
	return nil
}

func (w *batchWriter) AddMany(ctx context.Context, ns []ipld.Node) error {
	for _, n := range ns {
		if err := w.Add(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (w *batchWriter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, ipld.ErrNotFound{Cid: c}
}

func (w *batchWriter) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}

func (w *batchWriter) Remove(context.Context, cid.Cid) error       { return nil }
func (w *batchWriter) RemoveMany(context.Context, []cid.Cid) error { return nil }

// discard is the DAGService of CIDOf.
type discard struct{}

func (discard) Add(context.Context, ipld.Node) error        { return nil }
func (discard) AddMany(context.Context, []ipld.Node) error  { return nil }
func (discard) Remove(context.Context, cid.Cid) error       { return nil }
func (discard) RemoveMany(context.Context, []cid.Cid) error { return nil }
func (discard) Get(_ context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, ipld.ErrNotFound{Cid: c}
}
func (discard) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}
