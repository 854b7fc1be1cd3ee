package peer

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
)

// ErrNotRunning is returned by operations that need a running node (connected peers, say) when
// they run without one.
var ErrNotRunning = errors.New("the node is not running")

// Local is the peer as operations see it: its repo, its datom database and, in a daemon, its
// running node. Without a daemon the repo and the database open lazily, on first use, and an
// operation that needs the network starts a node of its own for its duration (StartNode).
//
// A Local is safe for concurrent use by the operations of a daemon.
type Local struct {
	path string // "" for an ephemeral Local: StartNode runs on a temporary repo
	log  *slog.Logger

	mu       sync.Mutex
	repo     *Repo
	db       *datom.DB
	node     *Node
	daemon   bool            // node is the daemon's: Close leaves it alone
	doipMu   sync.Mutex      // calls on the repo's DOIP repository without a running service take turns (ops_doip.go)
	assetsOf *assetService   // the asset layer on the repo when no node runs (assets.go)
	dwn      *jsonrpc.Server // the repo's DWN when no node serves one (ops_dwn.go)
	cleanup  []func()        // run by Close, last first
}

// NewLocal returns a Local on the repo at path that opens it on first use.
func NewLocal(path string, log *slog.Logger) *Local {
	if log == nil {
		log = slog.Default()
	}
	return &Local{path: path, log: log}
}

// EphemeralBackend returns a Local without a repo: an operation that needs one (a fetch) runs on
// a temporary repo, deleted when the Local closes.
func EphemeralBackend(log *slog.Logger) *Local { return NewLocal("", log) }

// daemonLocal returns the Local of a running node, for its API.
func daemonLocal(n *Node) *Local {
	return &Local{path: n.Repo.Path, log: n.o.log, repo: n.Repo, db: n.DB, node: n, daemon: true}
}

func (l *Local) backend() {}

// Daemon implements Backend: operations on a Local run in this process.
func (l *Local) Daemon() bool { return false }

// Log returns the logger.
func (l *Local) Log() *slog.Logger { return l.log }

// Path returns the repo's directory ("" for an ephemeral Local).
func (l *Local) Path() string { return l.path }

// Node returns the running node, or nil when there is none (no daemon, and no operation started
// one).
func (l *Local) Node() *Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.node
}

// Repo returns the open repo, opening it on first use.
func (l *Local) Repo(ctx context.Context) (*Repo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.openRepo(ctx)
}

func (l *Local) openRepo(ctx context.Context) (*Repo, error) {
	if l.repo != nil {
		return l.repo, nil
	}
	if l.path == "" {
		dir, err := os.MkdirTemp("", "datomspace-ephemeral-")
		if err != nil {
			return nil, err
		}
		r, err := InitRepo(ctx, dir, WithRepoLogger(l.log))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		l.cleanup = append(l.cleanup, func() { os.RemoveAll(dir) })
		l.repo = r
		return r, nil
	}
	r, err := OpenRepo(ctx, l.path, WithRepoLogger(l.log))
	if err != nil {
		return nil, err
	}
	l.repo = r
	return r, nil
}

// DB returns the datom database over the repo's cores, opening both on first use.
func (l *Local) DB(ctx context.Context) (*datom.DB, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db != nil {
		return l.db, nil
	}
	r, err := l.openRepo(ctx)
	if err != nil {
		return nil, err
	}
	dopts, err := r.datomOptions()
	if err != nil {
		return nil, err
	}
	if l.db, err = datom.Open(ctx, r.Store, append(dopts, datom.WithLogger(l.log))...); err != nil {
		return nil, err
	}
	return l.db, nil
}

// Core resolves ref (a key, or the name of a writable core) in the repo.
func (l *Local) Core(ctx context.Context, ref string) (*corestore.Core, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	return r.Resolve(ctx, ref)
}

// StartNode returns the running node, or, when there is none, starts one on the repo with opts
// for as long as the Local is open. The node takes over the repo and the datom database.
func (l *Local) StartNode(ctx context.Context, opts ...NodeOption) (*Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.node != nil {
		return l.node, nil
	}
	r, err := l.openRepo(ctx)
	if err != nil {
		return nil, err
	}
	if l.db != nil {
		l.db.Close() // the node opens its own
		l.db = nil
	}
	n, err := NewNode(ctx, r, append([]NodeOption{WithNodeLogger(l.log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	l.node, l.db = n, n.DB
	return n, nil
}

// Close closes what the Local opened: a node it started, the datom database and the repo. The
// daemon's own Local closes nothing; the daemon does.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.daemon {
		return nil
	}
	var err error
	switch {
	case l.node != nil:
		err = l.node.Close() // closes the database and the repo too
	default:
		if l.db != nil {
			err = l.db.Close()
		}
		if l.repo != nil {
			err = errors.Join(err, l.repo.Close())
		}
	}
	l.node, l.db, l.repo = nil, nil, nil
	for i := len(l.cleanup) - 1; i >= 0; i-- {
		l.cleanup[i]()
	}
	l.cleanup = nil
	return err
}
