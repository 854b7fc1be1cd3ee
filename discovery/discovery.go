// Package discovery finds the peers that hold a core through go-libp2p-kad-dht. Cores are
// announced and looked up by their discovery key only, so the DHT never learns a core key.
//
// A Discovery is one DHT node on a libp2p host (New). Bootstrap connects it to its bootstrap
// peers and to the peers its routing table held last time (WithDatastore keeps them across
// restarts); Announce tells the DHT that this peer holds a core, FindProviders streams the peers
// that announced one, and Run re-announces until its context ends. AnnounceBlob and
// FindBlobProviders do the same for blobs, keyed by their root CID as Kubo keys them, so that
// datomspace peers and Kubo nodes find each other's blobs. StartMDNS adds LAN discovery, off
// unless asked for.
//
// The provider key of a core is CIDv1(raw, sha2-256(discoveryKey)) (ProviderKey). The "private"
// network preset, the default, runs the DHT under the protocol prefix /datomspace with bootstrap
// peers from the config or flags, and dials nothing it was not told about. The "amino" preset
// joins the public IPFS DHT and is used only when asked for.
package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multihash"
)

// Network is a DHT preset.
type Network string

// The presets.
const (
	// Private is datomspace's own DHT: protocol prefix /datomspace, bootstrap peers from config.
	Private Network = "private"
	// Amino is the public IPFS DHT. Only when asked for.
	Amino Network = "amino"
)

// ParseNetwork parses a preset name.
func ParseNetwork(s string) (Network, error) {
	switch Network(s) {
	case "", Private:
		return Private, nil
	case Amino:
		return Amino, nil
	}
	return "", fmt.Errorf("unknown network %q: use private or amino", s)
}

// ProtocolPrefix is the DHT protocol prefix of the private network.
const ProtocolPrefix = "/datomspace"

// ProviderKey returns the DHT key a core is announced under: CIDv1(raw, sha2-256(discoveryKey)).
func ProviderKey(discoveryKey corestore.Key) cid.Cid {
	sum := sha256.Sum256(discoveryKey[:])
	mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	return cid.NewCidV1(cid.Raw, mh)
}

type options struct {
	network    Network
	bootstrap  []peer.AddrInfo
	datastore  ds.Batching
	mode       dht.ModeOpt
	reannounce time.Duration
	log        *slog.Logger
}

// ErrInvalidOption: an option given a value it cannot take (New returns it).
var ErrInvalidOption = errors.New("invalid discovery option")

// Option configures New. Options validate their values when applied.
type Option func(*options) error

// WithNetwork selects the preset (default Private).
func WithNetwork(n Network) Option {
	return func(o *options) error {
		if n != Private && n != Amino {
			return fmt.Errorf("%w: unknown network %v", ErrInvalidOption, n)
		}
		o.network = n
		return nil
	}
}

// WithBootstrap sets the bootstrap peers; each must have a peer ID and an address.
func WithBootstrap(peers ...peer.AddrInfo) Option {
	return func(o *options) error {
		for _, p := range peers {
			if p.ID == "" || len(p.Addrs) == 0 {
				return fmt.Errorf("%w: a bootstrap peer needs a peer ID and an address (%v)", ErrInvalidOption, p)
			}
		}
		o.bootstrap = append(o.bootstrap, peers...)
		return nil
	}
}

// WithDatastore keeps the DHT's records and the routing table's peers in d, so they survive
// restarts.
func WithDatastore(d ds.Batching) Option {
	return func(o *options) error {
		if d == nil {
			return fmt.Errorf("%w: nil datastore", ErrInvalidOption)
		}
		o.datastore = d
		return nil
	}
}

// WithClientMode runs the DHT as a client only, for peers behind NAT.
func WithClientMode() Option { return func(o *options) error { o.mode = dht.ModeClient; return nil } }

// WithReannounce sets how often announced cores are announced again (default 1h; positive).
func WithReannounce(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: reannounce interval %v", ErrInvalidOption, d)
		}
		o.reannounce = d
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		o.log = l
		return nil
	}
}

// Discovery announces cores and finds their providers.
type Discovery struct {
	h   host.Host
	dht *dht.IpfsDHT
	o   options

	mu        sync.Mutex
	announced map[corestore.Key]time.Time // discovery key -> last successful announce
	blobs     map[cid.Cid]time.Time       // blob root (CIDv1) -> last successful announce
}

// savedPeersPrefix is where the routing table's peers are kept in the datastore.
var savedPeersPrefix = ds.NewKey("/datomspace/routing-peers")

// New starts a DHT node on h. Given bootstrap peers (WithBootstrap, or the amino preset's),
// kad-dht connects to them on its own at once, and again whenever its routing table runs low;
// given none, it dials nothing until it is told of a peer (Bootstrap's saved peers, a lookup).
func New(ctx context.Context, h host.Host, opts ...Option) (*Discovery, error) {
	o := options{network: Private, mode: dht.ModeServer, reannounce: time.Hour, log: slog.Default()}
	for _, f := range opts {
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	dopts := []dht.Option{dht.Mode(o.mode)}
	switch o.network {
	case Private:
		dopts = append(dopts, dht.ProtocolPrefix(protocol.ID(ProtocolPrefix)))
	case Amino:
		if len(o.bootstrap) == 0 {
			o.bootstrap = dht.GetDefaultBootstrapPeerAddrInfos()
		}
	default:
		return nil, fmt.Errorf("unknown network %q", o.network)
	}
	if len(o.bootstrap) > 0 {
		dopts = append(dopts, dht.BootstrapPeers(o.bootstrap...))
	}
	if o.datastore != nil {
		dopts = append(dopts, dht.Datastore(o.datastore))
	}
	d, err := dht.New(h, dopts...)
	if err != nil {
		return nil, fmt.Errorf("start DHT: %w", err)
	}
	return &Discovery{h: h, dht: d, o: o, announced: map[corestore.Key]time.Time{}}, nil
}

// DHT returns the underlying kad-dht node.
func (d *Discovery) DHT() *dht.IpfsDHT { return d.dht }

// ErrNoBootstrap is returned by Bootstrap when peers were configured but none answered.
var ErrNoBootstrap = errors.New("no bootstrap peer could be reached")

// Bootstrap connects to the bootstrap peers and to the peers the routing table held last time,
// then fills the routing table. With no peers configured or saved it does nothing.
func (d *Discovery) Bootstrap(ctx context.Context) error {
	peers := append([]peer.AddrInfo(nil), d.o.bootstrap...)
	saved := d.savedPeers(ctx)
	peers = append(peers, saved...)
	if len(peers) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	ok := 0
	for _, p := range peers {
		if p.ID == d.h.ID() {
			continue
		}
		wg.Add(1)
		go func(p peer.AddrInfo) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			err := d.h.Connect(cctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
				return
			}
			ok++
		}(p)
	}
	wg.Wait()
	if ok == 0 && len(d.o.bootstrap) > 0 {
		return fmt.Errorf("%w (check that the bootstrap address is right and its peer is running): %w", ErrNoBootstrap, errors.Join(errs...))
	}
	// Connected peers join the routing table once identify confirms they speak the DHT protocol.
	for wait := time.Now().Add(5 * time.Second); d.dht.RoutingTable().Size() == 0 && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case err := <-d.dht.RefreshRoutingTable():
		if err != nil {
			d.o.log.Debug("routing table refresh", "err", err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Announce tells the DHT that this peer provides the core with discovery key dk, and keeps
// announcing it every reannounce interval while Run runs.
func (d *Discovery) Announce(ctx context.Context, dk corestore.Key) error {
	d.mu.Lock()
	if _, ok := d.announced[dk]; !ok {
		d.announced[dk] = time.Time{}
	}
	d.mu.Unlock()
	return d.provide(ctx, dk)
}

func (d *Discovery) provide(ctx context.Context, dk corestore.Key) error {
	if err := d.dht.Provide(ctx, ProviderKey(dk), true); err != nil {
		return fmt.Errorf("announce %s: %w", dk, err)
	}
	d.mu.Lock()
	if _, ok := d.announced[dk]; ok {
		d.announced[dk] = time.Now()
	}
	d.mu.Unlock()
	return nil
}

// Unannounce stops announcing dk. The DHT has no removal: records expire on their own.
func (d *Discovery) Unannounce(dk corestore.Key) {
	d.mu.Lock()
	delete(d.announced, dk)
	d.mu.Unlock()
}

// Announced returns every announced discovery key with the time of its last successful announce
// (zero when none has succeeded yet).
func (d *Discovery) Announced() map[corestore.Key]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[corestore.Key]time.Time, len(d.announced))
	for k, v := range d.announced {
		out[k] = v
	}
	return out
}

// FindProviders streams up to max peers, other than this one, that announced dk.
func (d *Discovery) FindProviders(ctx context.Context, dk corestore.Key, max int) <-chan peer.AddrInfo {
	return d.findProviders(ctx, ProviderKey(dk), max)
}

// findProviders streams up to max peers, other than this one, that provide key.
func (d *Discovery) findProviders(ctx context.Context, key cid.Cid, max int) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo)
	go func() {
		defer close(out)
		for p := range d.dht.FindProvidersAsync(ctx, key, max+1) {
			if p.ID == d.h.ID() {
				continue
			}
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// retryInterval is how soon an announce that reached no DHT peer is tried again.
const retryInterval = 30 * time.Second

// Run re-announces every announced core on the reannounce interval, retries announces that have
// not reached any DHT peer yet every 30 s, and saves the routing table's peers, until ctx ends.
func (d *Discovery) Run(ctx context.Context) {
	t := time.NewTicker(min(d.o.reannounce, retryInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for dk, last := range d.Announced() {
			if !last.IsZero() && time.Since(last) < d.o.reannounce {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := d.provide(actx, dk); err != nil {
				d.o.log.Debug("announce not yet spread; will retry", "core", dk.String(), "err", err)
			}
			cancel()
		}
		d.reannounceBlobs(ctx)
		d.savePeers(ctx)
	}
}

// IsLonely reports whether err means the DHT had no peer to announce to: the record is kept
// locally (peers that ask this node find it) and Run retries.
func IsLonely(err error) bool { return errors.Is(err, kb.ErrLookupFailure) }

// Close saves the routing table's peers and stops the DHT.
func (d *Discovery) Close() error {
	d.savePeers(context.Background())
	return d.dht.Close()
}

func (d *Discovery) savePeers(ctx context.Context) {
	if d.o.datastore == nil {
		return
	}
	b, err := d.o.datastore.Batch(ctx)
	if err != nil {
		return
	}
	for _, id := range d.dht.RoutingTable().ListPeers() {
		ai := d.h.Peerstore().PeerInfo(id)
		if len(ai.Addrs) == 0 {
			continue
		}
		v, err := json.Marshal(ai)
		if err != nil {
			continue
		}
		b.Put(ctx, savedPeersPrefix.ChildString(id.String()), v)
	}
	if err := b.Commit(ctx); err != nil {
		d.o.log.Debug("save routing table peers", "err", err)
	}
}

func (d *Discovery) savedPeers(ctx context.Context) []peer.AddrInfo {
	if d.o.datastore == nil {
		return nil
	}
	res, err := d.o.datastore.Query(ctx, dsq.Query{Prefix: savedPeersPrefix.String()})
	if err != nil {
		return nil
	}
	defer res.Close()
	var out []peer.AddrInfo
	for e := range res.Next() {
		var ai peer.AddrInfo
		if e.Error != nil || json.Unmarshal(e.Value, &ai) != nil {
			continue
		}
		out = append(out, ai)
	}
	return out
}
