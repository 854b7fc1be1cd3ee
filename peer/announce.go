package peer

import (
	"context"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/discovery"
	"github.com/ipfs/go-cid"
)

// announceLoop is the one place that announces cores and blobs. It announces every core the
// node serves (every writable core, and every replica that holds data) once Start runs, and then
// each core as it appears or first gains data, however that happened: `create`, `transact`, a
// fetch, a followed replica's first blocks. It announces every blob the node holds complete
// (blobs.Store.Roots) likewise, as an add or a fetch records it, and stops announcing those a GC
// removed. The stores say when (corestore.Store.Changed, blobs.Store.Changed), so nothing polls.
// Discovery re-announces what was announced on its own timer.
func (n *Node) announceLoop(ctx context.Context) {
	announced := map[corestore.Key]bool{}
	blobsAnnounced := map[cid.Cid]bool{}
	for {
		changed := n.Repo.Store.Changed()
		blobsChanged := n.blobs.store.Changed()
		n.announceBlobs(ctx, blobsAnnounced)
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
		case <-blobsChanged:
		}
	}
}

// announceBlobs announces the blobs the node holds that announced does not list yet, and stops
// announcing the listed ones it no longer holds.
func (n *Node) announceBlobs(ctx context.Context, announced map[cid.Cid]bool) {
	roots, err := n.blobs.store.Roots(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.o.log.Warn("list blobs to announce", "err", err)
		}
		return
	}
	held := make(map[cid.Cid]bool, len(roots))
	for _, r := range roots {
		held[r.CID] = true
		if announced[r.CID] || ctx.Err() != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.disc.AnnounceBlob(actx, r.CID)
		cancel()
		switch {
		case err == nil, ctx.Err() != nil:
		case discovery.IsLonely(err):
			n.o.log.Debug("no DHT peers yet: the blob is announced when peers join", "blob", r.CID.String())
		default:
			n.o.log.Warn("blob announce failed; will retry", "blob", r.CID.String(), "err", err)
		}
		announced[r.CID] = true // discovery keeps it and retries a failed announce on its own
	}
	for c := range announced {
		if !held[c] {
			n.disc.UnannounceBlob(c)
			delete(announced, c)
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
