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
