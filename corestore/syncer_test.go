package corestore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupCommitSharesSyncs: concurrent durable appends share syncs, and every one of them is
// acknowledged only after a sync that covers it.
func TestGroupCommitSharesSyncs(t *testing.T) {
	s := openStore(t, t.TempDir())
	var syncs atomic.Int64
	var mu sync.Mutex
	synced := uint64(0) // highest length known durable
	c, _ := s.Create(context.Background(), "g")
	orig := s.syncer.sync
	s.syncer.sync = func() error {
		l := c.Length() // everything committed before the sync is covered by it
		err := orig()
		syncs.Add(1)
		mu.Lock()
		synced = max(synced, l)
		mu.Unlock()
		return err
	}
	const writers, each = 8, 250
	var wg sync.WaitGroup
	var early atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := c.Append(context.Background(), []byte("x"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if n > synced {
					early.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if early.Load() > 0 {
		t.Fatalf("%d appends were acknowledged before a sync covered them", early.Load())
	}
	if n := syncs.Load(); n > writers*each/2 {
		t.Fatalf("%d syncs for %d concurrent appends: group commit is not grouping", n, writers*each)
	}
	t.Logf("%d appends, %d syncs", writers*each, syncs.Load())
}

// TestReplicaFlush: applying a proof commits without a sync of its own, and Flush syncs
// everything applied before it.
func TestReplicaFlush(t *testing.T) {
	ctx := context.Background()
	owner, err := openStore(t, t.TempDir()).Create(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Append(ctx, blocksN(100, "f")...); err != nil {
		t.Fatal(err)
	}
	rs := openStore(t, t.TempDir())
	rep, err := rs.Replica(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	var syncs atomic.Int64
	var covered atomic.Uint64 // contiguous length of the replica when the last sync began
	orig := rs.syncer.sync
	rs.syncer.sync = func() error {
		covered.Store(rep.Contiguous())
		syncs.Add(1)
		return orig()
	}
	syncReplica(t, owner, rep, 0, 10) // the upgrade to length 100, and the first blocks
	for start := uint64(10); start < 100; start += 10 {
		p, err := owner.Prove(ctx, ProofRequest{Start: start, End: start + 10, HaveLength: 100})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rep.ApplyProof(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load(); n != 0 {
		t.Fatalf("applying 10 proofs ran %d syncs; replicas sync once per download", n)
	}
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() != 1 || covered.Load() != 100 {
		t.Fatalf("flush: %d syncs covering %d blocks, want 1 covering 100", syncs.Load(), covered.Load())
	}
}
