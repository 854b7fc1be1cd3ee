package protocols

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
)

// Score changes for misbehaviour, and the score at which a peer is refused.
const (
	scoreBadProof  = -100
	scoreProtocol  = -50
	scoreStalled   = -20
	scoreBadCap    = -10
	scoreGood      = 1
	scoreMax       = 100
	defaultBanAt   = -100
	maxOpenMessage = 1024
	// maxScores bounds the peers whose score is remembered; past it an arbitrary one is forgotten,
	// so that a crowd of identities cannot grow the map without end.
	maxScores = 1 << 16
	// protectTag is the connection manager tag under which peers with a session are protected.
	protectTag = "datomspace/sync"
)

// Defaults of the handshake limits.
const (
	DefaultHandshakesPerPeer = 8
	DefaultHandshakesTotal   = 128
	DefaultOpenTimeout       = 3 * time.Second
	DefaultLogInterval       = time.Minute
)

// Option configures a Replicator.
type Option func(*config)

type config struct {
	log               *slog.Logger
	lim               Limits
	handshakeTimeout  time.Duration
	openTimeout       time.Duration
	handshakesPerPeer int
	handshakesTotal   int
	logEvery          time.Duration
	banAt             int
	serveParallel     int
	onConflict        func(core corestore.Key, p peer.ID, err error)
	onSession         func(core corestore.Key, p peer.ID, opened bool) // see WithSessionObserver
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithLimits sets the session limits (default DefaultLimits()).
func WithLimits(l Limits) Option { return func(c *config) { c.lim = l } }

// WithHandshakeTimeout bounds the capability handshake of a stream this node opens, that is how
// long it waits for the peer's answer (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.handshakeTimeout = d
		}
	}
}

// WithOpenTimeout bounds the capability handshake of a stream a peer opens: the peer must send
// its Open, and this node answer it, within d of the stream's arrival, or the stream is reset
// and the peer's score drops (default DefaultOpenTimeout, 3 s). An honest peer sends its Open at
// once.
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.openTimeout = d
		}
	}
}

// WithHandshakeLimits bounds the sync streams peers have opened that have not finished the
// capability handshake: perPeer for any one peer (default DefaultHandshakesPerPeer, 8), and
// total for all the peers without an open session together (default DefaultHandshakesTotal,
// 128). Peers with an open session, which have proved they know a core key, draw on a reserve
// of another total places, so that peers that know nothing can never use up the capacity of
// those that do. When a pool is full, a newcomer's stream takes the place of the oldest one of
// the peer holding the most places in it, if that peer holds more than the newcomer; otherwise,
// and over its own limit, a peer's stream is reset on arrival. Replicate, for its part, runs at
// most perPeer handshakes with one peer at once, so that nodes with the same setting never
// refuse each other's streams.
func WithHandshakeLimits(perPeer, total int) Option {
	return func(c *config) {
		c.handshakesPerPeer, c.handshakesTotal = max(perPeer, 1), max(total, 1)
	}
}

// WithLogInterval sets how often at most a warning about one peer's failed handshakes (a bad
// capability, no Open in time) is logged (default DefaultLogInterval, one minute); each line
// gives the count of failures it stands for.
func WithLogInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.logEvery = d
		}
	}
}

// WithBanScore sets the score at or below which a peer's streams are refused (default -100).
func WithBanScore(s int) Option { return func(c *config) { c.banAt = s } }

// WithServeParallelism bounds how many proofs are built at once for all peers (default 4).
func WithServeParallelism(n int) Option { return func(c *config) { c.serveParallel = max(n, 1) } }

// WithConflictHandler sets a function called when a peer's proof shows the core's owner signed
// two different trees; the core is then frozen.
func WithConflictHandler(f func(core corestore.Key, p peer.ID, err error)) Option {
	return func(c *config) { c.onConflict = f }
}

// Stats counts what a Replicator moved, for progress display, and how it admitted streams.
type Stats struct {
	BlocksIn, BytesIn   uint64 // verified and stored
	BlocksOut, BytesOut uint64 // served
	Sessions            int    // open sessions
	Peers               int    // distinct peers with an open session

	// Handshaking is the number of streams peers opened that are in the capability handshake
	// now, and HandshakePeak the most there have been at once (see WithHandshakeLimits).
	Handshaking, HandshakePeak int
	// HandshakesRefused counts streams reset on arrival: their peer was at its limit, or banned,
	// or the shared limit was in use by peers holding no more than it. HandshakesEvicted counts
	// streams reset to make room for a peer holding fewer. HandshakesTimedOut counts streams
	// whose Open did not arrive in time, and HandshakesFailed those with a malformed Open or a
	// bad capability.
	HandshakesRefused, HandshakesEvicted, HandshakesTimedOut, HandshakesFailed uint64
}

// Replicator runs /datomspace/sync/1.0.0 for the cores of one store on one libp2p host.
type Replicator struct {
	h     host.Host
	store *corestore.Store
	cfg   config
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	serve chan struct{} // semaphore for proof building

	mu      sync.Mutex
	cores   map[corestore.Key]*coreState // by discovery key
	scores  map[peer.ID]int
	nextSID uint64
	closed  bool
	opening map[openKey]*opening // Replicate calls in progress
	live    map[peer.ID]int      // open sessions per peer
	dialing map[peer.ID]*dialSlots

	admit *admission
	warns *warnLimiter

	blocksIn, bytesIn, blocksOut, bytesOut atomic.Uint64
	timedOut, failed                       atomic.Uint64

	// frames recycles the buffers of large Data frames: incoming ones once their proof is
	// applied, outgoing ones once written, so that replication does not allocate, zero and
	// collect a megabyte per response on either side.
	frames       sync.Pool
	framesReused atomic.Uint64 // for tests
}

// pooledFrame is the size from which frames, incoming and outgoing, use recycled buffers.
const pooledFrame = 256 << 10

func (r *Replicator) frameBuffer(n int) []byte {
	if n < pooledFrame {
		return make([]byte, n)
	}
	if p, ok := r.frames.Get().(*[]byte); ok && cap(*p) >= n {
		r.framesReused.Add(1)
		return (*p)[:n]
	}
	return make([]byte, n, max(n, 2*pooledFrame))
}

// dialSlots bounds the handshakes Replicate runs with one peer at once.
type dialSlots struct {
	ch    chan struct{}
	users int
}

// openKey names a session being opened: one core with one peer.
type openKey struct {
	dk corestore.Key
	p  peer.ID
}

// opening is a Replicate in progress; concurrent calls for the same core and peer wait for it
// instead of opening a second stream that would race the first one's de-duplication.
type opening struct {
	done chan struct{}
	err  error
}

// coreState is the replication state of one core shared by its sessions.
type coreState struct {
	core     *corestore.Core
	sched    *Scheduler
	sessions map[uint64]*driver
}

// NewReplicator returns a Replicator serving the cores of store on h and registers its stream
// handler. Peers can only open sessions for cores the store already holds.
func NewReplicator(h host.Host, store *corestore.Store, opts ...Option) *Replicator {
	cfg := config{log: slog.Default(), lim: DefaultLimits(), handshakeTimeout: 10 * time.Second,
		openTimeout: DefaultOpenTimeout, handshakesPerPeer: DefaultHandshakesPerPeer, handshakesTotal: DefaultHandshakesTotal,
		logEvery: DefaultLogInterval, banAt: defaultBanAt, serveParallel: 4}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Replicator{h: h, store: store, cfg: cfg, ctx: ctx, stop: cancel, serve: make(chan struct{}, cfg.serveParallel),
		cores: map[corestore.Key]*coreState{}, scores: map[peer.ID]int{}, live: map[peer.ID]int{},
		dialing: map[peer.ID]*dialSlots{}, admit: newAdmission(cfg.handshakesPerPeer, cfg.handshakesTotal),
		warns: newWarnLimiter(cfg.logEvery, 1024)}
	h.SetStreamHandler(protocol.ID(ProtocolID), r.handle)
	return r
}

// Close stops the stream handler and every session and waits for them.
func (r *Replicator) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var ds []*driver
	for _, cs := range r.cores {
		for _, d := range cs.sessions {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	r.h.RemoveStreamHandler(protocol.ID(ProtocolID))
	r.stop()
	for _, d := range ds {
		d.stream.Reset()
	}
	r.wg.Wait()
	return nil
}

// Score returns the peer's current score: it falls on bad proofs, protocol violations and stalls
// and rises slowly with verified responses. At the ban score the peer's streams are refused.
func (r *Replicator) Score(p peer.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scores[p]
}

func (r *Replicator) adjustScore(p peer.ID, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.scores[p]; !ok && len(r.scores) >= maxScores {
		for q := range r.scores {
			delete(r.scores, q)
			break
		}
	}
	r.scores[p] = min(r.scores[p]+delta, scoreMax)
}

// Banned reports whether p's score is at or below the ban score, so that its sync streams are
// refused. A connection gater can use it to refuse the peer's connections too.
func (r *Replicator) Banned(p peer.ID) bool { return r.banned(p) }

func (r *Replicator) banned(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scores[p] <= r.cfg.banAt
}

// trusted reports whether p has an open session, that is has proved it knows a core key.
func (r *Replicator) trusted(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[p] > 0
}

// Stats returns the replicator's counters.
func (r *Replicator) Stats() Stats {
	st := Stats{BlocksIn: r.blocksIn.Load(), BytesIn: r.bytesIn.Load(), BlocksOut: r.blocksOut.Load(), BytesOut: r.bytesOut.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := map[peer.ID]bool{}
	for _, cs := range r.cores {
		for _, d := range cs.sessions {
			st.Sessions++
			peers[d.peer] = true
		}
	}
	st.Peers = len(peers)
	var c admissionCounts
	st.Handshaking, st.HandshakePeak, c = r.admit.stats()
	st.HandshakesRefused, st.HandshakesEvicted = c.refused, c.evicted
	st.HandshakesTimedOut, st.HandshakesFailed = r.timedOut.Load(), r.failed.Load()
	return st
}

// Peers returns the peers with an open session for core.
func (r *Replicator) Peers(core *corestore.Core) []peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.cores[core.DiscoveryKey()]
	if cs == nil {
		return nil
	}
	var out []peer.ID
	for _, d := range cs.sessions {
		out = append(out, d.peer)
	}
	return out
}

// state returns the replication state of core, creating it.
func (r *Replicator) state(core *corestore.Core) *coreState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateLocked(core)
}

func (r *Replicator) stateLocked(core *corestore.Core) *coreState {
	dk := core.DiscoveryKey()
	cs := r.cores[dk]
	if cs == nil {
		cs = &coreState{core: core, sched: NewScheduler(), sessions: map[uint64]*driver{}}
		r.cores[dk] = cs
	}
	return cs
}

// lookup finds a core this store already holds by its discovery key. It never creates one.
func (r *Replicator) lookup(ctx context.Context, dk corestore.Key) (*corestore.Core, error) {
	r.mu.Lock()
	if cs := r.cores[dk]; cs != nil {
		r.mu.Unlock()
		return cs.core, nil
	}
	r.mu.Unlock()
	// One index read; a core created a moment ago is found, and no request can make the store scan.
	return r.store.GetByDiscoveryKey(ctx, dk)
}

// Want registers interest in blocks [start, end) of core (end 0: from start on, including blocks
// appended later — live tail). Sessions of the core download wanted blocks from every peer that
// has them until the returned function is called.
func (r *Replicator) Want(core *corestore.Core, start, end uint64) (cancel func()) {
	return r.state(core).sched.Want(start, end)
}

// Download waits until blocks [start, end) of core are stored locally and synced to disk,
// fetching them from the peers it has sessions with. With end 0 it downloads from start to the
// newest length any connected peer can prove, and returns once it holds that and no peer claims a
// newer tree. It returns early when ctx ends or the core is frozen by a conflict.
func (r *Replicator) Download(ctx context.Context, core *corestore.Core, start, end uint64) error {
	cs := r.state(core)
	cancel := r.Want(core, start, end)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		upd := core.Updated()
		in := core.Info()
		if in.Frozen != "" {
			return fmt.Errorf("download core %s: %w: %s", in.Key, corestore.ErrFrozen, in.Frozen)
		}
		target := end
		if end == 0 {
			target = in.Length
		}
		if target <= in.Length && (end != 0 || !r.peerAhead(cs, in)) {
			if m, missing := core.FirstMissing(start); !missing || m >= target {
				return core.Flush(ctx)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("download core %s [%d, %d): %w", in.Key, start, end, ctx.Err())
		case <-r.ctx.Done():
			return fmt.Errorf("download core %s: %w", in.Key, corestore.ErrClosed)
		case <-upd:
		case <-tick.C:
		}
	}
}

// peerAhead reports whether a connected peer claims a newer tree than in that it has not failed
// to prove.
func (r *Replicator) peerAhead(cs *coreState, in corestore.Info) bool {
	r.mu.Lock()
	ds := make([]*driver, 0, len(cs.sessions))
	for _, d := range cs.sessions {
		ds = append(ds, d)
	}
	r.mu.Unlock()
	for _, d := range ds {
		if d.ahead(in.Fork, in.Length) {
			return true
		}
	}
	return false
}

// Get returns block i of core, downloading it from connected peers if needed; it waits until the
// block arrives or ctx ends.
func (r *Replicator) Get(ctx context.Context, core *corestore.Core, i uint64) ([]byte, error) {
	if core.Has(i) {
		return core.Get(ctx, i)
	}
	if err := r.Download(ctx, core, i, i+1); err != nil {
		return nil, err
	}
	return core.Get(ctx, i)
}

// Replicate opens a session for core with the connected (or dialable) peer p: it proves it knows
// the core key, checks the peer's proof, and then keeps the core in sync with the peer in the
// background until the stream or the Replicator closes. Downloads happen for wanted blocks (see
// Want, Download, Get); tree upgrades always.
func (r *Replicator) Replicate(ctx context.Context, core *corestore.Core, p peer.ID) error {
	k := openKey{core.DiscoveryKey(), p}
	r.mu.Lock()
	if o, ok := r.opening[k]; ok {
		r.mu.Unlock()
		select {
		case <-o.done:
			return o.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.opening == nil {
		r.opening = map[openKey]*opening{}
	}
	o := &opening{done: make(chan struct{})}
	r.opening[k] = o
	r.mu.Unlock()
	o.err = r.replicate(ctx, core, p)
	r.mu.Lock()
	delete(r.opening, k)
	r.mu.Unlock()
	close(o.done)
	return o.err
}

func (r *Replicator) replicate(ctx context.Context, core *corestore.Core, p peer.ID) error {
	if r.banned(p) {
		return fmt.Errorf("replicate core %s with peer %s: %w: peer is banned", core.Key(), p, ErrAccess)
	}
	cs := r.state(core)
	if r.hasSession(cs, p) {
		return nil
	}
	release, err := r.dialSlot(ctx, p)
	if err != nil {
		return fmt.Errorf("replicate core %s with peer %s: %w", core.Key(), p, err)
	}
	defer release()
	s, err := r.h.NewStream(ctx, p, protocol.ID(ProtocolID))
	if err != nil {
		return fmt.Errorf("replicate core %s: open stream to peer %s: %w", core.Key(), p, err)
	}
	local := r.h.ID()
	dk := core.DiscoveryKey()
	deadline := time.Now().Add(r.cfg.handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.SetDeadline(deadline)
	br := bufio.NewReaderSize(s, 64<<10)
	open := &Open{DiscoveryKey: dk[:], Capability: Capability(core.Key(), local, p, true)}
	if _, err := s.Write(AppendFrame(nil, open)); err != nil {
		s.Reset()
		return fmt.Errorf("replicate core %s with peer %s: send open: %w", core.Key(), p, err)
	}
	m, err := ReadMessage(br, maxOpenMessage)
	if err != nil {
		s.Reset()
		if se := (*network.StreamError)(nil); errors.As(err, &se) && se.Remote && se.ErrorCode == network.StreamResourceLimitExceeded {
			return fmt.Errorf("replicate core %s with peer %s: %w", core.Key(), p, ErrBusy)
		}
		return fmt.Errorf("replicate core %s with peer %s: %w: %w", core.Key(), p, ErrAccess, err)
	}
	o, ok := m.(*Open)
	if !ok || !bytes.Equal(o.DiscoveryKey, dk[:]) || !checkCapability(o.Capability, core.Key(), local, p, false) {
		s.Reset()
		r.adjustScore(p, scoreBadCap)
		return fmt.Errorf("replicate core %s with peer %s: %w: bad responder capability", core.Key(), p, ErrAccess)
	}
	s.SetDeadline(time.Time{})
	r.run(cs, s, br, p, true)
	return nil
}

// dialSlot waits for one of the handshake slots with p (see WithHandshakeLimits) and returns the
// function that frees it.
func (r *Replicator) dialSlot(ctx context.Context, p peer.ID) (func(), error) {
	r.mu.Lock()
	d := r.dialing[p]
	if d == nil {
		d = &dialSlots{ch: make(chan struct{}, r.cfg.handshakesPerPeer)}
		r.dialing[p] = d
	}
	d.users++
	r.mu.Unlock()
	put := func() {
		r.mu.Lock()
		if d.users--; d.users == 0 {
			delete(r.dialing, p)
		}
		r.mu.Unlock()
	}
	select {
	case d.ch <- struct{}{}:
		return func() { <-d.ch; put() }, nil
	case <-ctx.Done():
		put()
		return nil, ctx.Err()
	case <-r.ctx.Done():
		put()
		return nil, corestore.ErrClosed
	}
}

func (r *Replicator) hasSession(cs *coreState, p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range cs.sessions {
		if d.peer == p {
			return true
		}
	}
	return false
}

// handle answers a stream a peer opened. Until the peer has proved it knows the core key the
// stream holds one of the handshake places (see WithHandshakeLimits), nothing is read ahead of
// the Open, and the whole handshake must finish within the open timeout.
func (r *Replicator) handle(s network.Stream) {
	p := s.Conn().RemotePeer()
	if r.banned(p) {
		// Resetting costs less than closing the connection, which the peer would open again
		// with a new handshake; the connection manager trims it, unprotected, when connections
		// are many.
		s.Reset()
		r.admit.refuse()
		return
	}
	ps := r.admit.admit(p, s, r.trusted(p))
	if ps == nil {
		s.ResetWithError(network.StreamResourceLimitExceeded) // the opener sees ErrBusy
		return
	}
	core := r.handshake(s, p)
	if !r.admit.done(ps) || core == nil { // failed, or displaced just as it finished
		s.Reset()
		return
	}
	s.SetDeadline(time.Time{})
	r.run(r.state(core), s, bufio.NewReaderSize(s, 64<<10), p, false)
}

// handshake runs the responder's side of the capability handshake on s and returns the core the
// stream may carry a session of, or nil.
func (r *Replicator) handshake(s network.Stream, p peer.ID) *corestore.Core {
	s.SetDeadline(time.Now().Add(r.cfg.openTimeout))
	m, err := readOpen(s)
	if err != nil {
		switch {
		case isTimeout(err):
			r.timedOut.Add(1)
			r.adjustScore(p, scoreBadCap)
			r.warnHandshake(p, "sync stream sent no open in time", "")
		case errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrMalformed):
			r.failed.Add(1)
			r.adjustScore(p, scoreProtocol)
			r.warnHandshake(p, "sync stream with a malformed open", "")
		}
		return nil // otherwise the peer closed or reset it: not misbehaviour
	}
	o, ok := m.(*Open)
	if !ok || len(o.DiscoveryKey) != 32 {
		r.failed.Add(1)
		r.adjustScore(p, scoreProtocol)
		r.warnHandshake(p, "sync stream did not open with a valid open", "")
		return nil
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.openTimeout)
	defer cancel()
	core, err := r.lookup(ctx, corestore.Key(o.DiscoveryKey))
	if err != nil {
		r.cfg.log.Debug("sync stream for a core not held here", "peer", p, "err", err)
		return nil
	}
	local := r.h.ID()
	if !checkCapability(o.Capability, core.Key(), p, local, true) {
		r.failed.Add(1)
		r.adjustScore(p, scoreBadCap)
		r.warnHandshake(p, "sync stream with a bad capability", core.Key().String())
		return nil
	}
	if _, err := s.Write(AppendFrame(nil, &Open{DiscoveryKey: o.DiscoveryKey, Capability: Capability(core.Key(), p, local, false)})); err != nil {
		return nil
	}
	return core
}

// warnHandshake logs a failed handshake of p (see warnPeer).
func (r *Replicator) warnHandshake(p peer.ID, msg, core string) {
	if core != "" {
		r.warnPeer(p, msg, "core", core)
	} else {
		r.warnPeer(p, msg)
	}
}

// warnPeer logs msg about p at most once per peer and message per log interval, with the number
// of occurrences the line stands for.
func (r *Replicator) warnPeer(p peer.ID, msg string, args ...any) {
	ok, n, other := r.warns.note(msg+"\x00"+string(p), time.Now())
	if !ok {
		return
	}
	who := any(p)
	if other {
		who = "(other peers)"
	}
	r.cfg.log.Warn(msg, append([]any{"peer", who, "count", n, "per", r.cfg.logEvery}, args...)...)
}

// run registers and starts the driver of a handshaken stream. When a session with the same peer
// and core exists, the stream opened by the peer with the lower ID wins.
func (r *Replicator) run(cs *coreState, s network.Stream, br *bufio.Reader, p peer.ID, initiator bool) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		s.Reset()
		return
	}
	for _, old := range cs.sessions {
		if old.peer != p {
			continue
		}
		// Keep the stream whose initiator has the lower peer ID.
		newInit, oldInit := p, p
		if initiator {
			newInit = r.h.ID()
		}
		if old.initiator {
			oldInit = r.h.ID()
		}
		if oldInit <= newInit {
			r.mu.Unlock()
			s.Close()
			return
		}
		old.stream.Close()
	}
	r.nextSID++
	d := &driver{r: r, cs: cs, id: r.nextSID, peer: p, stream: s, br: br, initiator: initiator,
		in: make(chan Message, 16), results: make(chan func(), 64), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	d.sess = NewSession(d.id, cs.core, cs.sched, r.cfg.lim)
	cs.sessions[d.id] = d
	if r.live[p]++; r.live[p] == 1 {
		// The peer has proved it knows a core key: the connection manager keeps its connections.
		r.h.ConnManager().Protect(p, protectTag)
	}
	r.wg.Add(3)
	r.mu.Unlock()
	r.observeSession(cs.core.Key(), p, true) // before the loop runs, so before its end
	go d.readLoop()
	go d.writeLoop()
	go d.loop()
}

// driver runs one Session over one stream.
type driver struct {
	r         *Replicator
	cs        *coreState
	id        uint64
	peer      peer.ID
	stream    network.Stream
	br        *bufio.Reader
	initiator bool
	sess      *Session

	in      chan Message
	readErr error // set before in is closed
	results chan func()
	done    chan struct{}

	wmu    sync.Mutex
	wq     [][]byte
	wake   chan struct{}
	werr   error
	wclose bool

	snapMu      sync.Mutex
	remoteFork  uint64
	remoteLen   uint64
	remoteKnown bool
	upgradable  bool

	annMu sync.Mutex
	ann   []span

	// held maps a request id to the recycled buffer its Data message was read into, until the
	// proof is applied and the buffer can go back to the pool.
	heldMu sync.Mutex
	held   map[uint64][]byte
}

// hold keeps the recycled buffer of a Data frame until release.
func (d *driver) hold(m Message, frame []byte) {
	dm, ok := m.(*Data)
	if !ok || cap(frame) < pooledFrame {
		return
	}
	d.heldMu.Lock()
	if d.held == nil {
		d.held = map[uint64][]byte{}
	}
	d.held[dm.ID] = frame
	d.heldMu.Unlock()
}

// release returns the buffer of request id's Data frame to the pool: its proof has been
// applied, which copied what it kept.
func (d *driver) release(id uint64) {
	d.heldMu.Lock()
	frame, ok := d.held[id]
	delete(d.held, id)
	d.heldMu.Unlock()
	if ok {
		d.r.frames.Put(&frame)
	}
}

func (d *driver) ahead(fork, length uint64) bool {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	return !d.remoteKnown || (d.upgradable && newer(d.remoteFork, d.remoteLen, fork, length))
}

func (d *driver) readLoop() {
	defer d.r.wg.Done()
	defer close(d.in)
	for {
		frame, err := readFrame(d.br, d.r.cfg.lim.MaxMessageSize, d.r.frameBuffer)
		var m Message
		if err == nil {
			m, err = DecodeMessage(frame)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				d.readErr = err
			}
			return
		}
		d.hold(m, frame)
		select {
		case d.in <- m:
		case <-d.done:
			return
		}
	}
}

func (d *driver) enqueue(frame []byte) {
	d.wmu.Lock()
	d.wq = append(d.wq, frame)
	d.wmu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *driver) writeLoop() {
	defer d.r.wg.Done()
	bw := bufio.NewWriterSize(d.stream, 64<<10)
	for {
		select {
		case <-d.wake:
		case <-d.done:
			return
		}
		for {
			d.wmu.Lock()
			q := d.wq
			d.wq = nil
			d.wmu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				if _, err := bw.Write(f); err != nil {
					d.wmu.Lock()
					d.werr = err
					d.wmu.Unlock()
					d.stream.Reset()
					return
				}
				// The stream copied it (yamux queues a copy), and nothing else holds a frame.
				if cap(f) >= pooledFrame {
					d.r.frames.Put(&f)
				}
			}
		}
		if err := bw.Flush(); err != nil {
			d.stream.Reset()
			return
		}
	}
}

// announce queues a range newly stored via another session, to be told to this peer.
func (d *driver) announce(start, end uint64) {
	d.annMu.Lock()
	d.ann = append(d.ann, span{start, end})
	d.annMu.Unlock()
	select {
	case d.results <- func() {}:
	default:
	}
}

func (d *driver) loop() {
	defer d.r.wg.Done()
	r, sess, core := d.r, d.sess, d.cs.core
	tickEvery := 250 * time.Millisecond
	if t := r.cfg.lim.RequestTimeout / 4; t > 0 && t < tickEvery {
		tickEvery = t
	}
	ticker := time.NewTicker(tickEvery)
	defer ticker.Stop()
	upd := core.Updated()
	sch := d.cs.sched.Changed()
	sess.Start(time.Now())
	var fatal error
	for fatal == nil {
		d.flush()
		select {
		case m, ok := <-d.in:
			if !ok {
				if d.readErr != nil {
					fatal = fmt.Errorf("%w: %w", ErrProtocol, d.readErr)
					if !errors.Is(d.readErr, ErrMessageTooLarge) && !errors.Is(d.readErr, ErrMalformed) {
						fatal = d.readErr // a transport error, not misbehaviour
					}
				} else {
					fatal = io.EOF
				}
				break
			}
			if nd, ok := m.(*NoData); ok && nd.Reason == NoDataTooLarge {
				if start, end, ok := sess.Requested(nd.ID); ok {
					r.warnPeer(d.peer, "peer cannot send blocks: larger than its message limit",
						"core", core.Key().String(), "start", start, "end", end)
				}
			}
			fatal = sess.Step(time.Now(), m)
		case <-upd:
			upd = core.Updated()
			sess.LocalChanged(time.Now())
		case <-sch:
			sch = d.cs.sched.Changed()
			fatal = sess.Tick(time.Now())
		case f := <-d.results:
			f()
			fatal = sess.Err()
		case <-ticker.C:
			fatal = sess.Tick(time.Now())
		case <-r.ctx.Done():
			fatal = r.ctx.Err()
		}
		d.annMu.Lock()
		ann := d.ann
		d.ann = nil
		d.annMu.Unlock()
		for _, a := range ann {
			sess.AnnounceRange(a.start, a.end)
		}
		d.publish()
	}
	d.flush()
	d.end(fatal)
}

// publish copies what Download needs to know of the peer out of the session.
func (d *driver) publish() {
	f, l, known := d.sess.Remote()
	d.snapMu.Lock()
	d.remoteFork, d.remoteLen, d.remoteKnown = f, l, known
	d.upgradable = d.sess.noUpgrade == nil
	d.snapMu.Unlock()
}

// flush sends what the session produced and starts its actions.
func (d *driver) flush() {
	msgs, acts := d.sess.Ready()
	for _, m := range msgs {
		f := encodeFrameTo(m, d.r.frameBuffer)
		if len(f) > d.r.cfg.lim.MaxMessageSize {
			// serve shortens proofs to fit; nothing else comes near the limit.
			d.r.warnPeer(d.peer, "sync message over the message limit not sent", "core", d.cs.core.Key().String(),
				"type", fmt.Sprintf("%T", m), "bytes", len(f), "limit", d.r.cfg.lim.MaxMessageSize)
			if dm, ok := m.(*Data); ok {
				f = AppendFrame(nil, &NoData{ID: dm.ID, Reason: NoDataTooLarge})
			} else {
				continue
			}
		}
		d.enqueue(f)
	}
	for _, a := range acts {
		d.r.wg.Add(1)
		switch a := a.(type) {
		case *ServeAction:
			go func() { defer d.r.wg.Done(); d.serve(a) }()
		case *ApplyAction:
			go func() { defer d.r.wg.Done(); d.apply(a) }()
		default:
			d.r.wg.Done()
		}
	}
}

func (d *driver) post(f func()) {
	select {
	case d.results <- f:
	case <-d.done:
	}
}

func (d *driver) serve(a *ServeAction) {
	var p *corestore.Proof
	var err error
	select {
	case d.r.serve <- struct{}{}:
		p, err = d.prove(a)
		<-d.r.serve
	case <-d.done:
		return
	}
	if err == nil {
		d.r.blocksOut.Add(uint64(len(p.Blocks)))
		for _, b := range p.Blocks {
			d.r.bytesOut.Add(uint64(len(b)))
		}
	}
	d.post(func() { d.sess.Served(a.ID, p, err) })
}

// prove builds the proof a asks for, shortened to a prefix of its blocks until its Data message
// fits in the message limit. When even one block does not fit it logs why and returns an error
// wrapping ErrMessageTooLarge, which the session answers with NoDataTooLarge.
func (d *driver) prove(a *ServeAction) (*corestore.Proof, error) {
	limit, req := d.r.cfg.lim.MaxMessageSize, a.Req
	for {
		p, err := d.cs.core.Prove(d.r.ctx, req)
		if err != nil {
			return nil, err
		}
		n := dataOf(a.ID, p).frameLen()
		if n <= limit {
			return p, nil
		}
		if len(p.Blocks) <= 1 {
			size := 0
			if len(p.Blocks) == 1 {
				size = len(p.Blocks[0])
			}
			d.r.warnPeer(d.peer, "block too large to send: its proof does not fit in one message",
				"core", d.cs.core.Key().String(), "block", req.Start, "bytes", size, "message", n, "limit", limit)
			return nil, fmt.Errorf("%w: block %d with its proof is %d bytes, limit %d", ErrMessageTooLarge, req.Start, n, limit)
		}
		req.End = req.Start + uint64(len(p.Blocks))/2
	}
}

func (d *driver) apply(a *ApplyAction) {
	res, err := d.cs.core.ApplyProof(d.r.ctx, a.Proof)
	if err == nil && res.Blocks > 0 {
		d.r.blocksIn.Add(uint64(res.Blocks))
		for _, b := range a.Proof.Blocks {
			d.r.bytesIn.Add(uint64(len(b)))
		}
		d.r.adjustScore(d.peer, scoreGood)
		if n := uint64(len(a.Proof.Blocks)); n > 0 {
			d.r.announceRange(d.cs, d.id, a.Proof.Start, a.Proof.Start+n)
		}
	}
	a.Proof = nil // the blocks alias the frame, which goes back to the pool now
	d.release(a.ID)
	d.post(func() {
		if aerr := d.sess.Applied(time.Now(), a.ID, res, err); aerr != nil {
			return
		}
		if err != nil && !errors.Is(err, corestore.ErrStale) {
			d.r.cfg.log.Debug("proof not applied", "peer", d.peer, "core", d.cs.core.Key().String(), "err", err)
		}
	})
}

func (r *Replicator) announceRange(cs *coreState, from uint64, start, end uint64) {
	r.mu.Lock()
	ds := make([]*driver, 0, len(cs.sessions))
	for id, d := range cs.sessions {
		if id != from {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	for _, d := range ds {
		d.announce(start, end)
	}
}

// end tears the session down and deals with the peer according to why it ended.
func (d *driver) end(err error) {
	r, p := d.r, d.peer
	close(d.done)
	d.sess.Close()
	r.mu.Lock()
	delete(d.cs.sessions, d.id)
	if r.live[p]--; r.live[p] <= 0 {
		delete(r.live, p)
		r.h.ConnManager().Unprotect(p, protectTag)
	}
	r.mu.Unlock()
	r.observeSession(d.cs.core.Key(), p, false)
	key := d.cs.core.Key().String()
	switch {
	case errors.Is(err, ErrBadPeer):
		r.cfg.log.Warn("peer sent an invalid proof; disconnecting", "peer", p, "core", key, "err", err)
		r.adjustScore(p, scoreBadProof)
		d.stream.Reset()
		r.h.Network().ClosePeer(p)
	case errors.Is(err, ErrProtocol):
		r.cfg.log.Warn("peer broke the sync protocol; disconnecting", "peer", p, "core", key, "err", err)
		r.adjustScore(p, scoreProtocol)
		d.stream.Reset()
		r.h.Network().ClosePeer(p)
	case errors.Is(err, ErrStalled):
		r.cfg.log.Warn("peer stalled; disconnecting", "peer", p, "core", key, "err", err)
		r.adjustScore(p, scoreStalled)
		d.stream.Reset()
		r.h.Network().ClosePeer(p)
	case errors.Is(err, corestore.ErrConflict):
		r.cfg.log.Error("conflicting signed trees: core frozen", "peer", p, "core", key, "err", err)
		if r.cfg.onConflict != nil {
			r.cfg.onConflict(d.cs.core.Key(), p, err)
		}
		d.stream.Reset()
	case errors.Is(err, io.EOF):
		d.stream.Close()
	default:
		d.stream.Reset()
	}
	// Drain action results so that no goroutine blocks on a session that is gone.
	for {
		select {
		case <-d.results:
		default:
			return
		}
	}
}
