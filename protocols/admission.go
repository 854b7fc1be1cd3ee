package protocols

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// admission bounds the inbound sync streams that have not finished the capability handshake.
//
// Each peer may have perPeer such streams at once. Peers without an open session share a pool
// of total; a peer with an open session (one that has proved it knows a core key) does not draw
// on the pool, so however the pool is used, authenticated peers' streams are admitted. When the
// pool is full, a stream from a peer is admitted in the place of the oldest pending stream of the
// peer holding the most pool places, provided that peer holds more than the newcomer does: no set
// of peers, however many identities it has, can keep a new peer out, and a peer that sends its
// Open at once (as honest peers do) is never the one displaced.
type admission struct {
	perPeer, total int

	mu      sync.Mutex
	seq     uint64
	pool    map[*pending]struct{} // pending streams counted against total
	byPeer  map[peer.ID]int       // every pending stream, pooled or not
	inPool  map[peer.ID]int       // pooled pending streams
	n, peak int                   // pending streams, and the most at once
	counted admissionCounts
}

// admissionCounts are the admission's counters, for Stats.
type admissionCounts struct {
	refused, evicted uint64
}

// pending is one admitted stream waiting for its handshake.
type pending struct {
	p      peer.ID
	s      network.Stream
	seq    uint64
	pooled bool
}

func newAdmission(perPeer, total int) *admission {
	return &admission{perPeer: perPeer, total: total, pool: map[*pending]struct{}{},
		byPeer: map[peer.ID]int{}, inPool: map[peer.ID]int{}}
}

// admit admits stream s from peer p, which has an open session when trusted. It returns nil when
// the stream is refused; the caller resets it. A stream displaced to make room is reset here.
func (a *admission) admit(p peer.ID, s network.Stream, trusted bool) *pending {
	a.mu.Lock()
	if a.byPeer[p] >= a.perPeer {
		a.counted.refused++
		a.mu.Unlock()
		return nil
	}
	var evict *pending
	if !trusted && len(a.pool) >= a.total {
		evict = a.victimLocked()
		if evict == nil || a.inPool[evict.p] <= a.inPool[p] {
			a.counted.refused++
			a.mu.Unlock()
			return nil
		}
		a.removeLocked(evict)
		a.counted.evicted++
	}
	a.seq++
	ps := &pending{p: p, s: s, seq: a.seq, pooled: !trusted}
	a.byPeer[p]++
	a.n++
	if ps.pooled {
		a.pool[ps] = struct{}{}
		a.inPool[p]++
	}
	a.peak = max(a.peak, a.n)
	a.mu.Unlock()
	if evict != nil {
		evict.s.Reset()
	}
	return ps
}

// victimLocked returns the oldest pooled stream of the peer with the most pooled streams.
func (a *admission) victimLocked() *pending {
	var v *pending
	for ps := range a.pool {
		if v == nil {
			v = ps
			continue
		}
		n, vn := a.inPool[ps.p], a.inPool[v.p]
		if n > vn || (n == vn && ps.seq < v.seq) {
			v = ps
		}
	}
	return v
}

// done releases ps, once its handshake finished or failed. It reports whether ps was still
// admitted, that is not displaced meanwhile.
func (a *admission) done(ps *pending) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps.pooled {
		if _, ok := a.pool[ps]; !ok {
			return false
		}
	}
	a.removeLocked(ps)
	return true
}

func (a *admission) removeLocked(ps *pending) {
	if ps.pooled {
		delete(a.pool, ps)
		if a.inPool[ps.p]--; a.inPool[ps.p] <= 0 {
			delete(a.inPool, ps.p)
		}
	}
	if a.byPeer[ps.p]--; a.byPeer[ps.p] <= 0 {
		delete(a.byPeer, ps.p)
	}
	a.n--
}

// refuse counts a stream reset on arrival for another reason (a banned peer).
func (a *admission) refuse() {
	a.mu.Lock()
	a.counted.refused++
	a.mu.Unlock()
}

// stats returns the streams pending now, the most there have been at once, and the counters.
func (a *admission) stats() (now, peak int, c admissionCounts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.peak, a.counted
}
