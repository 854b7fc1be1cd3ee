package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/protocols/blobsync"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Blobs: large data by CID (corestore/blobs). A repo keeps its blobs' pins and index in the
// store's Badger (blobs.DatastorePrefix) and their blocks in the block directory blobs/ of the
// repo; the repo opens them on first use (Repo.Blobs), for a node and for operations without a
// daemon alike, and closes them before the store. A node serves them on its host, with bitswap
// (for Kubo and any IPFS node) and the fast path between datomspace peers (protocols/blobsync),
// announces every blob it holds from the one place that announces (announce.go), and fetches
// blobs (FetchBlob). The datom database keeps large values as blobs (datom.WithBlobs).
//
// GC keeps pinned blobs and the blobs that something the repo holds refers to: every feature
// whose records refer to blobs lists them, from the repo (blobRootSets, which works without a
// daemon) or, for references only a running service holds, from the node (AddBlobRoots).

// ErrNoBlobProviders: no peer that holds the blob was found, or every one that was is gone.
var ErrNoBlobProviders = errors.New("no peer that holds the blob was found")

// blobsDir is the repo's block directory.
const blobsDir = "blobs"

// MaxResolve bounds a blob value that pull --resolve returns inline: 64 MiB. A larger one is
// read with OpBlobCat.
const MaxResolve = 64 << 20

// repoBlobs is the repo's blob store, opened on first use.
type repoBlobs struct {
	mu      sync.Mutex
	store   *blobs.Store
	dir     *blobs.BlockDir
	uploads *uploads
	closed  bool
}

// Blobs returns the repo's blob store, opening it on first use. Its limits are the defaults,
// with the largest blob the config's BlobMaxSize when it sets one.
func (r *Repo) Blobs() (*blobs.Store, error) {
	b := &r.blobs
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.store != nil {
		return b.store, nil
	}
	if b.closed {
		return nil, fmt.Errorf("blob store: %w", blobs.ErrClosed)
	}
	d, err := r.Store.Datastore(blobs.DatastorePrefix)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	dir, err := blobs.OpenBlockDir(filepath.Join(r.Path, blobsDir))
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", filepath.Join(r.Path, blobsDir), err)
	}
	lim := blobs.DefaultLimits()
	if r.Config.BlobMaxSize > 0 {
		lim.MaxSize = r.Config.BlobMaxSize
	}
	s, err := blobs.New(d, blobs.WithBlockDatastore(dir), blobs.WithLimits(lim))
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	b.store, b.dir, b.uploads = s, dir, newUploads(s)
	return s, nil
}

// blobUploads returns the repo's uploads in progress (OpBlobUpload).
func (r *Repo) blobUploads() (*uploads, error) {
	if _, err := r.Blobs(); err != nil {
		return nil, err
	}
	r.blobs.mu.Lock()
	defer r.blobs.mu.Unlock()
	return r.blobs.uploads, nil
}

// closeBlobs ends the uploads in progress and closes the blob store and its block directory.
// The store closes after them.
func (r *Repo) closeBlobs() error {
	b := &r.blobs
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.store == nil {
		return nil
	}
	b.uploads.close()
	err := errors.Join(b.store.Close(), b.dir.Close())
	b.store, b.dir, b.uploads = nil, nil, nil
	return err
}

// datomOptions are the datom database's options for the repo: its blobs, and the config's
// blob threshold.
func (r *Repo) datomOptions() ([]datom.Option, error) {
	bs, err := r.Blobs()
	if err != nil {
		return nil, err
	}
	opts := []datom.Option{datom.WithBlobs(bs)}
	if r.Config.BlobThreshold != 0 {
		opts = append(opts, datom.WithBlobThreshold(r.Config.BlobThreshold))
	}
	return opts, nil
}

// nodeBlobs is a node's blob exchange and the references its services keep.
type nodeBlobs struct {
	store *blobs.Store
	svc   *blobsync.Service

	mu    sync.Mutex
	roots map[string]func(context.Context) blobs.Live // AddBlobRoots
}

func newNodeBlobs(n *Node, store *blobs.Store) (*nodeBlobs, error) {
	log := slog.New(shortLivedHandler{n.o.log.Handler(), n})
	svc, err := blobsync.New(n.host, store, blobsync.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("blob exchange: %w", err)
	}
	return &nodeBlobs{store: store, svc: svc, roots: map[string]func(context.Context) blobs.Live{}}, nil
}

// shortLivedHandler logs the blob exchange's warnings (a provider sent a bad block) as
// information while the node is not started: a node that runs for one command (a fetch without
// a daemon) says what went wrong in that command's error, in one line.
type shortLivedHandler struct {
	slog.Handler
	n *Node
}

func (h shortLivedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelWarn && !h.n.isStarted() {
		l = slog.LevelInfo
	}
	return h.Handler.Enabled(ctx, l)
}

func (h shortLivedHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && !h.n.isStarted() {
		r.Level = slog.LevelInfo
	}
	return h.Handler.Handle(ctx, r)
}

func (h shortLivedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return shortLivedHandler{h.Handler.WithAttrs(as), h.n}
}

func (h shortLivedHandler) WithGroup(g string) slog.Handler {
	return shortLivedHandler{h.Handler.WithGroup(g), h.n}
}

// Blobs returns the node's blob store: the repo's (Repo.Blobs).
func (n *Node) Blobs() *blobs.Store { return n.blobs.store }

// BlobExchange returns the node's blob exchange (bitswap and the fast path on its host).
func (n *Node) BlobExchange() *blobsync.Service { return n.blobs.svc }

// AddBlobRoots registers, under name, the blobs that a service running on the node refers to,
// so that a GC keeps them; live is called at the start of every GC while the node runs. A name
// registered again replaces the earlier one; a nil live removes it. References that the repo
// itself records (datoms, and records kept on cores) belong in blobRootSets instead, which a GC
// without a daemon consults too.
func (n *Node) AddBlobRoots(name string, live func(ctx context.Context) blobs.Live) {
	n.blobs.mu.Lock()
	defer n.blobs.mu.Unlock()
	if live == nil {
		delete(n.blobs.roots, name)
		return
	}
	n.blobs.roots[name] = live
}

// nodeBlobRoots returns the live sets registered with AddBlobRoots, by name.
func (n *Node) nodeBlobRoots() []blobRootSet {
	n.blobs.mu.Lock()
	defer n.blobs.mu.Unlock()
	var out []blobRootSet
	for name, live := range n.blobs.roots {
		out = append(out, blobRootSet{name: name, live: func(ctx context.Context, _ *Local) (blobs.Live, error) { return live(ctx), nil }})
	}
	slices.SortFunc(out, func(a, b blobRootSet) int { return cmp.Compare(a.name, b.name) })
	return out
}

// blobRootSet is one feature's references to blobs, which a GC keeps.
type blobRootSet struct {
	name string
	live func(ctx context.Context, l *Local) (blobs.Live, error)
}

// blobRootSets lists, feature by feature, the references to blobs that the repo records: a GC
// keeps the blobs they name, with a daemon and without. A feature whose records refer to blobs
// (DOIP objects, DWN records) adds its set here.
func blobRootSets() []blobRootSet {
	return []blobRootSet{
		{name: "datoms", live: func(ctx context.Context, l *Local) (blobs.Live, error) {
			db, err := l.DB(ctx)
			if err != nil {
				return nil, err
			}
			return db.BlobRoots(ctx), nil
		}},
		{name: "dwn records", live: dwnBlobRoots}, // dwn.go
	}
}

// Blobs returns the repo's blob store, opening the repo on first use, with a daemon or without.
func (l *Local) Blobs(ctx context.Context) (*blobs.Store, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	return r.Blobs()
}

// blobLive is the live set of a GC: every feature's references (blobRootSets) and, on a running
// node, those its services registered (AddBlobRoots).
func (l *Local) blobLive(ctx context.Context) (blobs.Live, error) {
	sets := blobRootSets()
	if n := l.Node(); n != nil {
		sets = append(sets, n.nodeBlobRoots()...)
	}
	lives := make([]blobs.Live, 0, len(sets))
	names := make([]string, 0, len(sets))
	for _, s := range sets {
		live, err := s.live(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("blobs that %s refer to: %w", s.name, err)
		}
		lives, names = append(lives, live), append(names, s.name)
	}
	return func(yield func(cid.Cid, error) bool) {
		for i, live := range lives {
			for c, err := range live {
				if err != nil {
					err = fmt.Errorf("blobs that %s refer to: %w", names[i], err)
				}
				if !yield(c, err) || err != nil {
					return
				}
			}
		}
	}, nil
}

// BlobFetchOptions configures FetchBlob.
type BlobFetchOptions struct {
	// Peers are asked besides the DHT's providers of the blob (a --peer address, the peers a
	// datom core came from).
	Peers []peer.AddrInfo
	// FindTimeout bounds the DHT lookup (default 30 s).
	FindTimeout time.Duration
	// OnProgress is called after every block received.
	OnProgress func(blobsync.Progress)
	// Pin pins the blob once it is complete.
	Pin bool
	// Lease, when set, holds the blocks from GC after FetchBlob returns, until the caller
	// releases it.
	Lease *blobs.Lease
	// Private fetches from Peers only, with no DHT lookup that would name the CID to the DHT's
	// peers, and records the blob unlisted (blobs.Unlisted), so that it is never announced: for
	// data only those told its CID may learn of, such as a DWN record's.
	Private bool
}

// FetchBlob gets the blob root into the repo from its providers, all at once: Peers, and the
// peers that announced it in the DHT. Every block is verified as it arrives; blocks held already
// are not fetched again, so a fetch that was interrupted resumes. It fails with
// ErrNoBlobProviders when no provider has it.
func (n *Node) FetchBlob(ctx context.Context, root cid.Cid, o BlobFetchOptions) (blobs.Ref, error) {
	timeout := o.FindTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var found atomic.Int64 // providers the DHT gave
	find := func(ctx context.Context, root cid.Cid) <-chan peer.AddrInfo {
		fctx, cancel := context.WithTimeout(ctx, timeout) // ctx ends with the fetch
		in := n.disc.FindBlobProviders(fctx, root, 16)
		out := make(chan peer.AddrInfo)
		go func() { // ends with the lookup, which fctx bounds
			defer cancel()
			defer close(out)
			for p := range in {
				found.Add(1)
				select {
				case out <- p:
				case <-ctx.Done():
					return
				}
			}
		}()
		return out
	}
	var opts []blobsync.FetchOption
	if o.Private {
		opts = append(opts, blobsync.WithUnlisted())
	} else {
		opts = append(opts, blobsync.WithFindProviders(find))
	}
	if len(o.Peers) > 0 {
		opts = append(opts, blobsync.WithPeers(o.Peers...))
	}
	if o.OnProgress != nil {
		opts = append(opts, blobsync.WithProgress(o.OnProgress))
	}
	if o.Pin {
		opts = append(opts, blobsync.WithPin())
	}
	if o.Lease != nil {
		opts = append(opts, blobsync.WithLease(o.Lease))
	}
	ref, err := n.blobs.svc.Fetch(ctx, root, opts...)
	switch {
	case errors.Is(err, blobsync.ErrNoProviders) && len(o.Peers) == 0 && found.Load() == 0:
		return ref, fmt.Errorf("blob %s: %w", root, ErrNoBlobProviders)
	case errors.Is(err, blobsync.ErrNoProviders):
		return ref, noBlobProviders{err}
	}
	return ref, err
}

// noBlobProviders is blobsync's error when no provider is left, which says why the last one
// went; it matches ErrNoBlobProviders.
type noBlobProviders struct{ err error }

func (e noBlobProviders) Error() string        { return e.err.Error() }
func (e noBlobProviders) Unwrap() error        { return e.err }
func (e noBlobProviders) Is(target error) bool { return target == ErrNoBlobProviders }

// blobNode returns the running node or, without one, starts a node on the repo for the Local's
// lifetime, connected to the bootstrap peers, for a fetch.
func (l *Local) blobNode(ctx context.Context, bootstrap []string, timeout time.Duration) (*Node, error) {
	if n := l.Node(); n != nil {
		return n, nil
	}
	opts := []NodeOption{WithListen("/ip4/127.0.0.1/tcp/0")}
	if len(bootstrap) > 0 {
		opts = append(opts, WithBootstrapAddrs(bootstrap...))
	}
	n, err := l.StartNode(ctx, opts...)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, max(timeout, 5*time.Second))
	defer cancel()
	if err := n.disc.Bootstrap(bctx); err != nil {
		return nil, err
	}
	return n, nil
}
