package blobsync

import (
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
)

// scheduler decides which worker (a provider's stream, or bitswap) asks for which block. It is
// a pure state machine: no I/O, no clock of its own (callers pass now), no locking (the fetch
// holds a mutex around it).
//
// Blocks wait in a queue, inner nodes first (they unlock more work), then leaves in file order.
// A worker takes a batch from the front, skipping blocks it said it lacks. When the queue is
// empty, an idle worker also takes blocks another worker has had for longer than stealAfter:
// so a stalling provider delays the end of a fetch by stealAfter, not forever, and duplicate
// requests stay rare. A block counts once: the first copy received wins.
type scheduler struct {
	queue      []*item // pending; inner nodes are pushed at the front
	head       int     // queue[:head] is consumed
	nqueued    int     // items with queued set
	items      map[string]*item
	lacked     map[string]*item // items some worker said it lacks
	workers    map[int]bool     // live workers
	stealAfter time.Duration
}

type item struct {
	w        blobs.Want
	key      string
	assigned map[int]time.Time // worker -> when it was asked
	lacking  map[int]bool      // workers that said they do not have it
	queued   bool
}

func newScheduler(stealAfter time.Duration) *scheduler {
	return &scheduler{items: map[string]*item{}, lacked: map[string]*item{}, workers: map[int]bool{}, stealAfter: stealAfter}
}

// addWorker registers worker id.
func (s *scheduler) addWorker(id int) { s.workers[id] = true }

// add queues wants not already wanted.
func (s *scheduler) add(ws ...blobs.Want) {
	for _, w := range ws {
		k := string(w.CID.Hash())
		if _, ok := s.items[k]; ok {
			continue
		}
		it := &item{w: w, key: k, assigned: map[int]time.Time{}, lacking: map[int]bool{}}
		s.items[k] = it
		s.enqueue(it)
	}
}

// enqueue puts it back in the queue: inner nodes at the front, leaves at the back.
func (s *scheduler) enqueue(it *item) {
	if it.queued {
		return
	}
	it.queued = true
	s.nqueued++
	if it.w.CID.Type() == cid.DagProtobuf && s.head > 0 { // dag-pb: room at the front
		s.head--
		s.queue[s.head] = it
		return
	}
	if it.w.CID.Type() == cid.DagProtobuf {
		s.queue = append([]*item{it}, s.queue[s.head:]...)
		s.head = 0
		return
	}
	s.queue = append(s.queue, it)
}

// assign gives worker id up to maxN blocks of up to about maxBytes in all (a block's size is
// what its parent says; the root counts as one chunk).
func (s *scheduler) assign(id int, maxN int, maxBytes uint64, now time.Time) []blobs.Want {
	if !s.workers[id] {
		return nil
	}
	var out []blobs.Want
	var bytes uint64
	take := func(it *item) bool {
		it.assigned[id] = now
		out = append(out, it.w)
		bytes += max(it.w.Size, blobs.ChunkSize)
		return len(out) < maxN && bytes < maxBytes
	}
	// From the queue, keeping in it what this worker lacks.
	var skipped []*item
	for s.head < len(s.queue) {
		it := s.queue[s.head]
		s.queue[s.head] = nil
		s.head++
		if _, ok := s.items[it.key]; !ok || !it.queued {
			continue // received meanwhile
		}
		if it.lacking[id] {
			skipped = append(skipped, it)
			continue
		}
		it.queued = false
		s.nqueued--
		if !take(it) {
			break
		}
	}
	for i := len(skipped) - 1; i >= 0; i-- {
		// Back to the front, in their order.
		if s.head > 0 {
			s.head--
			s.queue[s.head] = skipped[i]
		} else {
			s.queue = append([]*item{skipped[i]}, s.queue...)
		}
	}
	s.compact()
	if len(out) > 0 || s.pending() > 0 {
		return out
	}
	// Endgame: blocks others have had too long.
	for _, it := range s.items {
		if len(out) >= maxN || bytes >= maxBytes {
			break
		}
		if _, mine := it.assigned[id]; mine || it.lacking[id] || len(it.assigned) == 0 {
			continue
		}
		oldest := now
		for _, t := range it.assigned {
			if t.Before(oldest) {
				oldest = t
			}
		}
		if now.Sub(oldest) >= s.stealAfter {
			take(it)
		}
	}
	return out
}

// compact drops the consumed front of the queue once it is most of it.
func (s *scheduler) compact() {
	if s.head > 1024 && s.head > len(s.queue)/2 {
		s.queue = append([]*item(nil), s.queue[s.head:]...)
		s.head = 0
	}
}

// pending counts the queued blocks (some may be lacked by every worker).
func (s *scheduler) pending() int { return s.nqueued }

// received records that worker id delivered the block with multihash key and adds the wants
// the block revealed. It reports false if the block was no longer wanted (a duplicate).
func (s *scheduler) received(id int, key string, more []blobs.Want) bool {
	it, ok := s.items[key]
	if !ok {
		return false
	}
	delete(s.items, key)
	delete(s.lacked, key)
	if it.queued {
		it.queued = false
		s.nqueued--
	}
	s.add(more...)
	return true
}

// dontHave records that worker id lacks the block key.
func (s *scheduler) dontHave(id int, key string) {
	it, ok := s.items[key]
	if !ok {
		return
	}
	it.lacking[id] = true
	s.lacked[key] = it
	delete(it.assigned, id)
	if len(it.assigned) == 0 {
		s.enqueue(it)
	}
}

// release returns blocks assigned to worker id that it will not deliver (its request failed).
func (s *scheduler) release(id int, keys []string) {
	for _, k := range keys {
		it, ok := s.items[k]
		if !ok {
			continue
		}
		delete(it.assigned, id)
		if len(it.assigned) == 0 {
			s.enqueue(it)
		}
	}
}

// removeWorker drops worker id and gives back everything it was asked for.
func (s *scheduler) removeWorker(id int) {
	delete(s.workers, id)
	for _, it := range s.items {
		if _, ok := it.assigned[id]; ok {
			delete(it.assigned, id)
			if len(it.assigned) == 0 {
				s.enqueue(it)
			}
		}
	}
}

// done reports whether nothing is wanted any more.
func (s *scheduler) done() bool { return len(s.items) == 0 }

// unavailable returns a block that every live worker said it lacks, if there is one.
func (s *scheduler) unavailable() (blobs.Want, bool) {
	for _, it := range s.lacked {
		if len(it.assigned) > 0 {
			continue
		}
		all := true
		for id := range s.workers {
			if !it.lacking[id] {
				all = false
				break
			}
		}
		if all {
			return it.w, true
		}
	}
	return blobs.Want{}, false
}

// idle reports whether worker id has nothing it could be given now; wake tells how long until a
// block it could steal ages enough (zero when none will).
func (s *scheduler) idle(id int, now time.Time) (wake time.Duration) {
	for _, it := range s.items {
		if _, mine := it.assigned[id]; mine || it.lacking[id] || len(it.assigned) == 0 {
			continue
		}
		for _, t := range it.assigned {
			d := s.stealAfter - now.Sub(t)
			if d <= 0 {
				return time.Millisecond
			}
			if wake == 0 || d < wake {
				wake = d
			}
		}
	}
	return wake
}
