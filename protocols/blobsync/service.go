package blobsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Option configures New. Options validate their values when applied.
type Option func(*options) error

type options struct {
	log        *slog.Logger
	bitswap    bool
	bsOpts     []bitswap.Option
	banFor     time.Duration
	idle       time.Duration
	blockWrite time.Duration
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		o.log = l
		return nil
	}
}

// WithBitswap turns boxo's bitswap server and client on the host on or off (default on). Off,
// only the fast path runs: Kubo can neither fetch from nor serve this node.
func WithBitswap(on bool) Option {
	return func(o *options) error { o.bitswap = on; return nil }
}

// WithBitswapOptions passes options to boxo's bitswap.
func WithBitswapOptions(opts ...bitswap.Option) Option {
	return func(o *options) error { o.bsOpts = append(o.bsOpts, opts...); return nil }
}

// WithBanDuration sets how long a peer that sent a block not matching its CID is not used or
// served by this service (default 1h).
func WithBanDuration(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: ban duration must be positive", ErrInvalidOption)
		}
		o.banFor = d
		return nil
	}
}

// ErrInvalidOption: an option was given a value it cannot take.
var ErrInvalidOption = errors.New("invalid option")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("blob exchange closed")

// Service is a node's blob exchange: it serves the store's blocks with bitswap (to Kubo and
// anyone else) and on the fast path, and fetches blobs from providers with both.
type Service struct {
	h     host.Host
	store *blobs.Store
	bs    *bitswap.Bitswap
	o     options
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	servedBlocks, servedBytes atomic.Uint64

	mu     sync.Mutex
	banned map[peer.ID]time.Time
	closed bool
}

// Stats counts what the fast path served.
type Stats struct {
	BlocksServed, BytesServed uint64
}

// Stats returns the fast path's counters.
func (s *Service) Stats() Stats {
	return Stats{BlocksServed: s.servedBlocks.Load(), BytesServed: s.servedBytes.Load()}
}

// New starts the exchange on h over store: it registers the fast-path handler and, unless
// WithBitswap(false), starts boxo's bitswap (server and client) on h. It finds no providers by
// itself: Fetch is told them.
func New(h host.Host, store *blobs.Store, opts ...Option) (*Service, error) {
	o := options{log: slog.Default(), bitswap: true, banFor: time.Hour, idle: 2 * time.Minute, blockWrite: time.Minute}
	for _, f := range opts {
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{h: h, store: store, o: o, log: o.log, ctx: ctx, cancel: cancel, banned: map[peer.ID]time.Time{}}
	if o.bitswap {
		// No content routing: providers come from Fetch's options, found through the node's DHT.
		// Peers banned for sending bad blocks are not served either.
		bsOpts := append([]bitswap.Option{bitswap.WithPeerBlockRequestFilter(func(p peer.ID, _ cid.Cid) bool {
			return !s.Banned(p)
		})}, o.bsOpts...)
		s.bs = bitswap.New(ctx, bsnet.NewFromIpfsHost(h), nil, store.Blockstore(), bsOpts...)
	}
	h.SetStreamHandler(ProtocolID, s.handle)
	return s, nil
}

// Bitswap returns the bitswap instance, or nil with WithBitswap(false).
func (s *Service) Bitswap() *bitswap.Bitswap { return s.bs }

// Close stops serving and waits for the handlers and fetches in progress, which it cancels.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.h.RemoveStreamHandler(ProtocolID)
	s.cancel()
	var err error
	if s.bs != nil {
		err = s.bs.Close()
	}
	s.wg.Wait()
	return err
}

// begin registers a goroutine or call that Close waits for.
func (s *Service) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	return nil
}

// ban stops using and serving p for the ban duration and closes its connections.
func (s *Service) ban(p peer.ID, why error) {
	s.mu.Lock()
	s.banned[p] = time.Now().Add(s.o.banFor)
	s.mu.Unlock()
	s.log.Warn("blob provider sent a bad block; disconnecting", "peer", p.String(), "err", why)
	s.h.Network().ClosePeer(p)
}

// Banned reports whether p is banned.
func (s *Service) Banned(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.banned[p]
	if ok && time.Now().After(until) {
		delete(s.banned, p)
		return false
	}
	return ok
}

// withStream resets st if ctx ends first.
func withStream(ctx context.Context, st network.Stream) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			st.Reset()
		case <-done:
		}
	}()
	return func() { close(done) }
}
