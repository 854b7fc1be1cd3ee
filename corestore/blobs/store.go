package blobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// DatastorePrefix is the key prefix of the repo's blob datastore inside the store's Badger
// (corestore.Store.Datastore(DatastorePrefix)). The peer's other datastores use 0x91 (peerstore)
// and 0x92 (DHT); the datom indexes use 0x80.
const DatastorePrefix byte = 0x93

// The import format: Kubo's `ipfs add --cid-version=1` and dwn-sdk-js's dataCid.
const (
	// ChunkSize is the size of an import's leaves.
	ChunkSize = 256 << 10
	// LinksPerNode is the most links an import puts in one node.
	LinksPerNode = 174
)

// Key namespaces in the metadata datastore. Blocks live under /blocks, boxo's blockstore
// prefix, unless they have a datastore of their own (WithBlockDatastore).
var (
	pinsPrefix  = ds.NewKey("/pins")
	rootsPrefix = ds.NewKey("/roots")
	// unlistedPrefix marks the recorded blobs that are not announced (Unlisted).
	unlistedPrefix = ds.NewKey("/unlisted")
)

// Ref names a blob: its root CID and its size in bytes.
type Ref struct {
	CID  cid.Cid
	Size uint64
}

// String returns the CID.
func (r Ref) String() string { return r.CID.String() }

// Option configures New. Options validate their values when applied.
type Option func(*config) error

type config struct {
	lim    Limits
	blocks ds.Batching
	log    *slog.Logger
}

// WithLimits sets the limits (default DefaultLimits()).
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.check(); err != nil {
			return err
		}
		c.lim = l
		return nil
	}
}

// WithBlockDatastore keeps the blocks in d, keyed by multihash without a prefix, and only the
// pins and the index of held blobs in the datastore given to New. A peer gives it a flat-file
// datastore (OpenBlockDir): blocks in the repo's Badger would live in its memory-mapped value
// log, which counts towards the process's resident memory and is only reclaimed by value-log GC.
func WithBlockDatastore(d ds.Batching) Option {
	return func(c *config) error {
		if d == nil {
			return fmt.Errorf("%w: nil block datastore", ErrInvalidOption)
		}
		c.blocks = d
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// Store keeps blobs: their blocks in a boxo blockstore, and beside them the pins and an index
// of the blobs held complete. It is safe for concurrent use. It does not own its datastores:
// closing them is the caller's job, after Close.
type Store struct {
	meta ds.Batching
	bs   blockstore.Blockstore
	lim  Limits
	log  *slog.Logger

	// gcMu is held exclusively by GC, shared by the operations that make an already held blob
	// reachable (Pin, Lease.Keep), so that GC's mark phase sees them.
	gcMu sync.RWMutex

	mu     sync.Mutex
	leases map[*Lease]struct{}
	gc     *gcState // non-nil while a GC runs
	closed bool
	active sync.WaitGroup // operations in progress, waited for by Close
	change chan struct{}  // closed at the next change of Roots (Changed); guarded by mu
}

// New returns a store over d. With no WithBlockDatastore, blocks are kept in d too, under
// /blocks.
func New(d ds.Batching, opts ...Option) (*Store, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil datastore", ErrInvalidOption)
	}
	c := config{lim: DefaultLimits(), log: slog.Default()}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	var bs blockstore.Blockstore
	if c.blocks != nil {
		bs = blockstore.NewBlockstoreNoPrefix(c.blocks)
	} else {
		bs = blockstore.NewBlockstore(d)
	}
	return &Store{meta: d, bs: bs, lim: c.lim, log: c.log, leases: map[*Lease]struct{}{}, change: make(chan struct{})}, nil
}

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("blob store closed")

// begin registers an operation; end must follow. It fails after Close.
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.active.Add(1)
	return nil
}

func (s *Store) end() { s.active.Done() }

// Close waits for the operations in progress and makes the store refuse new ones. It does not
// close the datastores.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.active.Wait()
	return nil
}

// Changed returns a channel that is closed at the next change of Roots: a blob recorded complete
// (by Add or a fetch's Commit) or collected by GC. A peer announces its blobs from one place:
// wait on Changed, then look at Roots.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.change
}

// signalChange wakes the waiters on Changed.
func (s *Store) signalChange() {
	s.mu.Lock()
	close(s.change)
	s.change = make(chan struct{})
	s.mu.Unlock()
}

// Limits returns the store's limits.
func (s *Store) Limits() Limits { return s.lim }

// Has reports whether the store holds the block c (for a blob, its root block; Complete says
// whether it holds all of it).
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if err := CheckCID(c); err != nil {
		return false, err
	}
	ok, err := s.bs.Has(ctx, c)
	if err != nil {
		return false, fmt.Errorf("blob store: has %s: %w", c, err)
	}
	return ok, nil
}

// Block returns the bytes of block c, or ErrNotFound. Servers use it.
func (s *Store) Block(ctx context.Context, c cid.Cid) ([]byte, error) {
	if err := CheckCID(c); err != nil {
		return nil, err
	}
	b, err := s.bs.Get(ctx, c)
	if err != nil {
		if ipld.IsNotFound(err) {
			return nil, fmt.Errorf("%w: block %s", ErrNotFound, c)
		}
		return nil, fmt.Errorf("blob store: get %s: %w", c, err)
	}
	return b.RawData(), nil
}

// node reads and decodes the held block c.
func (s *Store) node(ctx context.Context, c cid.Cid) (Node, error) {
	data, err := s.Block(ctx, c)
	if err != nil {
		return Node{}, err
	}
	return Decode(c, data, s.lim)
}

// Stat returns the ref of the blob whose root is c, from its root block alone, or ErrNotFound.
func (s *Store) Stat(ctx context.Context, c cid.Cid) (Ref, error) {
	n, err := s.node(ctx, c)
	if err != nil {
		return Ref{}, err
	}
	return Ref{CID: c, Size: n.FileSize}, nil
}

// Blockstore returns a read-only view of the store's blocks for block exchanges (bitswap's
// server reads from it). Its writes fail with ErrReadOnly: blocks enter the store through Add or
// a Lease, which check them and keep GC off them.
func (s *Store) Blockstore() blockstore.Blockstore { return readOnly{s.bs} }

type readOnly struct{ blockstore.Blockstore }

func (readOnly) Put(context.Context, blocks.Block) error       { return ErrReadOnly }
func (readOnly) PutMany(context.Context, []blocks.Block) error { return ErrReadOnly }
func (readOnly) DeleteBlock(context.Context, cid.Cid) error    { return ErrReadOnly }

// mhKey is the map key of a multihash.
func mhKey(h mh.Multihash) string { return string(h) }

// metaKey is the key of c under prefix in the metadata datastore. Blobs are named by multihash,
// so a CIDv0 and the CIDv1 of the same DAG are one blob.
func metaKey(prefix ds.Key, c cid.Cid) ds.Key {
	return prefix.Child(dshelp.MultihashToDsKey(c.Hash()))
}
