package peer

import (
	"context"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// fetchRoutes are the operations that download from the network.
func fetchRoutes() []route { return []route{OpFetch} }

// FetchRequest says what to download.
type FetchRequest struct {
	Key     string        `json:"key"`
	Start   uint64        `json:"start"`
	End     uint64        `json:"end"`
	Live    bool          `json:"live"`
	Timeout time.Duration `json:"timeout"`
	// Peers and Bootstrap are used only without a daemon, by the node the fetch starts; a
	// daemon uses its own.
	Peers     []string `json:"peers,omitempty"`
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Blocks asks for the blocks themselves as events, not only progress.
	Blocks bool `json:"blocks,omitempty"`
}

// FetchEvent is progress of a download, or one of its blocks.
type FetchEvent struct {
	Progress *Progress `json:"progress,omitempty"`
	Block    *Block    `json:"block,omitempty"`
}

// OpFetch finds the core's peers, downloads and verifies blocks [Start, End) and streams them.
// Without a daemon it runs a node of its own on the repo for its duration.
var OpFetch = StreamOp[FetchRequest, FetchEvent, CoreInfo]{Name: "fetch",
	Run: func(ctx context.Context, l *Local, req FetchRequest, emit func(FetchEvent) error) (CoreInfo, error) {
		key, err := corestore.ParseKey(req.Key)
		if err != nil {
			return CoreInfo{}, err
		}
		n := l.Node()
		if n == nil {
			opts := []NodeOption{WithListen("/ip4/127.0.0.1/tcp/0")}
			if len(req.Bootstrap) > 0 {
				opts = append(opts, WithBootstrapAddrs(req.Bootstrap...))
			}
			if len(req.Peers) > 0 {
				opts = append(opts, WithDirectPeers(req.Peers...))
			}
			if n, err = l.StartNode(ctx, opts...); err != nil {
				return CoreInfo{}, err
			}
			bctx, cancel := context.WithTimeout(ctx, max(req.Timeout, 5*time.Second))
			err := n.disc.Bootstrap(bctx)
			cancel()
			if err != nil {
				return CoreInfo{}, err
			}
		}
		fo := FetchOptions{Start: req.Start, End: req.End, Live: req.Live, FindTimeout: req.Timeout,
			OnProgress: func(p Progress) { emit(FetchEvent{Progress: &p}) }}
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
		c, err := n.Fetch(ctx, key, fo)
		if err != nil {
			return CoreInfo{}, err
		}
		return l.infoOf(c), nil
	}}
