package peer

import (
	"context"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/ipfs/go-cid"
)

// announceLoop is the one place that announces cores and blobs. It announces every core the
// node serves (every writable core, and every replica that holds data) once Start runs, and then
// each core as it appears or first gains data, however that happened: `create`, `transact`, a
// fetch, a followed replica's first blocks. It announces every blob the node holds complete
// (blobs.Store.Roots) likewise, as an add or a fetch records it, and stops announcing those a GC
// removed. The stores say when (corestore.Store.Changed, blobs.Store.Changed), so nothing polls.
// Discovery re-announces what was announced on its own timer.
//
// It announces the DOIP prefixes the node serves (doip.go) the same way: its own and those of the
// replica repositories it serves, each by doip.PrefixDiscoveryKey, and stops announcing a prefix
// it no longer serves.
//
// It announces the DWN tenants the node syncs (dwn_sync.go) the same way, each by
// dwncore.DiscoveryKey, so that the tenant's other nodes find it.
func (n *Node) announceLoop(ctx context.Context) {
	announced := map[corestore.Key]bool{}
	prefixes := map[corestore.Key]bool{} // the discovery keys of the DOIP prefixes announced
	tenants := map[corestore.Key]bool{}  // the discovery keys of the DWN tenants announced
	blobsAnnounced := map[cid.Cid]bool{}
	for {
		changed := n.Repo.Store.Changed()
		doipChanged := n.announcePrefixes(ctx, prefixes)
		dwnChanged := n.announceTenants(ctx, tenants)
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
		case <-doipChanged:
		case <-dwnChanged:
		case <-blobsChanged:
		}
	}
}

// announceBlobs announces the blobs the node holds listed (not a DWN record's data, say) that
// announced does not list yet, and stops announcing the listed ones it no longer holds.
func (n *Node) announceBlobs(ctx context.Context, announced map[cid.Cid]bool) {
	roots, err := n.blobs.store.ListedRoots(ctx)
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

// announceTenants announces the DWN tenants the node syncs that are not in announced, and stops
// announcing those in it that it no longer syncs. It returns a channel closed when the tenants
// change (or, when the node runs no DWN, when it starts one).
func (n *Node) announceTenants(ctx context.Context, announced map[corestore.Key]bool) <-chan struct{} {
	d := n.dwnService()
	if d == nil {
		return n.dwnUp
	}
	dids, changed := d.synced()
	want := make(map[corestore.Key]string, len(dids))
	for _, did := range dids {
		want[dwncore.DiscoveryKey(did)] = did
	}
	n.announceKeys(ctx, announced, want, "dwn tenant")
	return changed
}

// announcePrefixes announces the DOIP prefixes the node serves that are not in announced, and
// stops announcing those in it that it no longer serves. It returns a channel closed when the
// prefixes change (nil when the node serves no DOIP).
func (n *Node) announcePrefixes(ctx context.Context, announced map[corestore.Key]bool) <-chan struct{} {
	d := n.doipService()
	if d == nil {
		return nil
	}
	ps, changed := d.prefixes()
	want := make(map[corestore.Key]string, len(ps))
	for _, p := range ps {
		want[doip.PrefixDiscoveryKey(p)] = p
	}
	n.announceKeys(ctx, announced, want, "doip prefix")
	return changed
}

// announceKeys announces the discovery keys of want (each with what it names, for the log) that
// announced does not list yet, and stops announcing those it lists that want no longer has.
func (n *Node) announceKeys(ctx context.Context, announced map[corestore.Key]bool, want map[corestore.Key]string, what string) {
	for dk, name := range want {
		if !announced[dk] {
			n.announceKey(ctx, dk, what, name)
			announced[dk] = true
		}
	}
	for dk := range announced {
		if _, ok := want[dk]; !ok {
			n.disc.Unannounce(dk)
			delete(announced, dk)
		}
	}
}

// announce announces c on the DHT. Discovery keeps every core it was asked to announce, retries
// failed announces and re-announces on its timer.
func (n *Node) announce(ctx context.Context, c *corestore.Core) {
	n.announceKey(ctx, c.DiscoveryKey(), "core", c.Key().String())
}

// announceKey announces a discovery key on the DHT; what and name say what it stands for in
// the log.
func (n *Node) announceKey(ctx context.Context, dk corestore.Key, what, name string) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := n.disc.Announce(actx, dk)
	switch {
	case err == nil, ctx.Err() != nil:
	case discovery.IsLonely(err):
		n.o.log.Debug("no DHT peers yet: the "+what+" is announced to peers that ask this node, and spread when peers join", what, name)
	default:
		n.o.log.Warn("announce failed; will retry", what, name, "err", err)
	}
}
