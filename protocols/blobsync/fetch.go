package blobsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// Errors of Fetch (besides those of the blobs package: ErrNotFound when no provider has a
// block, and ErrMalformed, ErrTooLarge, ErrTooDeep, ErrSizeMismatch for a bad DAG).
var (
	// ErrNoProviders: every provider is gone (unreachable, banned, stalled) or there was none.
	ErrNoProviders = errors.New("no provider left for the blob")
	// ErrStalled: no block arrived for the idle timeout.
	ErrStalled = errors.New("blob fetch stalled")
)

// Progress is a fetch's progress.
type Progress struct {
	// Blocks and Bytes count the blocks received and the file bytes they hold.
	Blocks uint64
	Bytes  uint64
	// Need is the file bytes the fetch had to get: the blob's size for a fresh fetch (known once
	// the root arrives), what was missing for a resumed one.
	Need uint64
	// Providers is the number of providers in use.
	Providers int
}

// FindProviders streams providers of a root CID; discovery.FindBlobProviders fits.
type FindProviders func(ctx context.Context, root cid.Cid) <-chan peer.AddrInfo

// FetchOption configures Fetch. Options validate their values when applied.
type FetchOption func(*fetchConfig) error

type fetchConfig struct {
	peers        []peer.AddrInfo
	find         FindProviders
	progress     func(Progress)
	commit       []blobs.CommitOption
	lease        *blobs.Lease
	fast         bool
	bitswap      bool
	stealAfter   time.Duration
	stallTimeout time.Duration
	idleTimeout  time.Duration
	maxProviders int
	batch        int
	pipeline     int
	bsWindow     int
}

// WithPeers fetches from these providers (a `--peer` address), dialling them.
func WithPeers(ps ...peer.AddrInfo) FetchOption {
	return func(c *fetchConfig) error { c.peers = append(c.peers, ps...); return nil }
}

// WithFindProviders looks providers up with find (the DHT), beside WithPeers. With neither,
// the fetch asks the peers connected when it starts.
func WithFindProviders(find FindProviders) FetchOption {
	return func(c *fetchConfig) error {
		if find == nil {
			return fmt.Errorf("%w: nil provider finder", ErrInvalidOption)
		}
		c.find = find
		return nil
	}
}

// WithProgress calls fn after every block received. Calls do not overlap.
func WithProgress(fn func(Progress)) FetchOption {
	return func(c *fetchConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: nil progress callback", ErrInvalidOption)
		}
		c.progress = fn
		return nil
	}
}

// WithPin pins the blob when it is complete.
func WithPin() FetchOption {
	return func(c *fetchConfig) error { c.commit = append(c.commit, blobs.Pinned()); return nil }
}

// WithUnlisted records the blob unlisted when it is complete (blobs.Unlisted): held, not
// announced.
func WithUnlisted() FetchOption {
	return func(c *fetchConfig) error { c.commit = append(c.commit, blobs.Unlisted()); return nil }
}

// WithLease writes the blocks under l, which keeps them from GC after Fetch returns until the
// caller references the blob and releases l. By default the fetch uses a lease of its own.
func WithLease(l *blobs.Lease) FetchOption {
	return func(c *fetchConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil lease", ErrInvalidOption)
		}
		c.lease = l
		return nil
	}
}

// WithoutFastPath fetches with bitswap only.
func WithoutFastPath() FetchOption { return func(c *fetchConfig) error { c.fast = false; return nil } }

// WithoutBitswap fetches on the fast path only, from providers that speak it.
func WithoutBitswap() FetchOption {
	return func(c *fetchConfig) error { c.bitswap = false; return nil }
}

// WithStallTimeout drops a provider that sends nothing for d while it owes blocks (default
// 20s), and lets other providers take over the blocks one has owed for d/10 once nothing else
// is left to ask for.
func WithStallTimeout(d time.Duration) FetchOption {
	return func(c *fetchConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: stall timeout must be positive", ErrInvalidOption)
		}
		c.stallTimeout, c.stealAfter = d, d/10
		return nil
	}
}

// WithIdleTimeout fails the fetch with ErrStalled when no block arrives for d (default 2m).
func WithIdleTimeout(d time.Duration) FetchOption {
	return func(c *fetchConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: idle timeout must be positive", ErrInvalidOption)
		}
		c.idleTimeout = d
		return nil
	}
}

// WithMaxProviders bounds the providers used at once (default 8).
func WithMaxProviders(n int) FetchOption {
	return func(c *fetchConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: need at least one provider", ErrInvalidOption)
		}
		c.maxProviders = n
		return nil
	}
}

// WithRequestSize sets the blocks per fast-path request (default 16, at most MaxWants) and the
// requests kept in flight on each stream (default 3).
func WithRequestSize(blocks, inflight int) FetchOption {
	return func(c *fetchConfig) error {
		if blocks < 1 || blocks > MaxWants || inflight < 1 {
			return fmt.Errorf("%w: request size %d, %d in flight", ErrInvalidOption, blocks, inflight)
		}
		c.batch, c.pipeline = blocks, inflight
		return nil
	}
}

// fetch is one Fetch in progress.
type fetch struct {
	s     *Service
	cfg   fetchConfig
	root  cid.Cid
	lease *blobs.Lease
	lim   blobs.Limits

	mu        sync.Mutex
	sched     *scheduler
	changed   chan struct{} // closed and replaced on every change
	err       error         // the first fatal error
	nextID    int
	live      int // workers running
	starting  int // providers being dialled
	intake    bool
	bsRunning bool
	last      time.Time // last block received
	tried     map[peer.ID]bool
	lastErr   error // why the last worker ended
	prog      Progress

	writes chan received // checked blocks for the writers

	pmu sync.Mutex // serialises progress calls
	wg  sync.WaitGroup
}

// Writers and their queue: enough to keep a disk busy while the streams are read, few enough
// that memory stays a few MiB.
const (
	writers    = 2
	writeQueue = 16
)

// Fetch gets the blob root from providers and stores it: on the fast path from every provider
// that speaks it, at once, and with bitswap from the others (Kubo). It verifies every block
// against its CID and the store's limits as it arrives; a provider that sends a block whose
// bytes do not match is disconnected, banned, and its blocks asked of the others. Blocks the
// store holds already are not fetched again, so a fetch interrupted and started again resumes.
// On success the blob is complete and recorded in the store (and pinned, WithPin).
func (s *Service) Fetch(ctx context.Context, root cid.Cid, opts ...FetchOption) (blobs.Ref, error) {
	if err := blobs.CheckCID(root); err != nil {
		return blobs.Ref{}, err
	}
	cfg := fetchConfig{fast: true, bitswap: s.bs != nil, stallTimeout: 20 * time.Second, stealAfter: 2 * time.Second,
		idleTimeout: 2 * time.Minute, maxProviders: 8, batch: 16, pipeline: 3, bsWindow: 256}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return blobs.Ref{}, err
		}
	}
	if s.bs == nil {
		cfg.bitswap = false
	}
	if !cfg.fast && !cfg.bitswap {
		return blobs.Ref{}, fmt.Errorf("%w: neither the fast path nor bitswap", ErrInvalidOption)
	}
	if err := s.begin(); err != nil {
		return blobs.Ref{}, err
	}
	defer s.wg.Done()
	l := cfg.lease
	if l == nil {
		l = s.store.NewLease()
		defer l.Release()
	}
	f := &fetch{s: s, cfg: cfg, root: root, lease: l, lim: s.store.Limits(), sched: newScheduler(cfg.stealAfter),
		changed: make(chan struct{}), tried: map[peer.ID]bool{}, last: time.Now(), writes: make(chan received, writeQueue)}
	for w, err := range l.Missing(ctx, blobs.Want{CID: root}) {
		if err != nil {
			return blobs.Ref{}, fmt.Errorf("fetch %s: %w", root, err)
		}
		f.sched.add(w)
		f.prog.Need += w.Size
	}
	if !f.sched.done() {
		if err := f.run(ctx); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				// The caller ended the fetch: that is why, even if the providers' streams, reset
				// by the same cancellation, failed first.
				err = cerr
			}
			return blobs.Ref{}, fmt.Errorf("fetch %s: %w", root, err)
		}
	}
	ref, err := l.Commit(ctx, root, cfg.commit...)
	if err != nil {
		return blobs.Ref{}, fmt.Errorf("fetch %s: %w", root, err)
	}
	return ref, nil
}

// run fetches until nothing is missing, then stops every worker.
func (f *fetch) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer func() {
		cancel()
		f.wg.Wait()
	}()
	// The service's Close cancels fetches too.
	stop := context.AfterFunc(f.s.ctx, cancel)
	defer stop()
	for range writers {
		f.wg.Add(1)
		go f.writer(ctx)
	}
	f.wg.Add(1)
	go f.findProviders(ctx)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		done := f.sched.done() && f.err == nil
		err := f.check()
		ch := f.changed
		f.mu.Unlock()
		if done {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return err
			}
			return ErrClosed
		}
	}
}

// check returns why the fetch cannot go on, if it cannot. f.mu is held.
func (f *fetch) check() error {
	if f.err != nil {
		return f.err
	}
	if f.sched.done() {
		return nil
	}
	waiting := !f.intake || f.starting > 0
	if f.live == 0 && !waiting {
		if f.lastErr != nil {
			return fmt.Errorf("%w (last: %w)", ErrNoProviders, f.lastErr)
		}
		return ErrNoProviders
	}
	if !waiting && !f.bsRunning {
		if w, ok := f.sched.unavailable(); ok {
			return fmt.Errorf("%w: no provider has block %s", blobs.ErrNotFound, w.CID)
		}
	}
	if time.Since(f.last) > f.cfg.idleTimeout {
		return fmt.Errorf("%w: no block for %s", ErrStalled, f.cfg.idleTimeout)
	}
	return nil
}

// notify wakes everyone waiting on a change. f.mu is held.
func (f *fetch) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// fail records a fatal error.
func (f *fetch) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.notify()
	f.mu.Unlock()
}

// findProviders feeds providers to the fetch: the given peers, then the finder's, or else the
// peers connected now.
func (f *fetch) findProviders(ctx context.Context) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		f.intake = true
		f.notify()
		f.mu.Unlock()
	}()
	for _, p := range f.cfg.peers {
		f.addProvider(ctx, p)
	}
	if f.cfg.find != nil {
		for p := range f.cfg.find(ctx, f.root) {
			f.addProvider(ctx, p)
		}
		return
	}
	if len(f.cfg.peers) == 0 {
		for _, id := range f.s.h.Network().Peers() {
			f.addProvider(ctx, peer.AddrInfo{ID: id})
		}
	}
}

// addProvider dials p and starts a worker for it.
func (f *fetch) addProvider(ctx context.Context, p peer.AddrInfo) {
	if p.ID == f.s.h.ID() || p.ID == "" || f.s.Banned(p.ID) {
		return
	}
	f.mu.Lock()
	if f.tried[p.ID] || len(f.tried) >= f.cfg.maxProviders {
		f.mu.Unlock()
		return
	}
	f.tried[p.ID] = true
	f.starting++
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() {
			f.mu.Lock()
			f.starting--
			f.notify()
			f.mu.Unlock()
		}()
		if len(p.Addrs) > 0 {
			f.s.h.Peerstore().AddAddrs(p.ID, p.Addrs, peerstore.TempAddrTTL)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := f.s.h.Connect(cctx, p)
		cancel()
		if err != nil {
			f.workerEnded(fmt.Errorf("dial %s: %w", p.ID, err))
			return
		}
		if f.cfg.fast {
			st, err := f.s.h.NewStream(ctx, p.ID, ProtocolID)
			if err == nil {
				id := f.newWorker()
				f.wg.Add(1)
				go f.runFast(ctx, id, p.ID, st)
				return
			}
			if ctx.Err() != nil {
				return
			}
			f.s.log.Debug("blobsync: no fast path; using bitswap", "peer", p.ID.String(), "err", err)
		}
		if f.cfg.bitswap {
			f.startBitswap(ctx)
			return
		}
		f.workerEnded(fmt.Errorf("%s does not speak %s", p.ID, ProtocolID))
	}()
}

// newWorker registers a worker.
func (f *fetch) newWorker() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.live++
	f.prog.Providers++
	f.sched.addWorker(id)
	f.notify()
	return id
}

// removeWorker unregisters worker id, which ended with err.
func (f *fetch) removeWorker(id int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live--
	f.prog.Providers--
	f.sched.removeWorker(id)
	if err != nil {
		f.lastErr = err
	}
	f.notify()
}

// workerEnded records why a provider could not be used.
func (f *fetch) workerEnded(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err
	f.notify()
}

// assign takes blocks for worker id, or returns a channel that changes when there may be some
// and how long to wait at most.
func (f *fetch) assign(id, n int, bytes uint64) ([]blobs.Want, <-chan struct{}, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	ws := f.sched.assign(id, n, bytes, now)
	if len(ws) > 0 {
		return ws, f.changed, 0
	}
	// Idle: the queue is empty, so the blocks left are the few in flight.
	wake := f.sched.idle(id, now)
	if wake == 0 {
		wake = time.Second
	}
	return ws, f.changed, wake
}

// wanted reports whether the block key is still wanted.
func (f *fetch) wanted(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sched.items[key]
	return ok
}

// errBadBlock: the provider sent bytes that do not match the CID asked for.
var errBadBlock = errors.New("provider sent a bad block")

// deliver checks the block data that worker id received for w and queues it for the writers.
// It returns errBadBlock (wrapped) if the bytes do not match w's CID: the caller drops the
// provider. Any other bad block ends the fetch: its CID vouches for it, so every provider would
// send it. Checking happens on the worker's goroutine, so providers are checked in parallel;
// writing on the writers', so a provider's stream is read while blocks are written.
func (f *fetch) deliver(ctx context.Context, id int, w blobs.Want, data []byte) error {
	key := string(w.CID.Hash())
	if !f.wanted(key) {
		return nil
	}
	n, err := blobs.DecodeWant(w, data, f.lim)
	if errors.Is(err, blobs.ErrHashMismatch) {
		return fmt.Errorf("%w: %w", errBadBlock, err)
	}
	if err != nil {
		f.fail(err)
		return err
	}
	select {
	case f.writes <- received{id: id, w: w, n: n}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// received is a checked block waiting to be written.
type received struct {
	id int
	w  blobs.Want
	n  blobs.Node
}

// writer writes checked blocks and the wants they reveal, until ctx ends.
func (f *fetch) writer(ctx context.Context) {
	defer f.wg.Done()
	for {
		select {
		case r := <-f.writes:
			if err := f.store(ctx, r); err != nil {
				if ctx.Err() == nil {
					f.fail(err)
				}
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// store writes one checked block, finds which of its children are missing, and records it.
func (f *fetch) store(ctx context.Context, r received) error {
	key := string(r.w.CID.Hash())
	if !f.wanted(key) {
		return nil // a duplicate, written meanwhile
	}
	if err := f.lease.PutNode(ctx, r.n); err != nil {
		return err
	}
	var more []blobs.Want
	for _, c := range r.n.Wants(r.w.Depth) {
		for m, err := range f.lease.Missing(ctx, c) {
			if err != nil {
				return err
			}
			more = append(more, m)
		}
	}
	f.mu.Lock()
	first := f.sched.received(r.id, key, more)
	if first {
		f.last = time.Now()
		f.prog.Blocks++
		f.prog.Bytes += uint64(len(r.n.Data))
		if r.w.Depth == 0 {
			f.prog.Need += r.n.FileSize
		}
	}
	p := f.prog
	f.notify()
	f.mu.Unlock()
	if first && f.cfg.progress != nil {
		f.pmu.Lock()
		f.cfg.progress(p)
		f.pmu.Unlock()
	}
	return nil
}

// dontHave records that worker id's provider lacks w.
func (f *fetch) dontHave(id int, w blobs.Want) {
	f.mu.Lock()
	f.sched.dontHave(id, string(w.CID.Hash()))
	f.notify()
	f.mu.Unlock()
}
