package corestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
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

// TestSyncCoversEveryMemtableLog: a store's sync syncs the logs of the memtables that Badger's own
// Sync leaves out, every one but the newest, and nothing else in the directory.
func TestSyncCoversEveryMemtableLog(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"99999.mem", "100000.mem", "00007.mem", "000003.vlog", "000004.sst", "MANIFEST"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var synced []string
	n, err := syncMemtableLogs(dir, func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return nil
	})
	if want := []string{"00007.mem", "99999.mem"}; err != nil || n != 2 || !slices.Equal(synced, want) {
		t.Fatalf("synced %v (%d), %v; want %v", synced, n, err, want)
	}
	boom := errors.New("disk gone")
	if _, err := syncMemtableLogs(dir, func(*os.File) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed sync of a log: %v", err)
	}
}

// TestSyncAfterCloseIsAnError: syncing a closed store reports ErrClosed instead of touching the
// closed database.
func TestSyncAfterCloseIsAnError(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, _ := s.Create(ctx, "c")
	c.Append(ctx, []byte("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v, want ErrClosed", err)
	}
	if err := s.Sync(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("sync after close: %v, want ErrClosed", err)
	}
}
