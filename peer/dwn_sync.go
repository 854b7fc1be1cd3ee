package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/ipfs/go-cid"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// Sync. A tenant's nodes find each other in the DHT under dwncore.DiscoveryKey(tenant), which
// each of them announces (announce.go). A node asks every node it finds, over DWNProtocol, for
// the key of that node's core for the tenant (datomspace.tenantCore), follows that core as a live
// replica (Node.Follow), and ingests the messages it finds there (dwncore.Store.Follow), which
// journals them in its own core for the tenant in turn. Messages are signed and judged the same
// way on every node, and conflicts resolve deterministically (newest wins, ties by CID), so the
// nodes converge, however the messages arrived and whatever the order.
//
// A node looks for the tenant's nodes again every dwnRediscover (every few seconds while it knows
// none), and asks a peer that opens a DWN stream to it for its tenant cores at once, so that a
// node that joins late is followed back without waiting for the next lookup.

// Timings of the sync.
const (
	dwnRediscover = 30 * time.Second // lookups once the tenant's other nodes are known
	dwnFirstRetry = 2 * time.Second  // the first retry of a lookup that found none
	dwnAsk        = 10 * time.Second // bounds asking one peer for its tenant cores
	dwnProbeEvery = time.Minute      // a peer that opened a stream is asked at most this often
	dwnFollowWait = 5 * time.Second  // before ingesting a replica again after a failure
)

// tenantSync is one tenant the node syncs.
type tenantSync struct {
	did    string
	own    corestore.Key
	ctx    context.Context
	cancel context.CancelFunc
	poke   chan struct{} // a lookup now
	warned bool          // that the node has no authorization of the tenant (syncTenant's own)

	mu    sync.Mutex
	peers map[lpeer.ID]corestore.Key // the tenant's other nodes and their cores
	cores map[corestore.Key]bool     // the cores followed
}

func (ts *tenantSync) peerCores() map[lpeer.ID]corestore.Key {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return maps.Clone(ts.peers)
}

func (ts *tenantSync) knows(p lpeer.ID) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.peers[p]
	return ok
}

// goroutine runs f in a goroutine that close waits for; once the service is closed it runs
// nothing and reports false.
func (d *dwnNode) goroutine(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Go(f)
	return true
}

// wanted returns the tenants the node syncs: those it holds. An open node syncs none: it would
// otherwise announce, look up and follow every DID anyone wrote a message for.
func (d *dwnNode) wanted() []string { return d.gate.list() }

// reconcile starts syncing the tenants held that are not synced yet, and stops syncing the
// others.
func (d *dwnNode) reconcile(ctx context.Context) {
	want := map[string]bool{}
	for _, t := range d.wanted() {
		want[t] = true
	}
	d.mu.Lock()
	var stopped []*tenantSync
	for did, ts := range d.tenants {
		if !want[did] {
			ts.cancel()
			delete(d.tenants, did)
			stopped = append(stopped, ts)
		}
	}
	var start []string
	for did := range want {
		if _, ok := d.tenants[did]; !ok {
			start = append(start, did)
		}
	}
	d.mu.Unlock()
	for _, ts := range stopped {
		ts.mu.Lock()
		for k := range ts.cores {
			d.n.Unfollow(k)
		}
		ts.mu.Unlock()
	}
	changed := len(stopped) > 0
	for _, did := range start {
		own, err := d.store.TenantCore(ctx, did) // created now, so the tenant's nodes can follow it
		if err != nil {
			if ctx.Err() == nil {
				d.n.o.log.Warn("dwn: cannot open the tenant's core", "tenant", did, "err", err)
			}
			continue
		}
		tctx, cancel := context.WithCancel(ctx)
		ts := &tenantSync{did: did, own: own.Key(), ctx: tctx, cancel: cancel, poke: make(chan struct{}, 1),
			peers: map[lpeer.ID]corestore.Key{}, cores: map[corestore.Key]bool{}}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			cancel()
			return
		}
		d.tenants[did] = ts
		d.wg.Go(func() { d.syncTenant(ts) })
		d.mu.Unlock()
		changed = true
	}
	if changed {
		d.mu.Lock()
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}
}

// synced returns the tenants synced and a channel closed when they change (announce.go).
func (d *dwnNode) synced() ([]string, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.tenants))
	for did := range d.tenants {
		out = append(out, did)
	}
	return out, d.changed
}

// syncTenant looks for the tenant's other nodes until the tenant's context ends.
func (d *dwnNode) syncTenant(ts *tenantSync) {
	wait := dwnFirstRetry
	for {
		d.discover(ts)
		next := dwnRediscover
		if len(ts.peerCores()) == 0 {
			next, wait = wait, min(wait*2, dwnRediscover)
		}
		select {
		case <-ts.ctx.Done():
			return
		case <-ts.poke:
		case <-time.After(next):
		}
	}
}

// discover asks the providers of the tenant's discovery key that the node does not know yet for
// their cores of the tenant.
func (d *dwnNode) discover(ts *tenantSync) {
	if own, _ := d.n.Repo.dwnAuthorization(ts.did); own == nil {
		if !ts.warned {
			ts.warned = true
			d.n.o.log.Warn("dwn: this node holds no authorization of the tenant, so it syncs the tenant's messages with none of its nodes", "tenant", ts.did)
		}
		return
	}
	ts.warned = false
	fctx, cancel := context.WithTimeout(ts.ctx, dwnAsk)
	defer cancel()
	for ai := range d.n.disc.FindProviders(fctx, dwncore.DiscoveryKey(ts.did), 32) {
		if ai.ID == d.n.ID() || ts.knows(ai.ID) {
			continue
		}
		if len(ai.Addrs) > 0 {
			d.n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		d.ask(ts.ctx, ai.ID, []*tenantSync{ts})
	}
}

// ask asks peer p, on one DWN stream, for its core of each tenant, and follows those it names.
func (d *dwnNode) ask(ctx context.Context, p lpeer.ID, tss []*tenantSync) {
	ctx, cancel := context.WithTimeout(ctx, dwnAsk)
	defer cancel()
	if err := d.n.connectPeer(ctx, p); err != nil {
		d.n.o.log.Debug("dwn: cannot reach a node of the tenant", "peer", p, "err", err)
		return
	}
	s, err := d.n.host.NewStream(ctx, p, DWNProtocol)
	if err != nil {
		d.n.o.log.Debug("dwn: the peer serves no DWN", "peer", p, "err", err)
		return
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(dwnAsk)) // a peer that never answers holds nothing up
	cl := jsonrpc.NewStreamClient(s)
	for _, ts := range tss {
		own, _ := d.n.Repo.dwnAuthorization(ts.did)
		if own == nil {
			continue // discover said so
		}
		rep, err := cl.TenantCore(ctx, ts.did, own)
		var rpcErr *jsonrpc.Error
		if errors.As(err, &rpcErr) {
			if rpcErr.Code == jsonrpc.CodeUnauthorized {
				d.n.o.log.Debug("dwn: a node of the tenant refused this node", "peer", p, "tenant", ts.did, "err", rpcErr.Message)
			}
			continue // it holds no core for this tenant, or does not sync it with this node
		}
		if err != nil {
			d.n.o.log.Debug("dwn: asking for a tenant core failed", "peer", p, "tenant", ts.did, "err", err)
			s.Reset()
			return
		}
		if err := verifyDWNNode(ctx, rep.Authorization, ts.did, p); err != nil {
			d.n.o.log.Warn("dwn: a peer named a core of the tenant but is not one of its nodes; not followed", "peer", p, "tenant", ts.did, "err", err)
			continue
		}
		var k corestore.Key
		copy(k[:], rep.Key)
		d.follow(ts, p, k)
	}
}

// follow replicates the core k of the tenant's node p live and ingests what it holds.
func (d *dwnNode) follow(ts *tenantSync, p lpeer.ID, k corestore.Key) {
	if k == ts.own {
		return // a peer naming this node's own core
	}
	ts.mu.Lock()
	ts.peers[p] = k
	if ts.cores[k] {
		ts.mu.Unlock()
		return
	}
	ts.cores[k] = true
	ts.mu.Unlock()
	if err := d.n.Follow(k); err != nil {
		d.n.o.log.Warn("dwn: cannot follow a node's tenant core", "tenant", ts.did, "peer", p, "core", k.String(), "err", err)
		return
	}
	c, err := d.n.Repo.Store.Get(ts.ctx, k)
	if err != nil || c.Writable() {
		return // a writable core is this repo's own: nothing to ingest
	}
	d.n.o.log.Debug("dwn: syncing with a node of the tenant", "tenant", ts.did, "peer", p, "core", k.String())
	d.goroutine(func() {
		for {
			err := d.store.Follow(ts.ctx, ts.did, c)
			if ts.ctx.Err() != nil {
				return
			}
			d.n.o.log.Warn("dwn: ingesting a node's tenant core failed; retrying", "tenant", ts.did, "core", k.String(), "err", err)
			select {
			case <-ts.ctx.Done():
				return
			case <-time.After(dwnFollowWait):
			}
		}
	})
}

// hint notes that peer p opened a DWN stream: it may be a node of a tenant this node syncs, one
// that joined late, and it is asked for its tenant cores (at most once per dwnProbeEvery).
func (d *dwnNode) hint(p lpeer.ID) {
	d.mu.Lock()
	last, seen := d.probed[p]
	recent := seen && time.Since(last) < dwnProbeEvery
	if !recent {
		if len(d.probed) > 4096 {
			clear(d.probed) // a bound on the memory a stream of new peer IDs takes
		}
		d.probed[p] = time.Now()
	}
	d.mu.Unlock()
	if recent {
		return
	}
	select {
	case d.probes <- p:
	default: // the queue is full: the periodic lookup finds it
	}
}

// probeLoop asks the peers hint queued for their cores of the tenants synced that they are not
// known to hold, one peer at a time, until ctx ends.
func (d *dwnNode) probeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-d.probes:
			var tss []*tenantSync
			d.mu.Lock()
			for _, ts := range d.tenants {
				if !ts.knows(p) {
					tss = append(tss, ts)
				}
			}
			d.mu.Unlock()
			if len(tss) > 0 && p != d.n.ID() {
				d.ask(ctx, p, tss)
			}
		}
	}
}

// fetchData is the store's dwncore.DataFetcher: the record data of an ingested write that this
// node does not hold, a blob fetched from the tenants' other nodes only, verified block by block,
// with no DHT lookup that would name its CID, and recorded unlisted, so that it is never
// announced. A lease keeps its blocks from a GC until the store has taken
// the data and closed the reader.
func (d *dwnNode) fetchData(ctx context.Context, dataCID string) (io.ReadCloser, error) {
	root, err := cid.Decode(dataCID)
	if err != nil {
		return nil, fmt.Errorf("record data %q: %w", dataCID, err)
	}
	var peers []lpeer.AddrInfo
	d.mu.Lock()
	for _, ts := range d.tenants {
		for p := range ts.peerCores() {
			peers = append(peers, lpeer.AddrInfo{ID: p})
		}
	}
	d.mu.Unlock()
	bs := d.n.Blobs()
	lease := bs.NewLease()
	if _, err := d.n.FetchBlob(ctx, root, BlobFetchOptions{Peers: peers, Lease: lease, Private: true}); err != nil {
		lease.Release()
		return nil, err
	}
	rd, err := bs.Open(ctx, root)
	if err != nil {
		lease.Release()
		return nil, err
	}
	return &leasedReader{Reader: rd, close: func() { rd.Close(); lease.Release() }}, nil
}

// leasedReader releases a lease when it is closed.
type leasedReader struct {
	io.Reader
	close func()
	once  sync.Once
}

func (r *leasedReader) Close() error { r.once.Do(r.close); return nil }
