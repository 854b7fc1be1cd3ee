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

	mu        sync.Mutex
	serving   bool
	serveCtx  context.Context
	following map[corestore.Key]bool
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
			return nil, fmt.Errorf("%q needs a /p2p/PEER-ID part, as `datomspace serve` prints it: %w", s, err)
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

// NewNode assembles a node on an open repo. It listens but dials nothing until Start or Fetch.
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
		return nil, fmt.Errorf("--peer: %w", err)
	}
	id, err := LoadIdentity(repo.Path)
	if err != nil {
		return nil, err
	}
	psds, err := repo.Store.Datastore(dsPrefixPeerstore)
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
	h, err := protocols.NewHost(ctx, protocols.WithListenAddrs(listen...), protocols.WithIdentity(id),
		protocols.WithLibp2pOptions(extra...))
	if err != nil {
		ps.Close()
		return nil, err
	}
	dhtds, err := repo.Store.Datastore(dsPrefixDHT)
	if err != nil {
		h.Close()
		return nil, err
	}
	d, err := discovery.New(ctx, h, discovery.WithNetwork(o.network), discovery.WithBootstrap(boot...),
		discovery.WithDatastore(dhtds), discovery.WithLogger(o.log), discovery.WithReannounce(o.announce))
	if err != nil {
		h.Close()
		return nil, err
	}
	db, err := datom.Open(ctx, repo.Store, datom.WithLogger(o.log))
	if err != nil {
		d.Close()
		h.Close()
		return nil, fmt.Errorf("datom indexes: %w", err)
	}
	n := &Node{Repo: repo, DB: db, host: h, disc: d, o: o, direct: direct}
	n.repl = protocols.NewReplicator(h, repo.Store, protocols.WithLogger(o.log),
		protocols.WithConflictHandler(func(core corestore.Key, p peer.ID, err error) {
			o.log.Error("core frozen: its owner signed two different trees", "core", core.String(), "peer", p, "err", err)
		}))
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

// Start connects to the bootstrap and direct peers, turns on mDNS if asked, announces every core
// the repo holds data for, and keeps re-announcing them until ctx ends.
func (n *Node) Start(ctx context.Context) error {
	if err := n.disc.Bootstrap(ctx); err != nil {
		return err
	}
	for _, p := range n.direct {
		if err := n.host.Connect(ctx, p); err != nil {
			return fmt.Errorf("connect to --peer %s: %w (is that peer running?)", p.ID, err)
		}
	}
	if n.o.mdns {
		stop, err := discovery.StartMDNS(ctx, n.host, n.o.log)
		if err != nil {
			return fmt.Errorf("mdns: %w", err)
		}
		n.stopMDNS = stop
	}
	n.mu.Lock()
	n.serving, n.serveCtx = true, ctx
	n.mu.Unlock()
	keys, err := n.Repo.Store.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		c, err := n.Repo.Store.Get(ctx, k)
		if err != nil {
			return err
		}
		if c.Length() > 0 || c.Writable() {
			n.announce(ctx, c)
		}
		if !c.Writable() {
			n.Follow(ctx, c.Key()) // keep the replicas we serve up to date
		}
	}
	go n.disc.Run(ctx)
	go n.DB.Follow(ctx) // index every core as blocks arrive, including cores created later
	return nil
}

// Announce announces core on the DHT if the node is serving.
func (n *Node) announce(ctx context.Context, c *corestore.Core) {
	n.mu.Lock()
	serving := n.serving
	n.mu.Unlock()
	if !serving {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.disc.Announce(actx, c.DiscoveryKey()); err != nil {
		if discovery.IsLonely(err) {
			n.o.log.Debug("no DHT peers yet: the core is announced to peers that ask this node, and spread when peers join", "core", c.Key().String())
			return
		}
		n.o.log.Warn("announce failed; will retry", "core", c.Key().String(), "err", err)
	}
}

// Create creates (or opens) a named writable core and announces it.
func (n *Node) Create(ctx context.Context, name string) (*corestore.Core, error) {
	c, err := n.Repo.Store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	n.announce(ctx, c)
	return c, nil
}

// FetchOptions says what Fetch downloads.
type FetchOptions struct {
	// Start and End select blocks [Start, End); End 0 means up to the newest length.
	Start, End uint64
	// Live keeps following the core after the first download, until ctx ends.
	Live bool
	// FindTimeout bounds the search for peers that hold the core (default 30 s).
	FindTimeout time.Duration
	// OnProgress, if set, is called with progress while downloading.
	OnProgress func(Progress)
	// OnBlocks, if set, is called with each new contiguous run of blocks, in order.
	OnBlocks func(start uint64, blocks [][]byte) error
}

// Progress describes a running download.
type Progress struct {
	Blocks, Length uint64
	Bytes          uint64
	Peers          int
	Elapsed        time.Duration
}

// ErrNoProviders is returned by Fetch when no peer holding the core answered in time.
var ErrNoProviders = errors.New("no peer that holds the core was found")

// Fetch finds peers that hold the core with key (direct peers first, then the DHT), replicates
// from several at once, verifies everything, and delivers blocks [Start, End). The replica stays
// in the repo, and is announced when the node is serving.
func (n *Node) Fetch(ctx context.Context, key corestore.Key, fo FetchOptions) (*corestore.Core, error) {
	c, err := n.Repo.Store.Replica(ctx, key)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	stopProgress := n.progressLoop(ctx, c, fo, t0)
	defer stopProgress()
	if !c.Writable() { // our own core has nothing to download
		ft := fo.FindTimeout
		if ft <= 0 {
			ft = 30 * time.Second
		}
		fctx, cancel := context.WithTimeout(ctx, ft)
		err := n.findAndReplicate(fctx, c, true)
		cancel()
		if err != nil {
			if ctx.Err() == nil && fctx.Err() != nil {
				return nil, fmt.Errorf("core %s: %w within %s (check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR)", key, ErrNoProviders, ft)
			}
			return nil, err
		}
	}
	if !c.Writable() {
		if err := n.repl.Download(ctx, c, fo.Start, fo.End); err != nil {
			return nil, err
		}
	}
	if c.Length() > 0 {
		n.announce(ctx, c)
	}
	n.mu.Lock()
	serving, sctx := n.serving, n.serveCtx
	n.mu.Unlock()
	if serving {
		n.Follow(sctx, key) // a daemon keeps what it downloaded up to date, and serves it
	}
	end := fo.End
	if end == 0 {
		end = c.Length()
	}
	next := fo.Start
	if fo.OnBlocks != nil {
		if err := n.deliver(ctx, c, &next, end, fo.OnBlocks); err != nil {
			return c, err
		}
	}
	if !fo.Live {
		return c, nil
	}
	if !serving {
		go n.follow(ctx, c)
	}
	cancelWant := n.repl.Want(c, next, 0)
	defer cancelWant()
	for {
		upd := c.Updated()
		if fo.OnBlocks != nil {
			if err := n.deliver(ctx, c, &next, c.Length(), fo.OnBlocks); err != nil {
				return c, err
			}
		}
		select {
		case <-ctx.Done():
			return c, nil
		case <-upd:
		}
	}
}

// deliver passes the contiguous stored blocks [*next, end) to fn and advances *next.
func (n *Node) deliver(ctx context.Context, c *corestore.Core, next *uint64, end uint64, fn func(uint64, [][]byte) error) error {
	for *next < end {
		hi := min(*next+1024, end)
		if m, ok := c.FirstMissing(*next); ok && m < hi {
			hi = m
		}
		if hi == *next {
			return nil // wait for the missing block
		}
		bs, err := c.GetRange(ctx, *next, hi)
		if err != nil {
			return err
		}
		if err := fn(*next, bs); err != nil {
			return err
		}
		*next = hi
	}
	return nil
}

// findAndReplicate opens sessions with the direct peers and with providers found through the DHT.
// When wait is set it returns ErrNoProviders unless a session opened before ctx ends, and waits
// briefly for the first tree to arrive.
func (n *Node) findAndReplicate(ctx context.Context, c *corestore.Core, wait bool) error {
	var mu sync.Mutex
	sessions := 0
	var errs []error
	var wg sync.WaitGroup
	connected := make(chan struct{}, 1)
	tried := map[peer.ID]bool{}
	try := func(ai peer.AddrInfo) {
		defer wg.Done()
		mu.Lock()
		dup := tried[ai.ID]
		tried[ai.ID] = true
		mu.Unlock()
		if ai.ID == n.host.ID() || dup {
			return // one session attempt per peer: concurrent ones would race each other
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if len(ai.Addrs) > 0 {
			if err := n.host.Connect(cctx, ai); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", ai.ID, err))
				mu.Unlock()
				return
			}
		}
		if err := n.repl.Replicate(cctx, c, ai.ID); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", ai.ID, err))
			delete(tried, ai.ID) // a later provider record of the same peer may try again
			mu.Unlock()
			return
		}
		mu.Lock()
		sessions++
		mu.Unlock()
		select {
		case connected <- struct{}{}:
		default:
		}
	}
	for _, p := range n.direct {
		wg.Add(1)
		go try(p)
	}
	for _, p := range n.host.Network().Peers() { // peers we are already connected to
		wg.Add(1)
		go try(peer.AddrInfo{ID: p})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range n.disc.FindProviders(ctx, c.DiscoveryKey(), 20) {
			wg.Add(1)
			go try(p)
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !wait {
		<-done
		return nil
	}
	for {
		select {
		case <-connected:
			// Give the first peer's tree a moment to arrive, then let the download begin.
			deadline := time.After(2 * time.Second)
			for c.Length() == 0 {
				select {
				case <-c.Updated():
				case <-deadline:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		case <-done:
			mu.Lock()
			ok, e := sessions, errors.Join(errs...)
			mu.Unlock()
			if ok > 0 {
				continue
			}
			if ctx.Err() != nil || e == nil {
				return fmt.Errorf("core %s: %w (check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR)", c.Key(), ErrNoProviders)
			}
			return fmt.Errorf("core %s: %w: %w", c.Key(), ErrNoProviders, e)
		case <-ctx.Done():
			return fmt.Errorf("core %s: %w within the timeout (check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR)", c.Key(), ErrNoProviders)
		}
	}
}

// Follow replicates the core with key in the background and keeps it up to date until ctx ends:
// every block, including those appended later. It is what a replica service runs.
func (n *Node) Follow(ctx context.Context, key corestore.Key) error {
	c, err := n.Repo.Store.Replica(ctx, key)
	if err != nil {
		return err
	}
	n.mu.Lock()
	already := n.following[key]
	if n.following == nil {
		n.following = map[corestore.Key]bool{}
	}
	n.following[key] = true
	n.mu.Unlock()
	if c.Writable() || already {
		return nil
	}
	go func() {
		cancel := n.repl.Want(c, 0, 0)
		defer cancel()
		announced := false
		for {
			if !announced && c.Length() > 0 {
				n.announce(ctx, c)
				announced = true
			}
			select {
			case <-ctx.Done():
				return
			case <-c.Updated():
			case <-time.After(time.Second):
			}
		}
	}()
	go n.follow(ctx, c)
	return nil
}

// follow keeps looking for providers of a replica: every 3 s while it has no session, and every
// 10 s otherwise, so that a restarted owner or a new replica with newer blocks is picked up even
// when the sessions it has are with peers that are behind.
func (n *Node) follow(ctx context.Context, c *corestore.Core) {
	cancel := n.repl.Want(c, c.Contiguous(), 0)
	defer cancel()
	var last time.Time
	for {
		if len(n.repl.Peers(c)) == 0 || time.Since(last) >= 10*time.Second {
			fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
			n.findAndReplicate(fctx, c, false)
			fcancel()
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

func (n *Node) progressLoop(ctx context.Context, c *corestore.Core, fo FetchOptions, t0 time.Time) func() {
	if fo.OnProgress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			in := c.Info()
			fo.OnProgress(Progress{Blocks: c.Contiguous(), Length: in.Length, Bytes: n.repl.Stats().BytesIn,
				Peers: len(n.repl.Peers(c)), Elapsed: time.Since(t0)})
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { once.Do(func() { close(stop) }) }
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

// Close stops replication, the DHT, the host and the datom database's background work, then
// closes the repo.
func (n *Node) Close() error {
	if n.stopMDNS != nil {
		n.stopMDNS()
	}
	errs := []error{n.repl.Close(), n.disc.Close(), n.host.Close(), n.DB.Close()}
	errs = append(errs, n.Repo.Close())
	return errors.Join(errs...)
}
