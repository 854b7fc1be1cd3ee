package peer

import (
	"context"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/discovery"
)

// announceLoop is the one place that announces cores. It announces every core the node serves
// (every writable core, and every replica that holds data) once Start runs, and then each core
// as it appears or first gains data, however that happened: `create`, `transact`, a fetch, a
// followed replica's first blocks. The store says when (Store.Changed), so nothing polls.
// Discovery re-announces what was announced on its own timer.
func (n *Node) announceLoop(ctx context.Context) {
	announced := map[corestore.Key]bool{}
	for {
		changed := n.Repo.Store.Changed()
		keys, err := n.Repo.Store.Keys(ctx)
		if err != nil && ctx.Err() == nil {
			n.o.log.Warn("list cores to announce", "err", err)
		}
		for _, k := range keys {
			if announced[k] {
				continue
			}
			c, err := n.Repo.Store.Get(ctx, k)
			if err != nil {
				continue
			}
			if !c.Writable() && c.Length() == 0 {
				continue // an empty replica has nothing to serve yet
			}
			n.announce(ctx, c)
			announced[k] = true // discovery keeps it and retries a failed announce on its own
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// announce announces c on the DHT. Discovery keeps every core it was asked to announce, retries
// failed announces and re-announces on its timer.
func (n *Node) announce(ctx context.Context, c *corestore.Core) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := n.disc.Announce(actx, c.DiscoveryKey())
	switch {
	case err == nil, ctx.Err() != nil:
	case discovery.IsLonely(err):
		n.o.log.Debug("no DHT peers yet: the core is announced to peers that ask this node, and spread when peers join", "core", c.Key().String())
	default:
		n.o.log.Warn("announce failed; will retry", "core", c.Key().String(), "err", err)
	}
}
