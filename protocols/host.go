package protocols

import (
	"context"
	"fmt"
	"maps"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// HostOption configures NewHost.
type HostOption func(*hostConfig)

type hostConfig struct {
	listen   []string
	identity crypto.PrivKey
	streams  int
	extra    []libp2p.Option
}

// WithLibp2pOptions adds libp2p options to the host's own, for example a persistent peerstore or
// a connection gater.
func WithLibp2pOptions(opts ...libp2p.Option) HostOption {
	return func(c *hostConfig) { c.extra = append(c.extra, opts...) }
}

// WithListenAddrs sets the multiaddrs the host listens on (default /ip4/127.0.0.1/tcp/0 only).
func WithListenAddrs(addrs ...string) HostOption {
	return func(c *hostConfig) { c.listen = addrs }
}

// WithIdentity sets the host's private key (default: a fresh Ed25519 key).
func WithIdentity(k crypto.PrivKey) HostOption { return func(c *hostConfig) { c.identity = k } }

// WithSyncStreamsPerPeer bounds the /datomspace/sync streams one peer may have open with this
// host, that is the number of cores replicated with it at once (default 1024).
func WithSyncStreamsPerPeer(n int) HostOption { return func(c *hostConfig) { c.streams = n } }

// NewHost returns a libp2p host for replication: TCP with Noise and yamux only, listening only on
// the given addresses (loopback by default), with no relays, no NAT port mapping, no mDNS, no
// bootstrap peers and no address discovery, and with libp2p's resource manager limiting
// connections, streams and memory (scaled to the machine, with a per-peer and per-protocol limit
// on sync streams).
func NewHost(ctx context.Context, opts ...HostOption) (host.Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := hostConfig{listen: []string{"/ip4/127.0.0.1/tcp/0"}, streams: 1024}
	for _, o := range opts {
		o(&c)
	}
	limits := rcmgr.DefaultLimits
	limits.ProtocolLimits = maps.Clone(limits.ProtocolLimits)
	limits.ProtocolPeerLimits = maps.Clone(limits.ProtocolPeerLimits)
	limits.AddProtocolLimit(protocol.ID(ProtocolID),
		rcmgr.BaseLimit{Streams: 4 * c.streams, StreamsInbound: 2 * c.streams, StreamsOutbound: 2 * c.streams, Memory: 256 << 20},
		rcmgr.BaseLimitIncrease{Streams: c.streams, StreamsInbound: c.streams, StreamsOutbound: c.streams, Memory: 64 << 20})
	limits.AddProtocolPeerLimit(protocol.ID(ProtocolID),
		rcmgr.BaseLimit{Streams: c.streams, StreamsInbound: c.streams, StreamsOutbound: c.streams, Memory: 128 << 20},
		rcmgr.BaseLimitIncrease{})
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	lopts := []libp2p.Option{
		libp2p.ListenAddrStrings(c.listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
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
		rm.Close()
		return nil, fmt.Errorf("libp2p host on %v: %w", c.listen, err)
	}
	return h, nil
}
