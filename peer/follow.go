package peer

import (
	"context"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Follow keeps the replica with key up to date until the node closes: it replicates every block,
// including those appended later, from every peer that holds the core. It is what a replica
// service runs. Following a writable core, or one already followed, does nothing.
func (n *Node) Follow(key corestore.Key) error {
	c, err := n.Repo.Store.Replica(n.ctx, key)
	if err != nil {
		return err
	}
	n.mu.Lock()
	already := n.following[key]
	n.following[key] = true
	n.mu.Unlock()
	if c.Writable() || already {
		return nil
	}
	n.goroutine(func(ctx context.Context) {
		cancel := n.repl.Want(c, 0, 0)
		defer cancel()
		<-ctx.Done()
	})
	n.goroutine(func(ctx context.Context) { n.findProvidersLoop(ctx, c) })
	return nil
}

// Following lists the keys of the replicas the node follows.
func (n *Node) Following() []corestore.Key {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]corestore.Key, 0, len(n.following))
	for k := range n.following {
		out = append(out, k)
	}
	return out
}

// findProvidersLoop keeps looking for providers of a replica until ctx ends: every 3 s while it
// has no session, and every 10 s otherwise, so that a restarted owner or a new replica with
// newer blocks is picked up even when the sessions it has are with peers that are behind.
func (n *Node) findProvidersLoop(ctx context.Context, c *corestore.Core) {
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
