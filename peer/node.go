package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/protocols"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoreds"
	ma "github.com/multiformats/go-multiaddr"
)

// Key prefixes of the peer's go-datastores inside the repo's Badger.
const (
	dsPrefixPeerstore byte = 0x91
	dsPrefixDHT       byte = 0x92
)

type nodeOptions struct {
	listen    []string
	bootstrap []string
	peers     []string
	network   discovery.Network
	mdns      bool
	gater     connmgr.ConnectionGater
	log       *slog.Logger
	announce  time.Duration
	onEvent   func(Event)  // WithEvents
	assets    assetOptions // assets.go
	doip      *DOIPOptions // WithDOIP
	dwn       *DWNOptions  // WithDWN
}

// NodeOption configures NewNode. Options override the repo's config.
type NodeOption func(*nodeOptions)

// WithListen sets the libp2p listen multiaddrs.
func WithListen(addrs ...string) NodeOption { return func(o *nodeOptions) { o.listen = addrs } }

// WithBootstrapAddrs sets the DHT bootstrap peers, as full multiaddrs with /p2p/.
func WithBootstrapAddrs(addrs ...string) NodeOption {
	return func(o *nodeOptions) { o.bootstrap = addrs }
}

// WithDirectPeers sets peers to dial directly, bypassing the DHT.
func WithDirectPeers(addrs ...string) NodeOption { return func(o *nodeOptions) { o.peers = addrs } }

// WithNetwork selects the DHT preset.
func WithNetwork(n discovery.Network) NodeOption { return func(o *nodeOptions) { o.network = n } }

// WithMDNS turns on LAN discovery.
func WithMDNS(on bool) NodeOption { return func(o *nodeOptions) { o.mdns = on } }

// WithConnectionGater installs a libp2p connection gater (tests use one to watch dials).
func WithConnectionGater(g connmgr.ConnectionGater) NodeOption {
	return func(o *nodeOptions) { o.gater = g }
}

// WithNodeLogger sets the logger.
func WithNodeLogger(l *slog.Logger) NodeOption { return func(o *nodeOptions) { o.log = l } }

// WithReannounce sets the re-announce interval.
func WithReannounce(d time.Duration) NodeOption { return func(o *nodeOptions) { o.announce = d } }

// Node is one running datomspace peer: a libp2p host, the DHT, the replicator and the repo.
//
// Its lifetime runs from NewNode to Close: every goroutine it starts (discovery's re-announce
// timer, the datom indexer, the announcer, replicas it follows) is tracked and stopped and waited
// for by Close, and nothing it starts outlives it.
type Node struct {
	Repo *Repo
	// DB is the datom database over the repo's cores; its indexes follow every core, appended
	// locally or replicated, while the node is started.
	DB   *datom.DB
	host host.Host
	disc *discovery.Discovery
	repl *protocols.Replicator
	o    nodeOptions

	direct   []peer.AddrInfo
	stopMDNS func() error

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the node starts

	cl     *clients      // who uses the node: remote peers and local clients (events.go)
	assets *assetService // grants, key release and queries (assets.go)
	blobs  *nodeBlobs    // the blob exchange and the references services keep (blobs.go)

	mu        sync.Mutex
	api       []string // TCP addresses of the node's local API
	started   bool
	closed    bool
	following map[corestore.Key]context.CancelFunc
	doip      *doipNode     // the DOIP service, when WithDOIP turned it on (doip.go)
	dwn       *dwnNode      // the DWN service, when WithDWN or OpDWNTenant turned it on (dwn.go)
	dwnUp     chan struct{} // closed when the DWN service starts
	dwnMu     sync.Mutex    // OpDWNTenant calls take turns
}

// nodeDatastores returns where the node keeps its peerstore and its DHT records: in the repo's
// store, or in memory when the store is read-only because its disk is full, so that a node can
// still start and serve what it holds.
func nodeDatastores(repo *Repo, log *slog.Logger) (peerstore, dht ds.Batching, err error) {
	if repo.Store.ReadOnly() {
		log.Warn("the disk is full: the node serves what it holds, and keeps its peerstore and DHT records in memory until it restarts with room to write")
		return dssync.MutexWrap(ds.NewMapDatastore()), dssync.MutexWrap(ds.NewMapDatastore()), nil
	}
	if peerstore, err = repo.Store.Datastore(dsPrefixPeerstore); err != nil {
		return nil, nil, err
	}
	if dht, err = repo.Store.Datastore(dsPrefixDHT); err != nil {
		return nil, nil, err
	}
	return peerstore, dht, nil
}

// ParseAddrs parses full multiaddrs (with /p2p/) into peer infos.
func ParseAddrs(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a multiaddr: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, fmt.Errorf("%q needs a /p2p/PEER-ID part, as a node prints its addresses: %w", s, err)
		}
		out = append(out, *ai)
	}
	return mergeAddrInfos(out), nil
}

// mergeAddrInfos merges the addresses of infos with the same peer ID, keeping first-seen order.
func mergeAddrInfos(in []peer.AddrInfo) []peer.AddrInfo {
	var out []peer.AddrInfo
	at := map[peer.ID]int{}
	for _, ai := range in {
		if i, ok := at[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		at[ai.ID] = len(out)
		out = append(out, ai)
	}
	return out
}

// NewNode assembles a node on an open repo; the node owns the repo from then on and closes it.
// It listens at once. Given bootstrap peers, kad-dht may connect to them before Start; given none
// (the default), the node dials nothing until Start, Fetch or Follow is told of a peer.
func NewNode(ctx context.Context, repo *Repo, opts ...NodeOption) (*Node, error) {
	o := nodeOptions{listen: repo.Config.Listen, bootstrap: repo.Config.Bootstrap, log: slog.Default(),
		announce: time.Hour}
	if n, err := discovery.ParseNetwork(repo.Config.Network); err == nil {
		o.network = n
	}
	for _, f := range opts {
		f(&o)
	}
	boot, err := ParseAddrs(o.bootstrap)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	direct, err := ParseAddrs(o.peers)
	if err != nil {
		return nil, fmt.Errorf("direct peers: %w", err)
	}
	id, err := LoadIdentity(repo.Path)
	if err != nil {
		return nil, err
	}
	psds, dhtds, err := nodeDatastores(repo, o.log)
	if err != nil {
		return nil, err
	}
	ps, err := pstoreds.NewPeerstore(ctx, psds, pstoreds.DefaultOpts())
	if err != nil {
		return nil, fmt.Errorf("peerstore: %w", err)
	}
	extra := []libp2p.Option{libp2p.Peerstore(ps)}
	if o.gater != nil {
		extra = append(extra, libp2p.ConnectionGater(o.gater))
	}
	listen := o.listen
	if len(listen) == 0 {
		listen = DefaultConfig().Listen
	}
	if err := checkListenAddrs(listen); err != nil {
		ps.Close()
		return nil, err
	}
	h, err := protocols.NewHost(ctx, protocols.WithListenAddrs(listen...), protocols.WithIdentity(id),
		protocols.WithLibp2pOptions(extra...))
	if err != nil {
		ps.Close()
		return nil, err
	}
	d, err := discovery.New(ctx, h, discovery.WithNetwork(o.network), discovery.WithBootstrap(boot...),
		discovery.WithDatastore(dhtds), discovery.WithLogger(o.log), discovery.WithReannounce(o.announce))
	if err != nil {
		h.Close()
		return nil, err
	}
	dopts, err := repo.datomOptions()
	if err != nil {
		d.Close()
		h.Close()
		return nil, err
	}
	db, err := datom.Open(ctx, repo.Store, append(dopts, datom.WithLogger(o.log))...)
	if err != nil {
		d.Close()
		h.Close()
		return nil, fmt.Errorf("datom indexes: %w", err)
	}
	n := &Node{Repo: repo, DB: db, host: h, disc: d, o: o, direct: direct, following: map[corestore.Key]context.CancelFunc{},
		dwnUp: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.cl = newClients(n)
	if n.assets, err = newAssetService(ctx, repo.Store, id, o.log, o.assets); err != nil {
		d.Close()
		h.Close()
		db.Close()
		return nil, err
	}
	if n.blobs, err = newNodeBlobs(n, db.Blobs()); err != nil {
		n.assets.close()
		db.Close()
		d.Close()
		h.Close()
		return nil, err
	}
	n.repl = protocols.NewReplicator(h, repo.Store, protocols.WithLogger(o.log), protocols.WithSessionObserver(n.cl.sessionObserved),
		protocols.WithAccess(nodeAccess{n}),
		protocols.WithConflictHandler(func(core corestore.Key, p peer.ID, err error) {
			o.log.Error("core frozen: its owner signed two different trees", "core", core.String(), "peer", p, "err", err)
		}))
	n.assets.attach(n)
	return n, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Addrs returns the node's full multiaddrs, each ready to paste as --bootstrap or --peer.
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+n.host.ID().String())
	}
	sort.Strings(out)
	return out
}

// Start connects to the bootstrap and direct peers, turns on mDNS if asked, and starts the node's
// background work: announcing every core it serves (writable cores, and replicas that hold data),
// re-announcing them, following the replicas the repo's config lists (see Follow), and indexing
// datoms. ctx
// bounds only the start itself; the background work runs until Close.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closed || n.started {
		n.mu.Unlock()
		return fmt.Errorf("start: the node is already %s", map[bool]string{true: "closed", false: "started"}[n.closed])
	}
	n.started = true
	n.mu.Unlock()
	if err := n.disc.Bootstrap(ctx); err != nil {
		return err
	}
	for _, p := range n.direct {
		if err := n.host.Connect(ctx, p); err != nil {
			return fmt.Errorf("connect to peer %s: %w", p.ID, err)
		}
	}
	if n.o.mdns {
		stop, err := discovery.StartMDNS(n.ctx, n.host, n.o.log)
		if err != nil {
			return fmt.Errorf("mdns: %w", err)
		}
		n.stopMDNS = stop
	}
	if err := n.followConfigured(); err != nil {
		return err
	}
	n.assets.start(n)
	if n.o.doip != nil {
		if err := n.startDOIP(ctx); err != nil {
			return err
		}
	}
	if n.o.dwn != nil {
		if err := n.startDWN(ctx); err != nil {
			return err
		}
	}
	n.goroutine(n.announceLoop)
	n.goroutine(n.disc.Run)
	n.goroutine(func(ctx context.Context) { n.DB.Follow(ctx) }) // index every core as blocks arrive
	return nil
}

func (n *Node) apiAddrs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.api...)
}

// goroutine runs f in a goroutine that Close cancels (through f's context) and waits for. Once
// the node is closed it runs nothing and reports false.
func (n *Node) goroutine(f func(ctx context.Context)) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Go(func() { f(n.ctx) })
	return true
}

// isStarted reports whether Start ran: the node serves and announces.
func (n *Node) isStarted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.started && !n.closed
}

// ConnectedPeer describes a connected peer.
type ConnectedPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
	Score int      `json:"score"`
}

// Peers lists the connected peers.
func (n *Node) Peers() []ConnectedPeer {
	var out []ConnectedPeer
	for _, p := range n.host.Network().Peers() {
		cp := ConnectedPeer{ID: p.String(), Score: n.repl.Score(p)}
		for _, c := range n.host.Network().ConnsToPeer(p) {
			cp.Addrs = append(cp.Addrs, c.RemoteMultiaddr().String())
		}
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Announced returns the time of the last successful announce of each announced core.
func (n *Node) Announced() map[corestore.Key]time.Time {
	out := map[corestore.Key]time.Time{}
	dks := n.disc.Announced()
	keys, _ := n.Repo.Store.Keys(context.Background())
	for _, k := range keys {
		if t, ok := dks[corestore.DiscoveryKey(k)]; ok {
			out[k] = t
		}
	}
	return out
}

// Cores describes every core the node holds, with when each was last announced.
func (n *Node) Cores(ctx context.Context) ([]CoreInfo, error) {
	return listCores(ctx, n.Repo.Store, n.Announced())
}

// Close stops everything the node started and waits for it, then closes replication, the DHT,
// the host, the datom database and the repo.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	if n.stopMDNS != nil {
		n.stopMDNS()
	}
	errs := []error{n.repl.Close(), n.assets.close()}
	n.wg.Wait()
	errs = append(errs, n.blobs.svc.Close(), n.disc.Close(), n.host.Close(), n.DB.Close(), n.Repo.Close())
	return errors.Join(errs...)
}
