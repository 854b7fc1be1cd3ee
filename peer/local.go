package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/libp2p/go-libp2p/core/peer"
)

// localBackend serves the CLI from the repo directly, when no daemon runs.
type localBackend struct {
	path string
	log  *slog.Logger
	repo *Repo     // opened lazily: Fetch with --ephemeral never opens it
	db   *datom.DB // opened lazily, by the first datom command
}

func (l *localBackend) datoms(ctx context.Context) (datoms, error) {
	r, err := l.open(ctx)
	if err != nil {
		return datoms{}, err
	}
	if l.db == nil {
		if l.db, err = datom.Open(ctx, r.Store, datom.WithLogger(l.log)); err != nil {
			return datoms{}, err
		}
	}
	return datoms{repo: r, db: l.db}, nil
}

func (l *localBackend) Transact(ctx context.Context, ref string, tx []byte) (TxResult, error) {
	d, err := l.datoms(ctx)
	if err != nil {
		return TxResult{}, err
	}
	return d.transact(ctx, ref, tx)
}

func (l *localBackend) Pull(ctx context.Context, ref, e string, asOf *uint64) (PullResult, error) {
	d, err := l.datoms(ctx)
	if err != nil {
		return PullResult{}, err
	}
	return d.pull(ctx, ref, e, asOf)
}

func (l *localBackend) History(ctx context.Context, ref, e, a string) ([]DatomRow, error) {
	d, err := l.datoms(ctx)
	if err != nil {
		return nil, err
	}
	return d.history(ctx, ref, e, a)
}

func (l *localBackend) Query(ctx context.Context, refs []string, q []byte) (QueryResult, error) {
	d, err := l.datoms(ctx)
	if err != nil {
		return QueryResult{}, err
	}
	return d.query(ctx, refs, q)
}

func (l *localBackend) Reindex(ctx context.Context, progress func(done, total int, core ReindexedCore)) (ReindexResult, error) {
	d, err := l.datoms(ctx)
	if err != nil {
		return ReindexResult{}, err
	}
	return reindex(ctx, d.db, progress)
}

func (l *localBackend) open(ctx context.Context) (*Repo, error) {
	if l.repo == nil {
		r, err := OpenRepo(ctx, l.path, WithRepoLogger(l.log))
		if err != nil {
			return nil, err
		}
		l.repo = r
	}
	return l.repo, nil
}

func (l *localBackend) core(ctx context.Context, ref string) (*corestore.Core, error) {
	r, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return r.Resolve(ctx, ref)
}

func (l *localBackend) ID(ctx context.Context) (IDInfo, error) {
	if _, err := os.Stat(filepath.Join(l.path, configFile)); err != nil {
		return IDInfo{}, fmt.Errorf("%w at %s (run `datomspace init`)", ErrNoRepo, l.path)
	}
	k, err := LoadIdentity(l.path)
	if err != nil {
		return IDInfo{}, err
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return IDInfo{}, err
	}
	return IDInfo{PeerID: id.String(), Addrs: []string{}}, nil
}

func (l *localBackend) Peers(ctx context.Context) ([]ConnectedPeer, error) {
	return nil, errors.New("no daemon is running, so there are no connected peers (start one with `datomspace serve`)")
}

func (l *localBackend) Cores(ctx context.Context) ([]CoreInfo, error) {
	r, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return listCores(ctx, r.Store, nil)
}

// listCores describes every core in the store, with its last announce time when announced has it.
func listCores(ctx context.Context, s *corestore.Store, announced map[corestore.Key]time.Time) ([]CoreInfo, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CoreInfo, 0, len(keys))
	for _, k := range keys {
		c, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		in := InfoOf(c)
		if t, ok := announced[k]; ok && !t.IsZero() {
			in.Announced = &t
		}
		out = append(out, in)
	}
	return out, nil
}

func (l *localBackend) Create(ctx context.Context, name string) (CoreInfo, error) {
	r, err := l.open(ctx)
	if err != nil {
		return CoreInfo{}, err
	}
	c, err := r.Store.Create(ctx, name)
	if err != nil {
		return CoreInfo{}, err
	}
	return InfoOf(c), nil
}

func (l *localBackend) Append(ctx context.Context, ref string, blocks [][]byte) (AppendResult, error) {
	c, err := l.core(ctx, ref)
	if err != nil {
		return AppendResult{}, err
	}
	return appendTo(ctx, c, blocks)
}

func appendTo(ctx context.Context, c *corestore.Core, blocks [][]byte) (AppendResult, error) {
	if !c.Writable() {
		return AppendResult{}, fmt.Errorf("core %s is a replica: only its owner can append", c.Key())
	}
	n, err := c.Append(ctx, blocks...)
	if err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Key: c.Key().String(), Length: n, Appended: uint64(len(blocks))}, nil
}

func (l *localBackend) Info(ctx context.Context, ref string) (CoreInfo, error) {
	c, err := l.core(ctx, ref)
	if err != nil {
		return CoreInfo{}, err
	}
	return InfoOf(c), nil
}

func (l *localBackend) Blocks(ctx context.Context, ref string, start, end uint64, fn func(uint64, []byte) error) error {
	c, err := l.core(ctx, ref)
	if err != nil {
		return err
	}
	return readBlocks(ctx, c, start, end, fn)
}

// readBlocks calls fn with blocks [start, end) of c; end 0 means the length.
func readBlocks(ctx context.Context, c *corestore.Core, start, end uint64, fn func(uint64, []byte) error) error {
	length := c.Length()
	if end == 0 {
		end = length
	}
	if end > length {
		return fmt.Errorf("end %d is past the core's length %d", end, length)
	}
	if start > end {
		return fmt.Errorf("start %d is after end %d", start, end)
	}
	for lo := start; lo < end; lo += 1024 {
		bs, err := c.GetRange(ctx, lo, min(lo+1024, end))
		if err != nil {
			return err
		}
		for k, b := range bs {
			if err := fn(lo+uint64(k), b); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *localBackend) Verify(ctx context.Context, ref string) (CoreInfo, error) {
	c, err := l.core(ctx, ref)
	if err != nil {
		return CoreInfo{}, err
	}
	if err := c.Verify(ctx); err != nil {
		return CoreInfo{}, err
	}
	return InfoOf(c), nil
}

// Fetch runs an ephemeral node on the repo (or on a temporary one, when l.path is empty) for the
// length of the download.
func (l *localBackend) Fetch(ctx context.Context, req FetchRequest, ev FetchEvents) (CoreInfo, error) {
	key, err := corestore.ParseKey(req.Key)
	if err != nil {
		return CoreInfo{}, err
	}
	var r *Repo
	if l.path == "" {
		dir, err := os.MkdirTemp("", "datomspace-ephemeral-")
		if err != nil {
			return CoreInfo{}, err
		}
		defer os.RemoveAll(dir)
		if r, err = InitRepo(ctx, dir, WithRepoLogger(l.log)); err != nil {
			return CoreInfo{}, err
		}
	} else if r, err = l.open(ctx); err != nil {
		return CoreInfo{}, err
	}
	if l.db != nil {
		l.db.Close() // the node opens its own
	}
	l.repo, l.db = nil, nil // the node owns the repo now and closes it
	opts := []NodeOption{WithNodeLogger(l.log), WithListen("/ip4/127.0.0.1/tcp/0")}
	if len(req.Bootstrap) > 0 {
		opts = append(opts, WithBootstrapAddrs(req.Bootstrap...))
	}
	if len(req.Peers) > 0 {
		opts = append(opts, WithDirectPeers(req.Peers...))
	}
	n, err := NewNode(ctx, r, opts...)
	if err != nil {
		r.Close()
		return CoreInfo{}, err
	}
	defer n.Close()
	return fetch(ctx, n, key, req, ev)
}

// fetch runs a download on a node; shared by the daemon and the daemon-less backend.
func fetch(ctx context.Context, n *Node, key corestore.Key, req FetchRequest, ev FetchEvents) (CoreInfo, error) {
	bctx, cancel := context.WithTimeout(ctx, max(req.Timeout, 5*time.Second))
	err := n.disc.Bootstrap(bctx)
	cancel()
	if err != nil {
		return CoreInfo{}, err
	}
	fo := FetchOptions{Start: req.Start, End: req.End, Live: req.Live, OnProgress: ev.Progress, FindTimeout: req.Timeout}
	if ev.Block != nil {
		fo.OnBlocks = func(start uint64, bs [][]byte) error {
			for k, b := range bs {
				if err := ev.Block(start+uint64(k), b); err != nil {
					return err
				}
			}
			return nil
		}
	}
	c, err := n.Fetch(ctx, key, fo)
	if err != nil {
		return CoreInfo{}, err
	}
	return InfoOf(c), nil
}

func (l *localBackend) Close() error {
	if l.db != nil {
		l.db.Close()
	}
	if l.repo != nil {
		return l.repo.Close()
	}
	return nil
}
