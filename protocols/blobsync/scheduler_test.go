package blobsync

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func testWant(codec uint64, i int) blobs.Want {
	h, _ := mh.Sum([]byte{byte(i), byte(i >> 8), byte(codec)}, mh.SHA2_256, -1)
	return blobs.Want{CID: cid.NewCidV1(codec, h), Depth: 1, Size: blobs.ChunkSize}
}

func keyOf(w blobs.Want) string { return string(w.CID.Hash()) }

func TestSchedulerOrderAndDedup(t *testing.T) {
	s := newScheduler(time.Second)
	s.addWorker(1)
	l1, l2, in := testWant(cid.Raw, 1), testWant(cid.Raw, 2), testWant(cid.DagProtobuf, 3)
	s.add(l1, l2, in, l1)
	if len(s.items) != 3 || s.pending() != 3 {
		t.Fatalf("%d items, %d pending; want 3", len(s.items), s.pending())
	}
	got := s.assign(1, 10, 1<<30, time.Now())
	if len(got) != 3 || got[0] != in || got[1] != l1 || got[2] != l2 {
		t.Fatalf("assigned %v; want the inner node first, then the leaves in order", got)
	}
	if !s.received(1, keyOf(l1), nil) || s.received(1, keyOf(l1), nil) {
		t.Fatal("a block must count once")
	}
	// Batch limits.
	s2 := newScheduler(time.Second)
	s2.addWorker(1)
	for i := range 10 {
		s2.add(testWant(cid.Raw, i))
	}
	if n := len(s2.assign(1, 3, 1<<30, time.Now())); n != 3 {
		t.Fatalf("assigned %d, want 3", n)
	}
	if n := len(s2.assign(1, 100, 2*blobs.ChunkSize, time.Now())); n != 2 {
		t.Fatalf("assigned %d within two chunks' bytes, want 2", n)
	}
	if s2.pending() != 5 {
		t.Fatalf("%d pending, want 5", s2.pending())
	}
}

func TestSchedulerDontHaveAndUnavailable(t *testing.T) {
	s := newScheduler(time.Second)
	s.addWorker(1)
	s.addWorker(2)
	x := testWant(cid.Raw, 1)
	s.add(x)
	now := time.Now()
	if got := s.assign(1, 10, 1<<30, now); len(got) != 1 {
		t.Fatal("x not assigned")
	}
	s.dontHave(1, keyOf(x))
	if got := s.assign(1, 10, 1<<30, now); len(got) != 0 {
		t.Fatalf("worker 1 lacks x but was given %v", got)
	}
	if _, ok := s.unavailable(); ok {
		t.Fatal("x is unavailable while worker 2 may have it")
	}
	if got := s.assign(2, 10, 1<<30, now); len(got) != 1 {
		t.Fatal("worker 2 was not given x")
	}
	s.dontHave(2, keyOf(x))
	if w, ok := s.unavailable(); !ok || w != x {
		t.Fatal("x lacked by every worker is not unavailable")
	}
	// A new worker may have it.
	s.addWorker(3)
	if _, ok := s.unavailable(); ok {
		t.Fatal("unavailable although worker 3 was not asked")
	}
	if got := s.assign(3, 10, 1<<30, now); len(got) != 1 {
		t.Fatal("worker 3 was not given x")
	}
}

func TestSchedulerSteal(t *testing.T) {
	s := newScheduler(time.Second)
	s.addWorker(1)
	s.addWorker(2)
	x := testWant(cid.Raw, 1)
	s.add(x)
	t0 := time.Now()
	s.assign(1, 10, 1<<30, t0)
	if got := s.assign(2, 10, 1<<30, t0.Add(999*time.Millisecond)); len(got) != 0 {
		t.Fatal("stolen before stealAfter")
	}
	if wake := s.idle(2, t0.Add(500*time.Millisecond)); wake != 500*time.Millisecond {
		t.Fatalf("idle wake %v, want 500ms", wake)
	}
	if got := s.assign(2, 10, 1<<30, t0.Add(time.Second)); len(got) != 1 {
		t.Fatal("not stolen after stealAfter")
	}
	if got := s.assign(1, 10, 1<<30, t0.Add(time.Hour)); len(got) != 0 {
		t.Fatal("a worker stole from itself")
	}
	// The first delivery wins; worker 1's late copy is a duplicate.
	if !s.received(2, keyOf(x), nil) || s.received(1, keyOf(x), nil) || !s.done() {
		t.Fatal("steal bookkeeping")
	}
}

func TestSchedulerRemoveWorker(t *testing.T) {
	s := newScheduler(time.Second)
	s.addWorker(1)
	s.addWorker(2)
	for i := range 4 {
		s.add(testWant(cid.Raw, i))
	}
	s.assign(1, 10, 1<<30, time.Now())
	if s.pending() != 0 {
		t.Fatal("not all assigned")
	}
	s.removeWorker(1)
	if got := s.assign(1, 10, 1<<30, time.Now()); len(got) != 0 {
		t.Fatal("a removed worker was given work")
	}
	if got := s.assign(2, 10, 1<<30, time.Now()); len(got) != 4 {
		t.Fatalf("worker 2 got %d of the removed worker's 4", len(got))
	}
}

// TestSchedulerProperty drives the scheduler with random workers that deliver, lack, fail,
// stall and leave: every block is received exactly once, and nothing is lost while a worker
// that has it is live.
func TestSchedulerProperty(t *testing.T) {
	for seed := range 200 {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		s := newScheduler(time.Second)
		now := time.Unix(0, 0)
		const n = 300
		var all []blobs.Want
		for i := range n {
			codec := uint64(cid.Raw)
			if i%50 == 0 {
				codec = cid.DagProtobuf
			}
			all = append(all, testWant(codec, i))
		}
		s.add(all[:n/2]...)
		pendingAdds := all[n/2:]
		owed := map[int][]blobs.Want{}
		workers := []int{0, 1, 2}
		for _, w := range workers {
			s.addWorker(w)
		}
		got := map[string]int{}
		for step := 0; !s.done(); step++ {
			if step > 100000 {
				t.Fatalf("seed %d: no progress; %d items left", seed, len(s.items))
			}
			now = now.Add(time.Duration(r.IntN(300)) * time.Millisecond)
			w := workers[r.IntN(len(workers))]
			switch op := r.IntN(10); {
			case op < 4:
				owed[w] = append(owed[w], s.assign(w, 1+r.IntN(8), 1<<30, now)...)
			case op < 8 && len(owed[w]) > 0:
				x := owed[w][0]
				owed[w] = owed[w][1:]
				var more []blobs.Want
				if len(pendingAdds) > 0 && r.IntN(3) == 0 {
					k := min(len(pendingAdds), 1+r.IntN(20))
					more, pendingAdds = pendingAdds[:k], pendingAdds[k:]
				}
				if s.received(w, keyOf(x), more) {
					got[keyOf(x)]++
				}
			case op == 8 && len(owed[w]) > 0 && w != 0:
				// Worker 0 always has everything; the others sometimes lack a block.
				x := owed[w][0]
				owed[w] = owed[w][1:]
				s.dontHave(w, keyOf(x))
			case op == 9 && r.IntN(20) == 0 && len(workers) > 1 && w != 0:
				s.removeWorker(w)
				delete(owed, w)
				for i, id := range workers {
					if id == w {
						workers = append(workers[:i], workers[i+1:]...)
						break
					}
				}
			}
			if len(pendingAdds) > 0 && s.done() {
				s.add(pendingAdds...)
				pendingAdds = nil
			}
		}
		if len(got) != n {
			t.Fatalf("seed %d: %d distinct blocks received, want %d", seed, len(got), n)
		}
		for k, c := range got {
			if c != 1 {
				t.Fatalf("seed %d: block %x counted %d times", seed, k, c)
			}
		}
	}
}
