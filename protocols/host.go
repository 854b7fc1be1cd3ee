package protocols

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
)

// HostOption configures NewHost. Options validate their values when applied; NewHost returns
// an error wrapping ErrInvalidOption for a bad one.
type HostOption func(*hostConfig) error

// ErrInvalidOption: an option given a value it cannot take.
var ErrInvalidOption = errors.New("invalid option")

type hostConfig struct {
	listen          []string
	identity        crypto.PrivKey
	streams         int
	connLow, connHi int
	grace           time.Duration
	extra           []libp2p.Option
}

// Defaults of the connection manager NewHost installs.
const (
	DefaultConnLow   = 128
	DefaultConnHigh  = 192
	DefaultConnGrace = 10 * time.Second
)

// WithLibp2pOptions adds libp2p options to the host's own, for example a persistent peerstore or
// a connection gater.
func WithLibp2pOptions(opts ...libp2p.Option) HostOption {
	return func(c *hostConfig) error { c.extra = append(c.extra, opts...); return nil }
}

// WithListenAddrs sets the multiaddrs the host listens on (default /ip4/127.0.0.1/tcp/0 only); each
// must parse.
func WithListenAddrs(addrs ...string) HostOption {
	return func(c *hostConfig) error {
		for _, a := range addrs {
			if _, err := multiaddr.NewMultiaddr(a); err != nil {
				return fmt.Errorf("%w: listen address %q: %w", ErrInvalidOption, a, err)
			}
		}
		c.listen = addrs
		return nil
	}
}

// WithIdentity sets the host's private key (default: a fresh Ed25519 key).
func WithIdentity(k crypto.PrivKey) HostOption {
	return func(c *hostConfig) error {
		if k == nil {
			return fmt.Errorf("%w: nil identity", ErrInvalidOption)
		}
		c.identity = k
		return nil
	}
}

// WithSyncStreamsPerPeer bounds the /datomspace/sync streams one peer may have open with this
// host, that is the number of cores replicated with it at once (default 1024; at least 1).
func WithSyncStreamsPerPeer(n int) HostOption {
	return func(c *hostConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: %d sync streams per peer", ErrInvalidOption, n)
		}
		c.streams = n
		return nil
	}
}

// WithConnManager sets the connection manager's watermarks and grace period (defaults
// DefaultConnLow 128, DefaultConnHigh 192, DefaultConnGrace 10 s). When more than high peers are
// connected, it closes connections down to low, among the peers first seen more than grace ago,
// those that matter least first (lowest connection-manager value, then idle before busy, inbound
// before outbound); it checks every grace/5, at least every second. Peers with an open sync
// session, which have proved they know a core key, are protected by the Replicator and never
// trimmed. The resource manager admits at least 2*high inbound connections, so that new peers can
// connect while trimming catches up. (libp2p takes one connection manager: do not pass another
// with WithLibp2pOptions.) It needs 1 <= low <= high and a grace of at least a second.
func WithConnManager(low, high int, grace time.Duration) HostOption {
	return func(c *hostConfig) error {
		if low < 1 || high < low || grace < time.Second {
			return fmt.Errorf("%w: connection manager low %d, high %d, grace %v", ErrInvalidOption, low, high, grace)
		}
		c.connLow, c.connHi, c.grace = low, high, grace
		return nil
	}
}

// NewHost returns a libp2p host for replication: TCP with Noise and yamux only, listening only on
// the given addresses (loopback by default), with no relays, no NAT port mapping, no mDNS, no
// bootstrap peers and no address discovery, with libp2p's resource manager limiting
// connections, streams and memory (scaled to the machine, with a per-peer and per-protocol limit
// on sync streams), and with a connection manager that trims idle and unproved connections (see
// WithConnManager).
func NewHost(ctx context.Context, opts ...HostOption) (host.Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := hostConfig{listen: []string{"/ip4/127.0.0.1/tcp/0"}, streams: 1024,
		connLow: DefaultConnLow, connHi: DefaultConnHigh, grace: DefaultConnGrace}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(hostLimits(c)))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(c.connLow, c.connHi, connmgr.WithGracePeriod(c.grace),
		connmgr.WithSilencePeriod(max(c.grace/5, time.Second)))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	lopts := []libp2p.Option{
		libp2p.ListenAddrStrings(c.listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.Ping(false),
	}
	if c.identity != nil {
		lopts = append(lopts, libp2p.Identity(c.identity))
	}
	lopts = append(lopts, c.extra...)
	h, err := libp2p.New(lopts...)
	if err != nil {
		cm.Close()
		rm.Close()
		return nil, fmt.Errorf("libp2p host on %v: %w", c.listen, err)
	}
	return h, nil
}

// hostLimits returns the resource manager's limits: libp2p's defaults scaled to the machine,
// with room for c.streams sync streams per peer (and four times that in all), and at least
// 2*c.connHi inbound connections. The Replicator bounds the sync streams that have not finished
// the capability handshake (WithHandshakeLimits) far below these, so that the rest of the sync
// protocol's streams are always there for peers that have proved a capability.
func hostLimits(c hostConfig) rcmgr.ConcreteLimitConfig {
	limits := rcmgr.DefaultLimits
	limits.ProtocolLimits = maps.Clone(limits.ProtocolLimits)
	limits.ProtocolPeerLimits = maps.Clone(limits.ProtocolPeerLimits)
	limits.AddProtocolLimit(protocol.ID(ProtocolID),
		rcmgr.BaseLimit{Streams: 4 * c.streams, StreamsInbound: 2 * c.streams, StreamsOutbound: 2 * c.streams, Memory: 256 << 20},
		rcmgr.BaseLimitIncrease{Streams: c.streams, StreamsInbound: c.streams, StreamsOutbound: c.streams, Memory: 64 << 20})
	limits.AddProtocolPeerLimit(protocol.ID(ProtocolID),
		rcmgr.BaseLimit{Streams: c.streams, StreamsInbound: c.streams, StreamsOutbound: c.streams, Memory: 128 << 20},
		rcmgr.BaseLimitIncrease{})
	concrete := limits.AutoScale()
	scaled := concrete.ToPartialLimitConfig()
	// A peer's streams of all protocols must admit its sync streams and a few more.
	peerStreams := rcmgr.LimitVal(c.streams + 256)
	pd := &scaled.PeerDefault
	pd.Streams, pd.StreamsInbound, pd.StreamsOutbound = maxLimit(pd.Streams, 2*peerStreams), maxLimit(pd.StreamsInbound, peerStreams), maxLimit(pd.StreamsOutbound, peerStreams)
	sys := &scaled.System
	in := rcmgr.LimitVal(2 * c.connHi)
	sys.ConnsInbound = maxLimit(sys.ConnsInbound, in)
	sys.Conns = maxLimit(sys.Conns, in+sys.ConnsOutbound)
	return scaled.Build(concrete)
}

// maxLimit returns the larger of two concrete limits.
func maxLimit(a, b rcmgr.LimitVal) rcmgr.LimitVal { return max(a, b) }
