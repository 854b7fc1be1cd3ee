package protocols

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
)

// WithSessionObserver sets a function told when a replication session of core with peer p opens
// (opened true: the capability handshake succeeded and the session runs, whichever side opened
// the stream) and when it ends (opened false). Every open is followed by exactly one end, and a
// session's end is never reported before its open. f is called synchronously from the
// replicator's goroutines, so it must return quickly and must not call back into the Replicator.
func WithSessionObserver(f func(core corestore.Key, p peer.ID, opened bool)) Option {
	return func(c *config) { c.onSession = f }
}

// observeSession reports a session's open or end to the observer, if one is set.
func (r *Replicator) observeSession(core corestore.Key, p peer.ID, opened bool) {
	if r.cfg.onSession != nil {
		r.cfg.onSession(core, p, opened)
	}
}
