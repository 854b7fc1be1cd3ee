package protocols

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// admission bounds the inbound sync streams that have not finished the capability handshake.
//
// Each peer may have perPeer such streams at once. Beyond that there are two pools of total
// places each: one shared by the peers without an open session, and a reserve for the peers
// with one, which have proved they know a core key. However the first pool is used, the peers
// that have proved a capability are admitted from the reserve. When a pool is full, a stream is
// admitted in the place of the oldest stream of the peer holding the most places in it, provided
// that peer holds more than the newcomer: no set of peers, however many identities it has, can
// keep a new peer out, and a peer that sends its Open at once (as honest peers do) is not the one
// displaced.
type admission struct {
	perPeer int

	mu      sync.Mutex
	seq     uint64
	pools   [2]admissionPool // 0: peers without a session; 1: peers with one
	byPeer  map[peer.ID]int  // pending streams of each peer, in both pools
	n, peak int              // pending streams, and the most at once
	counted admissionCounts
}

// admissionPool is one pool of places.
type admissionPool struct {
	size    int
	members map[*pending]struct{}
	byPeer  map[peer.ID]int
}

// admissionCounts are the admission's counters, for Stats.
type admissionCounts struct {
	refused, evicted uint64
}

// pending is one admitted stream waiting for its handshake.
type pending struct {
	p    peer.ID
	s    network.Stream
	seq  uint64
	pool int
}

func newAdmission(perPeer, total int) *admission {
	a := &admission{perPeer: perPeer, byPeer: map[peer.ID]int{}}
	for i := range a.pools {
		a.pools[i] = admissionPool{size: total, members: map[*pending]struct{}{}, byPeer: map[peer.ID]int{}}
	}
	return a
}

// admit admits stream s from peer p, which has an open session when trusted. It returns nil when
// the stream is refused; the caller resets it. A stream displaced to make room is reset here,
// with the resource-limit error code, so that its opener sees ErrBusy.
func (a *admission) admit(p peer.ID, s network.Stream, trusted bool) *pending {
	pi := 0
	if trusted {
		pi = 1
	}
	a.mu.Lock()
	pool := &a.pools[pi]
	if a.byPeer[p] >= a.perPeer {
		a.counted.refused++
		a.mu.Unlock()
		return nil
	}
	var evict *pending
	if len(pool.members) >= pool.size {
		evict = pool.victim()
		if evict == nil || pool.byPeer[evict.p] <= pool.byPeer[p] {
			a.counted.refused++
			a.mu.Unlock()
			return nil
		}
		a.removeLocked(evict)
		a.counted.evicted++
	}
	a.seq++
	ps := &pending{p: p, s: s, seq: a.seq, pool: pi}
	pool.members[ps] = struct{}{}
	pool.byPeer[p]++
	a.byPeer[p]++
	a.n++
	a.peak = max(a.peak, a.n)
	a.mu.Unlock()
	if evict != nil {
		evict.s.ResetWithError(network.StreamResourceLimitExceeded)
	}
	return ps
}

// victim returns the oldest stream of the peer with the most places in the pool.
func (pl *admissionPool) victim() *pending {
	var v *pending
	for ps := range pl.members {
		if v == nil {
			v = ps
			continue
		}
		n, vn := pl.byPeer[ps.p], pl.byPeer[v.p]
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
	if _, ok := a.pools[ps.pool].members[ps]; !ok {
		return false
	}
	a.removeLocked(ps)
	return true
}

func (a *admission) removeLocked(ps *pending) {
	pool := &a.pools[ps.pool]
	delete(pool.members, ps)
	if pool.byPeer[ps.p]--; pool.byPeer[ps.p] <= 0 {
		delete(pool.byPeer, ps.p)
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
