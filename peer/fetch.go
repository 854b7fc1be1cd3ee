package peer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FetchOptions says what Fetch downloads.
type FetchOptions struct {
	// Start and End select blocks [Start, End); End 0 means up to the newest length. A range
	// past the core's length is an error, unless Live, which waits for the blocks to be appended.
	Start, End uint64
	// Live keeps following the core after the first download, until ctx ends.
	Live bool
	// FindTimeout is how long to keep looking for a peer that holds the core, and waiting for one
	// to come up (default 30 s).
	FindTimeout time.Duration
	// Peers are dialed for this fetch, besides the node's own direct peers and the DHT.
	Peers []peer.AddrInfo
	// Follow keeps a started node following the replica after Fetch returns (see Node.Follow).
	Follow bool
	// OnProgress, if set, is called with progress while downloading, from another goroutine;
	// Fetch does not return before its last call has returned.
	OnProgress func(Progress)
	// OnBlocks, if set, is called with each new contiguous run of blocks, in order.
	OnBlocks func(start uint64, blocks [][]byte) error
}

// Progress describes a running download.
type Progress struct {
	Blocks  uint64        `json:"blocks"` // blocks of the range held so far
	Total   uint64        `json:"total"`  // blocks in the range (0 while the length is unknown)
	Length  uint64        `json:"length"` // the core's length, as far as known
	Bytes   uint64        `json:"bytes"`  // bytes received
	Peers   int           `json:"peers"`
	Elapsed time.Duration `json:"elapsed"`
	Done    bool          `json:"done"` // every block of the range is here; what is left is syncing to disk
}

// FetchResult says what Fetch got.
type FetchResult struct {
	Core *corestore.Core
	// Source is "network" (verified against a peer's signed tree), "own" (a writable core of
	// this repo: there is nothing to download) or "local" (no peer answered in time and the
	// repo's replica, which may be stale, is what there is).
	Source string
	// Start and End are the range delivered.
	Start, End uint64
}

// Sources of a FetchResult.
const (
	SourceNetwork = "network"
	SourceOwn     = "own"
	SourceLocal   = "local"
)

// Errors Fetch reports.
var (
	// ErrNoProviders: no peer that holds the core answered within the timeout.
	ErrNoProviders = errors.New("no peer that holds the core was found")
	// ErrInterrupted: the download was canceled part way; what arrived is kept and a new fetch
	// resumes from it.
	ErrInterrupted = errors.New("download interrupted")
	// ErrEmptyCore: the core has no blocks.
	ErrEmptyCore = errors.New("the core is empty")
)

// Fetch finds peers that hold the core with key (direct peers first, then the DHT), replicates
// from several at once, verifies everything, and delivers blocks [Start, End). It keeps looking
// for peers until FindTimeout. The replica stays in the repo and a started node announces it;
// one that this Fetch created and left empty is deleted again. A started node keeps following it
// when Follow is set.
func (n *Node) Fetch(ctx context.Context, key corestore.Key, fo FetchOptions) (FetchResult, error) {
	_, err := n.Repo.Store.Get(ctx, key)
	created := errors.Is(err, corestore.ErrNotFound)
	if err != nil && !created {
		return FetchResult{}, err
	}
	c, err := n.Repo.Store.Replica(ctx, key)
	if err != nil {
		return FetchResult{}, err
	}
	res, err := n.fetch(ctx, c, fo)
	if err != nil && created && c.Length() == 0 {
		// A failed fetch leaves nothing behind: no empty replica that would be announced and
		// looked for forever.
		if derr := n.deleteCore(context.WithoutCancel(ctx), c.Key()); derr != nil {
			n.o.log.Warn("could not drop the empty replica of a failed fetch", "core", key.String(), "err", derr)
		}
	}
	return res, err
}

func (n *Node) fetch(ctx context.Context, c *corestore.Core, fo FetchOptions) (FetchResult, error) {
	var wg sync.WaitGroup // the goroutines of this call; waited for before it returns
	defer wg.Wait()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := FetchResult{Core: c, Source: SourceNetwork, Start: fo.Start}
	if fo.OnProgress != nil {
		t0 := time.Now()
		wg.Go(func() { n.progressLoop(cctx, c, fo, t0) })
	}
	switch {
	case c.Writable():
		res.Source = SourceOwn // our own core has nothing to download
	default:
		ft := fo.FindTimeout
		if ft <= 0 {
			ft = 30 * time.Second
		}
		fctx, fcancel := context.WithTimeout(cctx, ft)
		err := n.findUntil(fctx, c, fo.Peers)
		fcancel()
		switch {
		case ctx.Err() != nil:
			return res, n.interrupted(ctx, c, fo)
		case err != nil && c.Length() > 0 && !fo.Live:
			res.Source = SourceLocal // the copy there is, said to be so
		case err != nil && errors.Is(err, ErrNoProviders) && fo.Live:
			// A live follow waits for its peers: keep looking in the background.
		case err != nil:
			return res, fmt.Errorf("%w within %s: %w", ErrNoProviders, ft, err)
		}
	}
	length := c.Length()
	end := fo.End
	if end == 0 {
		end = length
	}
	if !fo.Live {
		switch {
		case length == 0:
			return res, fmt.Errorf("core %s: %w (length 0)", c.Key(), ErrEmptyCore)
		case end > length:
			return res, fmt.Errorf("%w: blocks [%d, %d) were asked for, but core %s has length %d", corestore.ErrOutOfRange, fo.Start, end, c.Key(), length)
		case fo.Start >= end:
			return res, fmt.Errorf("%w: start %d is not below the end %d of the range (core %s has length %d)", corestore.ErrOutOfRange, fo.Start, end, c.Key(), length)
		}
	}
	if res.Source == SourceNetwork {
		if err := n.repl.Download(cctx, c, fo.Start, end); err != nil {
			if ctx.Err() != nil {
				return res, n.interrupted(ctx, c, fo)
			}
			return res, err
		}
	}
	if fo.Follow && n.isStarted() {
		n.Follow(c.Key()) // a started node keeps it up to date, and serves it
	}
	if fo.End == 0 && !fo.Live {
		end = c.Length()
	}
	next := fo.Start
	if fo.OnBlocks != nil {
		if err := n.deliver(cctx, c, &next, end, fo.OnBlocks); err != nil {
			return res, err
		}
	}
	res.End = next
	if !fo.Live {
		return res, nil
	}
	if !n.isFollowing(c.Key()) {
		wg.Go(func() { n.findProvidersLoop(cctx, c) })
	}
	cancelWant := n.repl.Want(c, next, fo.End)
	defer cancelWant()
	for fo.End == 0 || next < fo.End {
		upd := c.Updated()
		limit := c.Length()
		if fo.End != 0 {
			limit = min(limit, fo.End)
		}
		if fo.OnBlocks != nil {
			if err := n.deliver(cctx, c, &next, limit, fo.OnBlocks); err != nil {
				return res, err
			}
		} else {
			next = c.Contiguous()
		}
		res.End = next
		if fo.End != 0 && next >= fo.End {
			break
		}
		select {
		case <-ctx.Done():
			return res, nil
		case <-upd:
		}
	}
	return res, nil
}

// interrupted describes a download canceled part way.
func (n *Node) interrupted(ctx context.Context, c *corestore.Core, fo FetchOptions) error {
	length := c.Length()
	end := fo.End
	if end == 0 {
		end = length
	}
	var held uint64
	if end > fo.Start {
		held = c.Held() // approximate: counts the whole core, bounded by the range below
		held = min(held, end-fo.Start)
	}
	if length == 0 {
		return fmt.Errorf("core %s: %w before any peer answered: %w", c.Key(), ErrInterrupted, ctx.Err())
	}
	return fmt.Errorf("core %s: %w at %d of %d blocks; what arrived is kept, and fetching again resumes from it: %w",
		c.Key(), ErrInterrupted, held, end-fo.Start, ctx.Err())
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

// findUntil keeps looking for peers that hold c, pass after pass, until a session opens and the
// core's tree arrives, or ctx ends. It returns ErrNoProviders with what it tried.
func (n *Node) findUntil(ctx context.Context, c *corestore.Core, extra []peer.AddrInfo) error {
	var last findReport
	wait := 250 * time.Millisecond
	for pass := 1; ; pass++ {
		rep := n.findPass(ctx, c, extra, true)
		rep.passes = pass
		last = rep
		if rep.sessions > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("core %s: %w (%s)", c.Key(), ErrNoProviders, last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
		if len(n.host.Network().Peers()) == 0 {
			n.disc.Bootstrap(ctx) // the bootstrap peers may have come up since
		}
	}
}

// findReport is what one or more passes of findPass tried.
type findReport struct {
	passes    int
	providers int
	sessions  int
	failed    map[peer.ID]error
}

func (r findReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d DHT lookup%s found %d provider%s", r.passes, plural(r.passes), r.providers, plural(r.providers))
	if len(r.failed) > 0 {
		ids := make([]string, 0, len(r.failed))
		for id := range r.failed {
			ids = append(ids, id.String())
		}
		sort.Strings(ids)
		fmt.Fprintf(&b, "; %d peer%s could not be replicated from:", len(ids), plural(len(ids)))
		for i, id := range ids {
			if i == 3 {
				fmt.Fprintf(&b, " and %d more", len(ids)-3)
				break
			}
			fmt.Fprintf(&b, " %s: %v;", id, r.failed[peer.ID(id)])
		}
	}
	return strings.TrimSuffix(b.String(), ";")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// findAndReplicate opens sessions with the direct peers and with providers found through the DHT,
// in one pass, and returns once it is done (see findPass).
func (n *Node) findAndReplicate(ctx context.Context, c *corestore.Core, wait bool) error {
	rep := n.findPass(ctx, c, nil, wait)
	if rep.sessions == 0 {
		return fmt.Errorf("core %s: %w (%s)", c.Key(), ErrNoProviders, rep)
	}
	return nil
}

// findPass opens sessions with the direct peers, extra, the connected peers and the providers one
// DHT lookup finds. With wait set it returns as soon as one session is open and the core's tree
// has arrived (or a short wait for it has passed); otherwise once every attempt is done. It
// returns only once every goroutine it started is done.
func (n *Node) findPass(ctx context.Context, c *corestore.Core, extra []peer.AddrInfo, wait bool) findReport {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var mu sync.Mutex
	rep := findReport{failed: map[peer.ID]error{}}
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
				rep.failed[ai.ID] = err
				mu.Unlock()
				return
			}
		}
		if err := n.repl.Replicate(cctx, c, ai.ID); err != nil {
			mu.Lock()
			if ctx.Err() == nil {
				rep.failed[ai.ID] = err
			}
			delete(tried, ai.ID) // a later provider record of the same peer may try again
			mu.Unlock()
			return
		}
		mu.Lock()
		rep.sessions++
		delete(rep.failed, ai.ID)
		mu.Unlock()
		select {
		case connected <- struct{}{}:
		default:
		}
	}
	for _, p := range append(append([]peer.AddrInfo(nil), n.direct...), extra...) {
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
			mu.Lock()
			rep.providers++
			mu.Unlock()
			wg.Add(1)
			go try(p)
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	snapshot := func() findReport {
		mu.Lock()
		defer mu.Unlock()
		out := rep
		out.failed = make(map[peer.ID]error, len(rep.failed))
		for k, v := range rep.failed {
			out.failed[k] = v
		}
		return out
	}
	if !wait {
		<-done
		return snapshot()
	}
	select {
	case <-connected:
		// Give the first peer's tree a moment to arrive, then let the download begin.
		deadline := time.After(2 * time.Second)
		for c.Length() == 0 {
			select {
			case <-c.Updated():
			case <-deadline:
				return snapshot()
			case <-ctx.Done():
				return snapshot()
			}
		}
	case <-done:
	case <-ctx.Done():
	}
	return snapshot()
}

// progressLoop reports the download's progress every 200 ms until ctx ends. It says nothing
// until the core's length is known, and stops refreshing once every block of the range is here.
func (n *Node) progressLoop(ctx context.Context, c *corestore.Core, fo FetchOptions, t0 time.Time) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var done bool
	var doneAt time.Duration
	for {
		length := c.Length()
		end := fo.End
		if end == 0 {
			end = length
		}
		if length > 0 && end > fo.Start && !done {
			total := end - fo.Start
			held := total
			if m, ok := c.FirstMissing(fo.Start); ok && m < end {
				held = m - fo.Start
			}
			done = held == total && !fo.Live
			elapsed := time.Since(t0)
			if done {
				doneAt = elapsed
			}
			fo.OnProgress(Progress{Blocks: held, Total: total, Length: length, Bytes: n.repl.Stats().BytesIn,
				Peers: len(n.repl.Peers(c)), Elapsed: max(elapsed, doneAt), Done: done})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
