package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FetchOptions says what Fetch downloads.
type FetchOptions struct {
	// Start and End select blocks [Start, End); End 0 means up to the newest length.
	Start, End uint64
	// Live keeps following the core after the first download, until ctx ends.
	Live bool
	// FindTimeout bounds the search for peers that hold the core (default 30 s).
	FindTimeout time.Duration
	// OnProgress, if set, is called with progress while downloading, from another goroutine;
	// Fetch does not return before its last call has returned.
	OnProgress func(Progress)
	// OnBlocks, if set, is called with each new contiguous run of blocks, in order.
	OnBlocks func(start uint64, blocks [][]byte) error
}

// Progress describes a running download.
type Progress struct {
	Blocks  uint64        `json:"blocks"`
	Length  uint64        `json:"length"`
	Bytes   uint64        `json:"bytes"`
	Peers   int           `json:"peers"`
	Elapsed time.Duration `json:"elapsed"`
}

// ErrNoProviders is returned by Fetch when no peer holding the core answered in time.
var ErrNoProviders = errors.New("no peer that holds the core was found")

// Fetch finds peers that hold the core with key (direct peers first, then the DHT), replicates
// from several at once, verifies everything, and delivers blocks [Start, End). The replica stays
// in the repo; a started node announces it and keeps following it.
func (n *Node) Fetch(ctx context.Context, key corestore.Key, fo FetchOptions) (*corestore.Core, error) {
	c, err := n.Repo.Store.Replica(ctx, key)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup // the goroutines of this call; waited for before it returns
	defer wg.Wait()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if fo.OnProgress != nil {
		t0 := time.Now()
		wg.Go(func() { n.progressLoop(cctx, c, fo.OnProgress, t0) })
	}
	if !c.Writable() { // our own core has nothing to download
		ft := fo.FindTimeout
		if ft <= 0 {
			ft = 30 * time.Second
		}
		fctx, fcancel := context.WithTimeout(cctx, ft)
		err := n.findAndReplicate(fctx, c, true)
		fcancel()
		if err != nil {
			if ctx.Err() == nil && fctx.Err() != nil {
				return nil, fmt.Errorf("core %s: %w within %s", key, ErrNoProviders, ft)
			}
			return nil, err
		}
		if err := n.repl.Download(cctx, c, fo.Start, fo.End); err != nil {
			return nil, err
		}
	}
	if n.isStarted() {
		n.Follow(key) // a started node keeps what it downloaded up to date, and serves it
	}
	end := fo.End
	if end == 0 {
		end = c.Length()
	}
	next := fo.Start
	if fo.OnBlocks != nil {
		if err := n.deliver(cctx, c, &next, end, fo.OnBlocks); err != nil {
			return c, err
		}
	}
	if !fo.Live {
		return c, nil
	}
	if !n.isStarted() {
		wg.Go(func() { n.findProvidersLoop(cctx, c) })
	}
	cancelWant := n.repl.Want(c, next, 0)
	defer cancelWant()
	for {
		upd := c.Updated()
		if fo.OnBlocks != nil {
			if err := n.deliver(cctx, c, &next, c.Length(), fo.OnBlocks); err != nil {
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
// briefly for the first tree to arrive. It returns only once every goroutine it started is done.
func (n *Node) findAndReplicate(ctx context.Context, c *corestore.Core, wait bool) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var mu sync.Mutex
	sessions := 0
	var errs []error
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
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range n.disc.FindProviders(ctx, c.DiscoveryKey(), 20) {
			wg.Add(1)
			go try(p)
		}
	}()
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
				return fmt.Errorf("core %s: %w", c.Key(), ErrNoProviders)
			}
			return fmt.Errorf("core %s: %w: %w", c.Key(), ErrNoProviders, e)
		case <-ctx.Done():
			return fmt.Errorf("core %s: %w within the timeout", c.Key(), ErrNoProviders)
		}
	}
}

// progressLoop reports the download's progress every 200 ms until ctx ends.
func (n *Node) progressLoop(ctx context.Context, c *corestore.Core, on func(Progress), t0 time.Time) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		in := c.Info()
		on(Progress{Blocks: c.Contiguous(), Length: in.Length, Bytes: n.repl.Stats().BytesIn,
			Peers: len(n.repl.Peers(c)), Elapsed: time.Since(t0)})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
