package protocols

import (
	"math"
	"sort"
	"sync"
)

// Chunk sizing: a chunk is the unit the scheduler hands to one peer at a time. It holds
// targetChunkBytes of blocks on average, between minChunk and maxChunk blocks. 1 MiB keeps the
// sender, the network and the receiver's hashing and storing busy at once; 4 MiB chunks were
// about 15% slower for 1 KiB blocks on loopback, since each stage waited longer for the one
// before it.
const (
	targetChunkBytes = 1 << 20
	minChunk         = 16
	maxChunk         = 4096
)

// Scheduler decides, for one core, which blocks each session asks its peer for. Sessions of the
// same core share it, so that different peers are given different chunks, and it holds the
// core's wants. It does no I/O; it reads the local core through Local. It is safe for concurrent
// use.
type Scheduler struct {
	mu       sync.Mutex
	chunk    uint64
	wants    map[uint64]span // open-ended wants have end math.MaxUint64
	nextWant uint64
	inflight map[uint64]uint64 // chunk index → session id
	upgrader uint64            // session holding the upgrade slot, or 0
	// upWant holds the sessions waiting to upgrade the tree. Block proofs are made against the
	// local tree and fail once it moves, so an upgrade waits for the chunks in flight to land and
	// no new chunks are handed out meanwhile: drain, upgrade, resume.
	upWant  map[uint64]bool
	changed chan struct{}
}

// NewScheduler returns the scheduler of one core, with no wants.
func NewScheduler() *Scheduler {
	return &Scheduler{wants: map[uint64]span{}, inflight: map[uint64]uint64{}, upWant: map[uint64]bool{}, changed: make(chan struct{})}
}

// wakeLocked tells sessions waiting on Changed that they may be able to send new requests.
func (s *Scheduler) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of wants or of chunk assignments.
func (s *Scheduler) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// addWant registers interest in [start, end); end 0 means open-ended (live). It returns an id
// for removeWant.
func (s *Scheduler) addWant(start, end uint64) uint64 {
	if end == 0 {
		end = math.MaxUint64
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextWant++
	s.wants[s.nextWant] = span{start, end}
	s.wakeLocked()
	return s.nextWant
}

// Want registers interest in blocks [start, end) (end 0: open-ended) until cancel is called.
func (s *Scheduler) Want(start, end uint64) (cancel func()) {
	id := s.addWant(start, end)
	var once sync.Once
	return func() { once.Do(func() { s.removeWant(id) }) }
}

func (s *Scheduler) removeWant(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.wants, id)
	s.wakeLocked()
}

// wantedUntil returns the end of the wanted span containing i, or i when i is not wanted.
func (s *Scheduler) wantedUntil(i uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var iv intervals
	for _, w := range s.wants {
		iv.add(w.start, w.end)
	}
	return iv.runFrom(i)
}

// wantSpans returns the union of the wants, sorted; call with s.mu held.
func (s *Scheduler) wantSpansLocked() []span {
	var iv intervals
	for _, w := range s.wants {
		iv.add(w.start, w.end)
	}
	return iv.s
}

// WantSpans returns the union of the wants, sorted.
func (s *Scheduler) WantSpans() []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wantSpansLocked()
}

// chunkSizeLocked returns the chunk size. It follows the core's length and average block size,
// and changes only while no chunk is in flight, since in-flight chunks are keyed by index.
func (s *Scheduler) chunkSizeLocked(length, byteLength uint64) uint64 {
	if s.chunk != 0 && len(s.inflight) > 0 {
		return s.chunk
	}
	if length == 0 {
		return maxChunk
	}
	avg := max(byteLength/length, 1)
	// At most targetChunkBytes, and small enough that the core splits into at least 16 chunks
	// for several peers to share.
	c := uint64(minChunk)
	for c < maxChunk && (2*c)*avg <= targetChunkBytes && 2*c*16 <= length {
		c *= 2
	}
	s.chunk = c
	return c
}

// remoteView is what the scheduler needs to know of a peer's holdings.
type remoteView interface {
	// runFrom returns the end of the held run containing i, or i when i is not held.
	runFrom(i uint64) uint64
	// nextFrom returns the first held block at or after i.
	nextFrom(i uint64) (uint64, bool)
}

// next assigns session sid a run of missing, wanted blocks that the peer holds, inside one chunk
// nobody else is fetching, and marks the chunk in flight. It returns the run and its chunk.
func (s *Scheduler) next(sid uint64, loc Local, length, byteLength uint64, remote remoteView) (start, end, chunk uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.chunkSizeLocked(length, byteLength)
	if s.upgrader != 0 || len(s.upWant) > 0 {
		return 0, 0, 0, false
	}
	const maxSteps = 4096 // bound the work per call; the rest is found on a later call
	steps := 0
	for _, w := range s.wantSpansLocked() {
		we := min(w.end, length)
		for i := w.start; i < we && steps < maxSteps; steps++ {
			m, missing := loc.FirstMissing(i)
			if !missing || m >= we {
				break
			}
			c := m / k
			cEnd := min((c+1)*k, we)
			if _, busy := s.inflight[c]; busy {
				i = cEnd
				continue
			}
			r := remote.runFrom(m)
			if r <= m {
				n, any := remote.nextFrom(m)
				if !any || n >= we {
					break
				}
				i = n
				continue
			}
			e, lim := m+1, min(cEnd, r)
			for e < lim && !loc.Has(e) {
				e++
			}
			s.inflight[c] = sid
			return m, e, c, true
		}
	}
	return 0, 0, 0, false
}

// release frees chunk c held by sid.
func (s *Scheduler) release(sid, c uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[c] == sid {
		delete(s.inflight, c)
		s.wakeLocked()
	}
}

// wantUpgrade records whether sid would like to upgrade the tree.
func (s *Scheduler) wantUpgrade(sid uint64, want bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if want == s.upWant[sid] {
		return
	}
	if want {
		s.upWant[sid] = true
	} else {
		delete(s.upWant, sid)
		s.wakeLocked()
	}
}

// tryUpgrade gives sid the core's single upgrade slot if it is free and no chunk is in flight.
func (s *Scheduler) tryUpgrade(sid uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.upgrader != 0 && s.upgrader != sid) || len(s.inflight) > 0 {
		return false
	}
	s.upgrader = sid
	delete(s.upWant, sid)
	return true
}

// endUpgrade frees the upgrade slot held by sid.
func (s *Scheduler) endUpgrade(sid uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.upgrader == sid {
		s.upgrader = 0
		s.wakeLocked()
	}
}

// dropSession frees everything sid holds.
func (s *Scheduler) dropSession(sid uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, owner := range s.inflight {
		if owner == sid {
			delete(s.inflight, c)
		}
	}
	if s.upgrader == sid {
		s.upgrader = 0
	}
	delete(s.upWant, sid)
	s.wakeLocked()
}

// nextFrom returns the first element of the set at or after i.
func (iv *intervals) nextFrom(i uint64) (uint64, bool) {
	k := sort.Search(len(iv.s), func(k int) bool { return iv.s[k].end > i })
	if k == len(iv.s) {
		return 0, false
	}
	return max(i, iv.s[k].start), true
}
