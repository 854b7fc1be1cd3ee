package peer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Following is explicit. A started node keeps up to date exactly the replicas it is told to
// follow: those in the repo's config (`datomspace follow KEY`, persisted), those `serve --follow`
// names, and, for their duration, live fetches. A replica fetched once is served and announced,
// but not kept up to date.

// Follow keeps the replica with key up to date until the node closes or Unfollow: it replicates
// every block, including those appended later, from every peer that holds the core. It is what
// a replica service runs. Following a writable core, or one already followed, does nothing.
func (n *Node) Follow(key corestore.Key) error {
	c, err := n.Repo.Store.Replica(n.ctx, key)
	if err != nil {
		return err
	}
	if c.Writable() {
		return nil
	}
	n.mu.Lock()
	if _, already := n.following[key]; already || n.closed {
		n.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(n.ctx)
	n.following[key] = cancel
	n.mu.Unlock()
	n.goroutine(func(context.Context) {
		stop := n.repl.Want(c, 0, 0)
		defer stop()
		<-ctx.Done()
	})
	n.goroutine(func(context.Context) { n.findProvidersLoop(ctx, c) })
	return nil
}

// Unfollow stops keeping the replica with key up to date. What it holds stays.
func (n *Node) Unfollow(key corestore.Key) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cancel, ok := n.following[key]; ok {
		cancel()
		delete(n.following, key)
	}
}

// Following lists the keys of the replicas the node follows.
func (n *Node) Following() []corestore.Key {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]corestore.Key, 0, len(n.following))
	for k := range n.following {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b corestore.Key) int { return slices.Compare(a[:], b[:]) })
	return out
}

func (n *Node) isFollowing(key corestore.Key) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.following[key]
	return ok
}

// followConfigured follows the replicas the repo's config lists.
func (n *Node) followConfigured() error {
	for _, s := range n.Repo.Config.Follow {
		k, err := corestore.ParseKey(s)
		if err != nil {
			return fmt.Errorf("config follow %q: %w", s, err)
		}
		if err := n.Follow(k); err != nil {
			return err
		}
	}
	return nil
}

// findProvidersLoop downloads every block of the replica c from its peers as they come, and keeps
// looking for peers (keepSessions, refreshing every 10 s) until ctx ends.
func (n *Node) findProvidersLoop(ctx context.Context, c *corestore.Core) {
	cancel := n.repl.Want(c, c.Contiguous(), 0)
	defer cancel()
	n.keepSessions(ctx, c, 10*time.Second)
}
