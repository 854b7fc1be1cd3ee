package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Sessions, not downloads: a client that opens a replica by key gets replication sessions with
// the peers that hold it, and downloads only the blocks it reads, each with its proof. This file
// holds the node's side of that: keeping sessions open while a client holds a replica, and
// waiting for one block, a range, or the next append.

// ErrNoSession is returned for a client session ID the node does not know: the client's
// session ended (or the node restarted).
var ErrNoSession = errors.New("no such client session")

// connectEvery is how often a replica with no session looks for peers again while it waits.
const connectEvery = time.Second

// sessionKeeper keeps replication sessions open for a replica that clients hold open.
type sessionKeeper struct {
	core    *corestore.Core
	refs    int
	cancel  context.CancelFunc
	created bool // a session's open created the replica: the last release drops it if still empty
}

// hold records that client session id holds c open, and, for a replica on a running node,
// keeps sessions with its peers open until the last holder lets go. created says that this open
// made the replica, which the last release then drops if nothing ever arrived.
func (cl *clients) hold(id string, c *corestore.Core, created bool) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	lc, ok := cl.local[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrNoSession, id)
	}
	lc.cores[c.Key()]++
	k := cl.keepers[c.Key()]
	if k == nil {
		k = &sessionKeeper{core: c, created: created}
		cl.keepers[c.Key()] = k
		if !c.Writable() {
			ctx, cancel := context.WithCancel(cl.n.ctx)
			k.cancel = cancel
			if !cl.n.goroutine(func(context.Context) { cl.n.keepSessions(ctx, c, 30*time.Second) }) {
				cancel()
			}
		}
	}
	k.refs++
	return nil
}

// release lets go of one hold of client session id on the core with key.
func (cl *clients) release(id string, key corestore.Key) error {
	cl.mu.Lock()
	lc, ok := cl.local[id]
	if !ok {
		cl.mu.Unlock()
		return fmt.Errorf("%w %q", ErrNoSession, id)
	}
	held := lc.cores
	if held[key] == 0 {
		cl.mu.Unlock()
		return nil // closing twice is harmless
	}
	held[key]--
	if held[key] == 0 {
		delete(held, key)
	}
	drop := cl.releaseLocked(key)
	cl.mu.Unlock()
	cl.n.dropIfEmpty(drop)
	return nil
}

// releaseLocked lets go of one hold on the core with key. It returns the replica to drop when
// that was the last hold of a replica a session created and nothing arrived.
func (cl *clients) releaseLocked(key corestore.Key) *corestore.Core {
	k := cl.keepers[key]
	if k == nil {
		return nil
	}
	k.refs--
	if k.refs > 0 {
		return nil
	}
	if k.cancel != nil {
		k.cancel()
	}
	delete(cl.keepers, key)
	if k.created {
		return k.core
	}
	return nil
}

// dropIfEmpty deletes the replica c (nil: nothing) when it never got a signed tree and the node
// does not follow it: a key nobody answered for leaves nothing behind.
func (n *Node) dropIfEmpty(c *corestore.Core) {
	if c == nil || c.Writable() || c.Length() > 0 || len(c.Tree().Signature) > 0 || n.isFollowing(c.Key()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 10*time.Second)
	defer cancel()
	if err := n.deleteCore(ctx, c.Key()); err != nil {
		n.o.log.Warn("drop an empty replica no peer answered for", "core", c.Key().String(), "err", err)
	}
}

// Local returns the Local that operations of the node's API run on, for running them in the
// node's own process without the API.
func (n *Node) Local() *Local { return daemonLocal(n) }

// keepSessions keeps replication sessions open for the replica c until ctx ends, downloading
// nothing by itself: when it has no session it looks for the core's peers (direct peers,
// connected peers, the DHT) every 3 s, and every refresh otherwise, so that a newer provider is
// found even while the peers it has are behind.
func (n *Node) keepSessions(ctx context.Context, c *corestore.Core, refresh time.Duration) {
	var last time.Time
	for {
		if len(n.repl.Peers(c)) == 0 || time.Since(last) >= refresh {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			n.findAndReplicate(fctx, c, false)
			cancel()
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

// connector opens sessions for a replica that has none, at most once per connectEvery.
type connector struct {
	n    *Node
	c    *corestore.Core
	last time.Time
	err  error // the last attempt's error
}

// ensure opens sessions with the core's peers when it has none and the last attempt is old
// enough. It waits for the first session (and briefly for its tree) or for the search to end.
func (k *connector) ensure(ctx context.Context) {
	if k.n == nil || len(k.n.repl.Peers(k.c)) > 0 || time.Since(k.last) < connectEvery {
		return
	}
	k.err = k.n.findAndReplicate(ctx, k.c, true)
	k.last = time.Now()
}

// waitErr is the error of a wait that ctx ended: with the connector's reason when no session
// ever opened.
func (k *connector) waitErr(ctx context.Context, what string) error {
	if k.err != nil && k.n != nil && len(k.n.repl.Peers(k.c)) == 0 {
		return fmt.Errorf("core %s: %s: %w (%w)", k.c.Key(), what, ctx.Err(), k.err)
	}
	return fmt.Errorf("core %s: %s: %w", k.c.Key(), what, ctx.Err())
}

func frozenErr(c *corestore.Core) error {
	if f := c.Info().Frozen; f != "" {
		return fmt.Errorf("core %s: %w: %s", c.Key(), corestore.ErrFrozen, f)
	}
	return nil
}

// waitReady waits until c has a signed length here: at once for a writable core or a replica
// that already holds a signed tree; otherwise it opens sessions with the core's peers and waits
// for the first verified tree. Without a node, a replica without a tree is not available.
func waitReady(ctx context.Context, n *Node, c *corestore.Core) error {
	k := &connector{n: n, c: c}
	for {
		upd := c.Updated()
		if c.Writable() || len(c.Tree().Signature) > 0 {
			return nil
		}
		if n == nil {
			return fmt.Errorf("core %s: %w: no signed length is held here, and no node runs to ask peers for one", c.Key(), corestore.ErrNotAvailable)
		}
		k.ensure(ctx)
		select {
		case <-ctx.Done():
			return k.waitErr(ctx, "waiting for its signed length")
		case <-upd:
		case <-time.After(connectEvery):
		}
	}
}

// getBlock returns block i of c, waiting for it as Hypercore's get(i, {wait: true}) does: a
// block past the length waits for the append that makes it, and a block a replica does not hold
// is requested, alone and with its proof, from the peers it has sessions with (opening them if it
// has none). Without a node, a block not held here is ErrNotAvailable.
func getBlock(ctx context.Context, n *Node, c *corestore.Core, i uint64) ([]byte, error) {
	if c.Has(i) {
		return c.Get(ctx, i)
	}
	replica := !c.Writable() && n != nil
	if replica {
		cancel := n.repl.Want(c, i, i+1)
		defer cancel()
	}
	k := &connector{n: n, c: c}
	for {
		upd := c.Updated()
		if c.Has(i) {
			return c.Get(ctx, i)
		}
		if err := frozenErr(c); err != nil {
			return nil, err
		}
		if !replica && i < c.Length() {
			return c.Get(ctx, i) // cleared here, or a replica without a node: ErrNotAvailable
		}
		if !replica && !c.Writable() {
			return nil, fmt.Errorf("core %s: block %d: %w: past the length held here (%d), and no node runs to ask peers", c.Key(), i, corestore.ErrNotAvailable, c.Length())
		}
		if replica {
			k.ensure(ctx)
		}
		select {
		case <-ctx.Done():
			return nil, k.waitErr(ctx, fmt.Sprintf("waiting for block %d", i))
		case <-upd:
		case <-time.After(connectEvery):
		}
	}
}

// readRange calls fn with blocks [start, end) of c in order, as they become available. A
// replica requests just those blocks from its peers. Live reads go on past end 0 (or past the
// length) with every block appended later, until ctx ends, which ends them without error.
// Non-live reads take end 0 as the length when they start, and fail at once with
// ErrOutOfRange for a range past it.
func readRange(ctx context.Context, n *Node, c *corestore.Core, start, end uint64, live bool, fn func(uint64, []byte) error) error {
	if !live {
		length := c.Length()
		if end == 0 {
			end = length
		}
		if end > length {
			return fmt.Errorf("%w: end %d is past the core's length %d (a live read waits for it)", corestore.ErrOutOfRange, end, length)
		}
	}
	if end != 0 && start > end {
		return fmt.Errorf("%w: start %d is after end %d", corestore.ErrOutOfRange, start, end)
	}
	replica := !c.Writable() && n != nil
	if replica {
		cancel := n.repl.Want(c, start, end) // end 0: the live tail
		defer cancel()
	}
	k := &connector{n: n, c: c}
	next := start
	for {
		upd := c.Updated()
		lim := c.Length()
		if end != 0 {
			lim = min(lim, end)
		}
		for next < lim {
			hi := min(next+1024, lim)
			if m, missing := c.FirstMissing(next); missing && m < hi {
				hi = m
			}
			if hi == next {
				break // wait for the missing block
			}
			bs, err := c.GetRange(ctx, next, hi)
			if err != nil {
				return err
			}
			for j, b := range bs {
				if err := fn(next+uint64(j), b); err != nil {
					return err
				}
			}
			next = hi
		}
		if end != 0 && next >= end {
			return nil
		}
		if err := frozenErr(c); err != nil {
			return err
		}
		if !replica && next < lim {
			return fmt.Errorf("core %s: block %d: %w, and no node runs to ask peers", c.Key(), next, corestore.ErrNotAvailable)
		}
		if replica {
			k.ensure(ctx)
		}
		select {
		case <-ctx.Done():
			if live {
				return nil
			}
			return k.waitErr(ctx, fmt.Sprintf("reading blocks [%d, %d) at block %d", start, end, next))
		case <-upd:
		case <-time.After(connectEvery):
		}
	}
}

// watchLength calls fn with c's length and fork now and after each change, until ctx ends. A
// replica's sessions carry its owner's appends as signed tree upgrades, without the blocks.
func watchLength(ctx context.Context, n *Node, c *corestore.Core, fn func(LengthEvent) error) error {
	var k *connector
	if !c.Writable() && n != nil {
		k = &connector{n: n, c: c}
	}
	last := LengthEvent{Length: ^uint64(0)}
	for {
		upd := c.Updated()
		in := c.Info()
		if ev := (LengthEvent{Length: in.Length, Fork: in.Fork}); ev != last {
			if err := fn(ev); err != nil {
				return err
			}
			last = ev
		}
		if k != nil {
			k.ensure(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-upd:
		case <-time.After(connectEvery):
		}
	}
}

// completeReplica downloads every block of a replica up to its current signed length, so that
// a read of its datoms sees all of them. It does nothing for a writable core or without a node
// (a read then sees what is held here).
func completeReplica(ctx context.Context, n *Node, c *corestore.Core) error {
	if c.Writable() || n == nil {
		return nil
	}
	length := c.Length()
	if _, missing := c.FirstMissing(0); !missing {
		return nil
	}
	k := &connector{n: n, c: c}
	k.ensure(ctx)
	if len(n.repl.Peers(c)) == 0 {
		err := k.err
		if err == nil {
			err = ErrNoProviders
		}
		return fmt.Errorf("core %s holds %d of its %d blocks here: %w", c.Key(), c.Contiguous(), length, err)
	}
	return n.repl.Download(ctx, c, 0, length)
}
