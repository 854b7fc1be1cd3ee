package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/libp2p/go-libp2p/core/network"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// A node's DWN service (package dwn, on cores with dwn/dwncore) runs when WithDWN turns it on:
// dwn-server's JSON-RPC over HTTP and WebSocket on the address DWNOptions.HTTP names, and the
// same JSON-RPC on libp2p streams of DWNProtocol, always. Every message the node accepts for a
// tenant is journaled in the node's own core for the tenant (dwncore.CoreName), and record data
// is a blob of the repo (Repo.Blobs) whose CID is the dataCid.
//
// The tenants a node holds are the repo config's DWN tenants (serve --dwn-tenant adds to them):
// it accepts messages for those only, announces each tenant's discovery key
// (dwncore.DiscoveryKey) from announce.go, and syncs with the tenant's other nodes (dwn_sync.go).
// A node that holds no tenant is open, as dwn-server is: it accepts messages for every tenant,
// and syncs none. A tenant's nodes sync only with the nodes the tenant authorized, and only once
// the tenant authorized them (dwn_auth.go); the replication protocol serves a tenant's cores to
// those nodes only (access.go).

// DWNProtocol is the libp2p protocol of the DWN: dwn-server's JSON-RPC on a framed stream
// (jsonrpc.ServeStream), plus datomspace.tenantCore, which a tenant's nodes ask each other.
const DWNProtocol = "/datomspace/dwn/1.0.0"

// Errors of the DWN service.
var (
	// ErrDWNAddrInUse: the DWN HTTP address cannot be listened on. It matches ErrAddrInUse.
	ErrDWNAddrInUse = fmt.Errorf("DWN %w", ErrAddrInUse)
	// ErrBadDID: a tenant or target that is not a DID.
	ErrBadDID = errors.New("not a DID")
	// ErrDWNRPC: the DWN answered with a JSON-RPC error instead of a reply.
	ErrDWNRPC = errors.New("DWN JSON-RPC error")
	// ErrDWNKey: a DWN key file that cannot be read or written.
	ErrDWNKey = errors.New("bad DWN key file")
)

// DWNConfig is the DWN part of the repo's config.
type DWNConfig struct {
	// Tenants are the DIDs the node holds (see DWNOptions.Tenants).
	Tenants []string `json:"tenants,omitempty"`
	// Authorizations are the node's authorizations of tenants it holds (dwn.NodeAuthorization),
	// by tenant: what it presents to the tenant's other nodes (dwn_auth.go).
	Authorizations map[string]json.RawMessage `json:"authorizations,omitempty"`
}

// DWNOptions says how a node serves its DWN (see WithDWN).
type DWNOptions struct {
	// HTTP is where dwn-server's JSON-RPC and WebSocket listen ("127.0.0.1:3000"; port 0 picks
	// one); "" serves the DWN on the libp2p protocol only.
	HTTP string
	// Tenants are DIDs to hold besides the config's; they are saved in the config.
	Tenants []string
}

// WithDWN runs the node's DWN service (see DWNOptions).
func WithDWN(o DWNOptions) NodeOption { return func(no *nodeOptions) { no.dwn = &o } }

// DWNInfo describes a node's DWN.
type DWNInfo struct {
	// DID is the node's own did:key (its libp2p Ed25519 identity), which can sign messages and
	// be a tenant.
	DID string `json:"did"`
	// Running says that the node's DWN service runs (in a daemon).
	Running bool `json:"running"`
	// HTTP is the JSON-RPC URL, http://HOST:PORT, when the node serves one.
	HTTP string `json:"http,omitempty"`
	// Protocol is the libp2p protocol.
	Protocol string `json:"protocol"`
	// Open says that the node holds no tenant and accepts messages for any.
	Open bool `json:"open"`
	// Tenants are the tenants the node holds or has a core for.
	Tenants []DWNTenant `json:"tenants"`
}

// DWNTenant is one tenant of a node.
type DWNTenant struct {
	DID string `json:"did"`
	// Held says that the repo's config holds the tenant.
	Held bool `json:"held"`
	// Core is the key of this node's core for the tenant, Length its length ("" and 0 before
	// the first message).
	Core   string `json:"core,omitempty"`
	Length uint64 `json:"length"`
	// Authorized says that the node holds the tenant's authorization of it, valid now, so that
	// the tenant's other nodes sync with it; AuthorizedUntil is when it expires ("": never).
	Authorized      bool   `json:"authorized"`
	AuthorizedUntil string `json:"authorizedUntil,omitempty"`
	// Synced says that the running node syncs the tenant with its other nodes.
	Synced bool `json:"synced"`
	// Nodes are the tenant's other nodes this node syncs with.
	Nodes []DWNPeerCore `json:"nodes,omitempty"`
}

// DWNPeerCore is another node of a tenant and its core for the tenant, as replicated here.
type DWNPeerCore struct {
	Peer string `json:"peer"`
	Core string `json:"core"`
	// Length is how much of the core this node holds.
	Length uint64 `json:"length"`
}

// CheckDID reports whether s can be a DWN tenant: a DID (did:METHOD:ID) of at most 2048 bytes
// without spaces or control characters.
func CheckDID(s string) error {
	rest, ok := strings.CutPrefix(s, "did:")
	method, id, ok2 := strings.Cut(rest, ":")
	bad := !ok || !ok2 || method == "" || id == "" || len(s) > 2048 ||
		strings.ContainsFunc(method, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) ||
		strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII })
	if bad {
		return fmt.Errorf("%w: %q (a DID is did:METHOD:ID)", ErrBadDID, s)
	}
	return nil
}

// tenantGate is the node's dwn.TenantGate: the tenants it holds, or every tenant when it holds
// none. It changes while the node runs (OpDWNTenant).
type tenantGate struct {
	mu  sync.RWMutex
	set map[string]bool
}

func newTenantGate(dids []string) *tenantGate {
	g := &tenantGate{set: map[string]bool{}}
	for _, d := range dids {
		g.set[d] = true
	}
	return g
}

// IsActiveTenant implements dwn.TenantGate.
func (g *tenantGate) IsActiveTenant(_ context.Context, did string) (bool, string, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.set) == 0 || g.set[did], "", nil
}

// holds reports whether the node holds did (an open node holds none).
func (g *tenantGate) holds(did string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.set[did]
}

func (g *tenantGate) open() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.set) == 0
}

func (g *tenantGate) list() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(g.set))
	for d := range g.set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func (g *tenantGate) setTenant(did string, held bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if held {
		g.set[did] = true
	} else {
		delete(g.set, did)
	}
}

// addConfigTenants adds dids to the repo's config of held tenants and saves it when that
// changed.
func addConfigTenants(r *Repo, dids ...string) error {
	changed := false
	for _, d := range dids {
		if err := CheckDID(d); err != nil {
			return err
		}
		if !slices.Contains(r.Config.DWN.Tenants, d) {
			r.Config.DWN.Tenants = append(r.Config.DWN.Tenants, d)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return r.SaveConfig()
}

// removeConfigTenant drops did from the config's held tenants; it reports whether it was there.
func removeConfigTenant(r *Repo, did string) (bool, error) {
	i := slices.Index(r.Config.DWN.Tenants, did)
	if i < 0 {
		return false, nil
	}
	r.Config.DWN.Tenants = slices.Delete(r.Config.DWN.Tenants, i, i+1)
	return true, r.SaveConfig()
}

// openDWNStore opens the DWN state of a repo: the message store on its cores, record data in its
// blobs, the tenants gate, and fetch for large data of ingested writes (nil: none).
func openDWNStore(ctx context.Context, r *Repo, gate *tenantGate, l *Local, fetch dwncore.DataFetcher) (*dwncore.Store, error) {
	bs, err := r.Blobs()
	if err != nil {
		return nil, err
	}
	opts := []dwncore.Option{dwncore.WithBlobs(bs), dwncore.WithNodeOptions(dwn.WithTenantGate(gate), dwn.WithLogger(l.log)),
		dwncore.WithLogger(l.log)}
	if fetch != nil {
		opts = append(opts, dwncore.WithDataFetcher(fetch))
	}
	s, err := dwncore.Open(ctx, r.Store, opts...)
	if err != nil {
		return nil, fmt.Errorf("DWN store: %w", err)
	}
	return s, nil
}

// dwnBlobRoots lists the blobs the repo's DWN records refer to (their data), for a GC: the
// references dwncore keeps beside the blob store, read without opening the DWN.
func dwnBlobRoots(ctx context.Context, l *Local) (blobs.Live, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	bs, err := r.Blobs()
	if err != nil {
		return nil, err
	}
	refs, err := r.Store.Datastore(dwncore.DatastorePrefix)
	if err != nil {
		return nil, err
	}
	return dwncore.NewBlobDataStore(bs, refs).Live(ctx), nil
}

// dwnNode is a node's running DWN service.
type dwnNode struct {
	n     *Node
	did   string
	gate  *tenantGate
	store *dwncore.Store
	srv   *jsonrpc.Server
	ln    net.Listener // the HTTP listener, when there is one
	hs    *http.Server

	wg sync.WaitGroup // stream handlers, the HTTP server, tenant syncs

	mu      sync.Mutex
	closed  bool
	streams map[network.Stream]struct{}
	tenants map[string]*tenantSync // the tenants synced (dwn_sync.go)
	changed chan struct{}          // closed when the set of synced tenants changes
	probed  map[lpeer.ID]time.Time // when each peer was last asked for its tenant cores
	probes  chan lpeer.ID          // peers to ask (dwn_sync.go)
}

// startDWN starts the node's DWN service: its store, the HTTP listener, the stream handler and
// the sync of the tenants it holds.
func (n *Node) startDWN(ctx context.Context) (err error) {
	o := *n.o.dwn
	if err := addConfigTenants(n.Repo, o.Tenants...); err != nil {
		return err
	}
	key, err := nodeKey(n.Repo.Path)
	if err != nil {
		return err
	}
	d := &dwnNode{n: n, did: dwn.NewSigner(key).DID, gate: newTenantGate(n.Repo.Config.DWN.Tenants),
		streams: map[network.Stream]struct{}{}, tenants: map[string]*tenantSync{}, changed: make(chan struct{}),
		probed: map[lpeer.ID]time.Time{}, probes: make(chan lpeer.ID, 64)}
	if o.HTTP != "" {
		if d.ln, err = net.Listen("tcp", o.HTTP); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrDWNAddrInUse, o.HTTP, err)
		}
	}
	defer func() {
		if err != nil && d.ln != nil {
			d.ln.Close()
		}
	}()
	if d.store, err = openDWNStore(ctx, n.Repo, d.gate, daemonLocal(n), d.fetchData); err != nil {
		return err
	}
	if d.srv, err = jsonrpc.New(d.store.Node(), jsonrpc.WithTenantCores(d.tenantCore), jsonrpc.WithLogger(n.o.log)); err != nil {
		d.store.Close()
		return err
	}
	n.mu.Lock()
	n.dwn = d
	close(n.dwnUp)
	n.mu.Unlock()
	n.host.SetStreamHandler(DWNProtocol, d.handleStream)
	if d.ln != nil {
		d.hs = &http.Server{Handler: d.srv, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
		d.wg.Go(func() { d.hs.Serve(d.ln) })
	}
	d.reconcile(n.ctx)       // the tenants' cores exist, and their syncs run, once Start returns
	if !n.goroutine(d.run) { // until the node closes, then closes the service
		d.close() // the node closed meanwhile
	}
	return nil
}

// run answers the peers that hint they may hold a tenant (probeLoop) until ctx ends, then
// closes the service. The tenants held are synced from startDWN on, and OpDWNTenant
// reconciles them again when they change.
func (d *dwnNode) run(ctx context.Context) {
	d.wg.Go(func() { d.probeLoop(ctx) })
	d.wg.Go(func() { d.reauthorizeLoop(ctx) })
	<-ctx.Done()
	d.close()
}

// close stops the service: no new streams, the open ones reset, the HTTP server and the
// sessions closed, every goroutine waited for, then the store closed.
func (d *dwnNode) close() {
	d.mu.Lock()
	d.closed = true
	streams := make([]network.Stream, 0, len(d.streams))
	for s := range d.streams {
		streams = append(streams, s)
	}
	for _, ts := range d.tenants {
		ts.cancel()
	}
	d.mu.Unlock()
	d.n.host.RemoveStreamHandler(DWNProtocol)
	for _, s := range streams {
		s.Reset()
	}
	if d.hs != nil {
		d.hs.Close()
	}
	d.srv.Close()
	d.wg.Wait()
	d.store.Close()
}

// handleStream serves dwn-server's JSON-RPC on a stream, and notes its peer as one that may hold
// tenants this node syncs.
func (d *dwnNode) handleStream(s network.Stream) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.Reset()
		return
	}
	d.streams[s] = struct{}{}
	d.wg.Add(1)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.streams, s)
		d.mu.Unlock()
		d.wg.Done()
	}()
	d.hint(s.Conn().RemotePeer())
	if err := d.srv.ServeStream(withDWNPeer(d.n.ctx, s.Conn().RemotePeer()), s); err != nil {
		d.n.o.log.Debug("dwn: stream ended", "peer", s.Conn().RemotePeer(), "err", err)
		s.Reset()
		return
	}
	s.Close()
}

// info describes the running service.
func (d *dwnNode) info(ctx context.Context) DWNInfo {
	in := DWNInfo{DID: d.did, Running: true, Protocol: DWNProtocol, Open: d.gate.open()}
	if d.ln != nil {
		in.HTTP = "http://" + d.ln.Addr().String()
	}
	in.Tenants = describeTenants(ctx, d.n.Repo, d.store.Tenants())
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range in.Tenants {
		t := &in.Tenants[i]
		ts, ok := d.tenants[t.DID]
		if !ok {
			continue
		}
		t.Synced = true
		for p, k := range ts.peerCores() {
			pc := DWNPeerCore{Peer: p.String(), Core: k.String()}
			if c, err := d.n.Repo.Store.Get(ctx, k); err == nil {
				pc.Length = c.Contiguous()
			}
			t.Nodes = append(t.Nodes, pc)
		}
		slices.SortFunc(t.Nodes, func(a, b DWNPeerCore) int { return strings.Compare(a.Peer, b.Peer) })
	}
	return in
}

// describeTenants lists the tenants the repo's config holds and those with a core in others, with
// this node's core for each.
func describeTenants(ctx context.Context, r *Repo, others []string) []DWNTenant {
	seen := map[string]bool{}
	var out []DWNTenant
	add := func(did string, held bool) {
		if seen[did] {
			return
		}
		seen[did] = true
		t := DWNTenant{DID: did, Held: held}
		if raw, a := r.dwnAuthorization(did); raw != nil {
			t.Authorized = true
			if !a.Expires.IsZero() {
				t.AuthorizedUntil = a.Expires.UTC().Format(time.RFC3339)
			}
		}
		if c, err := r.Store.Get(ctx, r.Store.KeyForName(dwncore.CoreName(did))); err == nil {
			t.Core, t.Length = c.Key().String(), c.Length()
		}
		out = append(out, t)
	}
	for _, d := range r.Config.DWN.Tenants {
		add(d, true)
	}
	for _, d := range others {
		add(d, false)
	}
	slices.SortFunc(out, func(a, b DWNTenant) int { return strings.Compare(a.DID, b.DID) })
	return out
}

// repoTenants lists the tenants a repo has a core for, from the names of its writable cores.
func repoTenants(ctx context.Context, r *Repo) ([]string, error) {
	keys, err := r.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		c, err := r.Store.Get(ctx, k)
		if err != nil {
			continue
		}
		if t, ok := strings.CutPrefix(c.Name(), dwncore.CoreNamePrefix); ok && c.Writable() {
			out = append(out, t)
		}
	}
	return out, nil
}

// DWN describes the node's DWN service, or returns false when it runs none.
func (n *Node) DWN(ctx context.Context) (DWNInfo, bool) {
	d := n.dwnService()
	if d == nil {
		return DWNInfo{}, false
	}
	return d.info(ctx), true
}

// DWNStore returns the node's DWN store, or nil when it runs no DWN service.
func (n *Node) DWNStore() *dwncore.Store {
	if d := n.dwnService(); d != nil {
		return d.store
	}
	return nil
}

func (n *Node) dwnService() *dwnNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dwn
}

// pipe returns a stream client of the node's own DWN server, served in a goroutine of the
// service until the client's connection closes.
func (d *dwnNode) pipe() (*jsonrpc.StreamClient, func(), error) {
	a, b := net.Pipe()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		a.Close()
		b.Close()
		return nil, nil, fmt.Errorf("DWN: %w", corestore.ErrClosed)
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() { // tracked by d.wg; ends when b closes or the service does
		defer d.wg.Done()
		defer a.Close()
		ctx, cancel := context.WithCancel(d.n.ctx)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { a.Close() })
		defer stop()
		d.srv.ServeStream(ctx, a)
	}()
	return jsonrpc.NewStreamClient(b), func() { b.Close() }, nil
}
