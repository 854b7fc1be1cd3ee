package peer

import (
	"context"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// fetchRoutes are the operations that download from the network, and what follows from them.
func fetchRoutes() []route { return []route{OpFetch, OpFollow, OpRemove} }

// FetchRequest says what to download.
type FetchRequest struct {
	Key   string `json:"key"`
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
	Live  bool   `json:"live"`
	// Timeout is how long to keep looking for a peer that holds the core (default 30 s).
	Timeout time.Duration `json:"timeout"`
	// Peers are dialed for this fetch, besides the DHT. Bootstrap peers are used by the node the
	// fetch starts when no daemon runs; a daemon connects to them too.
	Peers     []string `json:"peers,omitempty"`
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Blocks asks for the blocks themselves as events, not only progress.
	Blocks bool `json:"blocks,omitempty"`
	// Follow keeps a daemon following the replica afterwards, as `datomspace follow` does.
	Follow bool `json:"follow,omitempty"`
}

// FetchEvent is progress of a download, or one of its blocks.
type FetchEvent struct {
	Progress *Progress `json:"progress,omitempty"`
	Block    *Block    `json:"block,omitempty"`
}

// FetchReply says what a fetch delivered.
type FetchReply struct {
	Core CoreInfo `json:"core"`
	// Source is SourceNetwork, SourceOwn or SourceLocal (see FetchResult).
	Source string `json:"source"`
	// Start and End are the range delivered.
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
}

// OpFetch finds the core's peers, downloads and verifies blocks [Start, End) and streams them.
// Without a daemon it runs a node of its own on the repo for its duration.
var OpFetch = StreamOp[FetchRequest, FetchEvent, FetchReply]{Name: "fetch",
	Run: func(ctx context.Context, l *Local, req FetchRequest, emit func(FetchEvent) error) (FetchReply, error) {
		key, err := corestore.ParseKey(req.Key)
		if err != nil {
			return FetchReply{}, err
		}
		if req.Timeout < 0 {
			return FetchReply{}, fmt.Errorf("%w: a negative timeout", ErrBadRequest)
		}
		peers, err := ParseAddrs(req.Peers)
		if err != nil {
			return FetchReply{}, fmt.Errorf("%w: peer: %w", ErrBadRequest, err)
		}
		boot, err := ParseAddrs(req.Bootstrap)
		if err != nil {
			return FetchReply{}, fmt.Errorf("%w: bootstrap: %w", ErrBadRequest, err)
		}
		n := l.Node()
		if n == nil {
			opts := []NodeOption{WithListen("/ip4/127.0.0.1/tcp/0")}
			if len(req.Bootstrap) > 0 {
				opts = append(opts, WithBootstrapAddrs(req.Bootstrap...))
			}
			if n, err = l.StartNode(ctx, opts...); err != nil {
				return FetchReply{}, err
			}
			bctx, cancel := context.WithTimeout(ctx, max(req.Timeout, 5*time.Second))
			err := n.disc.Bootstrap(bctx)
			cancel()
			if err != nil {
				return FetchReply{}, err
			}
		} else {
			peers = append(peers, boot...) // a daemon has its own bootstrap; these are peers to try
		}
		fo := FetchOptions{Start: req.Start, End: req.End, Live: req.Live, FindTimeout: req.Timeout, Peers: peers,
			Follow: req.Follow, OnProgress: func(p Progress) { emit(FetchEvent{Progress: &p}) }}
		if req.Blocks {
			fo.OnBlocks = func(start uint64, bs [][]byte) error {
				for k, b := range bs {
					if err := emit(FetchEvent{Block: &Block{Index: start + uint64(k), Data: b}}); err != nil {
						return err
					}
				}
				return nil
			}
		}
		res, err := n.Fetch(ctx, key, fo)
		if err != nil {
			return FetchReply{}, err
		}
		if req.Follow {
			if _, err := l.setFollow(key, true); err != nil {
				return FetchReply{}, err
			}
		}
		return FetchReply{Core: l.infoOf(res.Core), Source: res.Source, Start: res.Start, End: res.End}, nil
	}}

// FollowRequest starts (or, with Stop, ends) following a replica.
type FollowRequest struct {
	Key  string `json:"key"`
	Stop bool   `json:"stop,omitempty"`
}

// FollowReply lists the replicas followed afterwards.
type FollowReply struct {
	Following []string `json:"following"`
}

// OpFollow records in the repo's config that a running node keeps the replica with Key up to
// date (or, with Stop, no longer), and tells the running node at once.
var OpFollow = Op[FollowRequest, FollowReply]{Name: "follow", Run: func(ctx context.Context, l *Local, req FollowRequest) (FollowReply, error) {
	key, err := corestore.ParseKey(req.Key)
	if err != nil {
		return FollowReply{}, err
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return FollowReply{}, err
	}
	if c, err := r.Store.Get(ctx, key); err == nil && c.Writable() {
		return FollowReply{}, fmt.Errorf("%w: core %s is writable here: there is nothing to follow", ErrBadRequest, key)
	}
	list, err := l.setFollow(key, !req.Stop)
	if err != nil {
		return FollowReply{}, err
	}
	return FollowReply{Following: list}, nil
}}

// setFollow adds key to (or removes it from) the repo's follow list, tells a running node, and
// returns the list.
func (l *Local) setFollow(key corestore.Key, on bool) ([]string, error) {
	r, err := l.Repo(context.Background())
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ks := key.String()
	var list []string
	for _, s := range r.Config.Follow {
		if s != ks {
			list = append(list, s)
		}
	}
	if on {
		list = append(list, ks)
	}
	r.Config.Follow = list
	if err := r.SaveConfig(); err != nil {
		return nil, err
	}
	if l.node != nil && l.daemon {
		if on {
			return append([]string{}, list...), l.node.Follow(key)
		}
		l.node.Unfollow(key)
	}
	return append([]string{}, list...), nil
}

// RemoveRequest names a core to delete from the repo: a replica, or an empty writable core.
type RemoveRequest struct {
	Ref string `json:"ref"`
}

// OpRemove deletes a replica (what it holds is gone; it can be fetched again) or an empty
// writable core from the repo, and stops following it.
var OpRemove = Op[RemoveRequest, CoreInfo]{Name: "rm", Run: func(ctx context.Context, l *Local, req RemoveRequest) (CoreInfo, error) {
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return CoreInfo{}, err
	}
	in := InfoOf(c)
	if _, err := l.setFollow(c.Key(), false); err != nil {
		return CoreInfo{}, err
	}
	if c.Writable() && c.Length() > 0 {
		return CoreInfo{}, fmt.Errorf("core %s (%d blocks): %w", c.Key(), c.Length(), corestore.ErrNotDeletable)
	}
	if err := l.deleteCore(ctx, c.Key()); err != nil {
		return CoreInfo{}, err
	}
	return in, nil
}}
