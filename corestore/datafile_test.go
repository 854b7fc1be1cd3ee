package corestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// randomBlocks returns n blocks of random sizes up to max bytes.
func randomBlocks(r *rand.Rand, n, max int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, r.IntN(max+1))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		out[i] = b
	}
	return out
}

// fetch applies the owner's proof of blocks [start, end) to replica, with an upgrade if the owner
// is ahead of it.
func fetch(t testing.TB, owner, replica *Core, start, end uint64) {
	t.Helper()
	ctx := context.Background()
	ot, rt := owner.Tree(), replica.Tree()
	req := ProofRequest{Start: start, End: end, HaveFork: rt.Fork, HaveLength: rt.Length}
	req.Upgrade = ot.Fork != rt.Fork || ot.Length != rt.Length
	req.NeedManifest = replica.Manifest() == nil
	p, err := owner.Prove(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = replica.ApplyProof(ctx, p)
	if errors.Is(err, ErrNotAvailable) && ot.Fork != rt.Fork {
		// A sparse replica may not hold the nodes where the new fork diverged; an upgrade from
		// nothing needs none of them.
		req.HaveLength = 0
		if p, err = owner.Prove(ctx, req); err != nil {
			t.Fatal(err)
		}
		_, err = replica.ApplyProof(ctx, p)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestPropertyReplicaMirrorsOwner drives an owner and a replica through random appends, forks,
// sparse downloads, clears and reopens. Every block the replica says it holds must be the owner's
// block at the replica's fork, everything it holds must prove, and nothing it was sent may be
// missing.
func TestPropertyReplicaMirrorsOwner(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run("", func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 7))
			owner, _ := openStore(t, t.TempDir(), WithDurability(false)).Create(ctx, "o")
			rdir := t.TempDir()
			rs := openStore(t, rdir)
			rep, _ := rs.Replica(ctx, owner.Key())
			forks := map[uint64][][]byte{} // the owner's blocks, by fork
			var blocks [][]byte
			for step := 0; step < 60; step++ {
				switch op := r.IntN(12); {
				case op < 4 || len(blocks) == 0:
					bs := randomBlocks(r, 1+r.IntN(40), 3000)
					if _, err := owner.Append(ctx, bs...); err != nil {
						t.Fatal(err)
					}
					blocks = append(blocks, bs...)
				case op < 5:
					n := r.IntN(len(blocks))
					if err := owner.Truncate(ctx, uint64(n)); err != nil {
						t.Fatal(err)
					}
					blocks = blocks[:n]
				case op < 9:
					lo := r.IntN(len(blocks))
					hi := lo + 1 + r.IntN(len(blocks)-lo)
					fetch(t, owner, rep, uint64(lo), uint64(hi))
					for i := lo; i < hi; i++ {
						if !rep.Has(uint64(i)) {
							t.Fatalf("step %d: block %d was sent but is not held", step, i)
						}
					}
				case op < 10:
					if n := rep.Length(); n > 0 {
						lo := r.Uint64N(n)
						hi := lo + r.Uint64N(n-lo+1)
						if err := rep.Clear(ctx, lo, hi); err != nil {
							t.Fatal(err)
						}
						for i := lo; i < hi; i++ {
							if rep.Has(i) {
								t.Fatalf("step %d: cleared block %d is held", step, i)
							}
						}
					}
				case op < 11 || r.IntN(2) == 0:
					// A clean restart, with a sync first half the time.
					if r.IntN(2) == 0 {
						if err := rep.Flush(ctx); err != nil {
							t.Fatal(err)
						}
					}
					if err := rs.Close(); err != nil {
						t.Fatal(err)
					}
					rs = openStore(t, rdir)
					var err error
					if rep, err = rs.Get(ctx, owner.Key()); err != nil {
						t.Fatal(err)
					}
				default:
					// A power loss: the files as they are now, with the data file's unsynced tail
					// cut at a random length.
					synced := storeMark(t, rs)
					var lost string
					var next *Store
					for attempt := 0; next == nil; attempt++ {
						lost = t.TempDir()
						copyDir(t, rdir, lost)
						path := filepath.Join(lost, DataFileName)
						if st, err := os.Stat(path); err == nil && st.Size() > synced {
							os.Truncate(path, synced+r.Int64N(st.Size()-synced+1))
						}
						var err error
						next, err = Open(ctx, lost, WithLogger(quiet()))
						// A copy taken while Badger compacts can miss a table, which no power loss
						// does; take it again.
						if err != nil && (attempt > 20 || !strings.Contains(err.Error(), "file does not exist for table")) {
							t.Fatal(err)
						}
						if err != nil {
							time.Sleep(20 * time.Millisecond)
						}
					}
					rs.Close()
					rdir, rs = lost, next
					t.Cleanup(func() { next.Close() })
					var err error
					if rep, err = rs.Get(ctx, owner.Key()); err != nil {
						t.Fatal(err)
					}
				}
				forks[owner.Tree().Fork] = slices.Clone(blocks)
				checkReplica(t, rep, forks[rep.Tree().Fork])
			}
			if err := rep.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkReplica compares every block rep holds with want, the owner's blocks at rep's fork, and
// proves each held run against rep's own tree.
func checkReplica(t *testing.T, rep *Core, want [][]byte) {
	t.Helper()
	ctx := context.Background()
	tree := rep.Tree()
	for i := uint64(0); i < tree.Length; {
		if !rep.Has(i) {
			i++
			continue
		}
		end := i + 1
		for end < tree.Length && rep.Has(end) {
			end++
		}
		got, err := rep.GetRange(ctx, i, end)
		if err != nil {
			t.Fatalf("blocks [%d, %d): %v", i, end, err)
		}
		for k, b := range got {
			if !bytes.Equal(b, want[i+uint64(k)]) {
				t.Fatalf("block %d differs from the owner's", i+uint64(k))
			}
		}
		p, err := rep.Prove(ctx, ProofRequest{Start: i, End: end, HaveFork: tree.Fork, HaveLength: tree.Length})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyProof(rep.Key(), rep.Manifest(), tree, rep.rootsAt, p); err != nil {
			t.Fatalf("proof of held blocks [%d, %d): %v", i, end, err)
		}
		i = end
	}
}

// copyDir copies a store's files as they are on disk now, the way a power loss would leave them
// if the kernel had written back everything but what the test then takes away.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplicaCrashLosesOnlyUnsyncedBlocks: a replica's blocks reach the data file without a sync,
// so a power loss can take them while the database still points to them. On open, exactly the
// blocks whose bytes were lost are cleared; synced blocks and intact unsynced ones stay, and the
// lost ones download again.
func TestReplicaCrashLosesOnlyUnsyncedBlocks(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	blocks := randomBlocks(r, 200, 4000)
	owner.Append(ctx, blocks...)
	size := func(lo, hi int) (n int64) {
		for _, b := range blocks[lo:hi] {
			n += int64(len(b))
		}
		return n
	}
	cases := []struct {
		name string
		// lose damages the data file as a power loss would; its bytes from synced on are the
		// unsynced blocks 100..199, written in one piece.
		lose func(t *testing.T, path string, synced int64)
		lost []int // blocks expected to be cleared
	}{
		{"nothing lost", func(*testing.T, string, int64) {}, nil},
		{"tail never written", func(t *testing.T, path string, synced int64) {
			if err := os.Truncate(path, synced+size(100, 150)); err != nil {
				t.Fatal(err)
			}
		}, span(150, 200)},
		{"pages of zeros", func(t *testing.T, path string, synced int64) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt(make([]byte, size(120, 123)), synced+size(100, 120))
		}, span(120, 123)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rs := openStore(t, dir)
			rep, _ := rs.Replica(ctx, owner.Key())
			syncReplica(t, owner, rep, 0, 100)
			if err := rep.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			synced := size(0, 100)
			fetch(t, owner, rep, 100, 200) // not synced
			crashed := t.TempDir()
			copyDir(t, dir, crashed)
			tc.lose(t, filepath.Join(crashed, DataFileName), synced)

			s := openStore(t, crashed)
			c, err := s.Get(ctx, owner.Key())
			if err != nil {
				t.Fatal(err)
			}
			lost := map[int]bool{}
			for _, i := range tc.lost {
				lost[i] = true
			}
			for i := 0; i < 200; i++ {
				if c.Has(uint64(i)) == lost[i] {
					t.Fatalf("block %d: held %v after the crash, lost %v", i, c.Has(uint64(i)), lost[i])
				}
			}
			if err := c.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			if n := countPrefix(t, s, []byte{kindUnsynced}); n != 0 {
				t.Fatalf("%d unsynced records left after recovery", n)
			}
			fetch(t, owner, c, 0, 200)
			checkReplica(t, c, blocks)
			if c.Contiguous() != 200 {
				t.Fatalf("contiguous %d after downloading again", c.Contiguous())
			}
		})
	}
}

func span(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// storeMark returns how far the store's data file is recorded as synced.
func storeMark(t *testing.T, s *Store) int64 {
	t.Helper()
	var mark uint64
	err := s.db.View(func(txn *badger.Txn) (err error) {
		mark, err = syncedMark(txn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return int64(mark)
}

func countPrefix(t *testing.T, s *Store, prefix []byte) (n int) {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplicaDataCorruptionIsReported: a replica's damaged block bytes are reported as ErrCorrupt
// naming the core and the block, and a damaged external segment record names its segment.
func TestReplicaDataCorruptionIsReported(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	owner.Append(ctx, blocksN(10, "v")...)
	cases := []struct {
		name    string
		corrupt func(t *testing.T, s *Store, c *Core)
		says    string
	}{
		{"flipped byte in the data file", func(t *testing.T, s *Store, c *Core) {
			f, _ := os.OpenFile(filepath.Join(s.dir, DataFileName), os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt([]byte{'X'}, int64(len("v-0")*9)) // in block 9
		}, "block 9"},
		{"data file cut short", func(t *testing.T, s *Store, c *Core) {
			os.Truncate(filepath.Join(s.dir, DataFileName), 5)
		}, "short"},
		{"external offsets out of order", func(t *testing.T, s *Store, c *Core) {
			if err := rewrite(s, posKey(kindSegment, c.id, 0), func(v []byte) []byte {
				binary.LittleEndian.PutUint32(v[8:], 0xFFFFFFF0) // where block 1 begins
				return v
			}); err != nil {
				t.Fatal(err)
			}
		}, "segment at 0"},
		{"external segment cut", func(t *testing.T, s *Store, c *Core) {
			if err := rewrite(s, posKey(kindSegment, c.id, 0), func(v []byte) []byte { return v[:len(v)-1] }); err != nil {
				t.Fatal(err)
			}
		}, "segment at 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			c, _ := s.Replica(ctx, owner.Key())
			syncReplica(t, owner, c, 0, 10)
			s.Close()
			s = openStore(t, dir)
			c, _ = s.Get(ctx, owner.Key())
			tc.corrupt(t, s, c)
			_, err := c.Get(ctx, 9)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.Key().String()) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v; want ErrCorrupt naming the core and %q", err, tc.says)
			}
		})
	}
}

// TestRecoveryAfterShorterFork: blocks written but not synced, then dropped by a new fork before
// the crash, are no obstacle to opening the store.
func TestRecoveryAfterShorterFork(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	owner.Append(ctx, blocksN(200, "a")...)
	dir := t.TempDir()
	rep, _ := openStore(t, dir).Replica(ctx, owner.Key())
	fetch(t, owner, rep, 100, 200) // not synced
	if err := owner.Truncate(ctx, 50); err != nil {
		t.Fatal(err)
	}
	owner.Append(ctx, blocksN(10, "b")...)
	fetch(t, owner, rep, 50, 60)
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	s := openStore(t, crashed)
	c, err := s.Get(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Length() != 60 || !c.Has(55) {
		t.Fatalf("after the crash: length %d, block 55 held %v", c.Length(), c.Has(55))
	}
}

// TestClearedBytesStayUntilTheClearIsDurable: a crash after Clear, with the Clear's commit lost,
// leaves the database pointing at the cleared blocks, which must then still be there.
func TestClearedBytesStayUntilTheClearIsDurable(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	bs := make([][]byte, 10)
	for i := range bs {
		bs[i] = bytes.Repeat([]byte{byte(i + 1)}, 8192)
	}
	owner.Append(ctx, bs...)
	dir := t.TempDir()
	rep, _ := openStore(t, dir).Replica(ctx, owner.Key())
	fetch(t, owner, rep, 0, 10)
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	copyDir(t, dir, crashed) // the database as synced
	if err := rep.Clear(ctx, 2, 5); err != nil {
		t.Fatal(err)
	}
	// The data file as it is after the Clear, whose commit the crash lost.
	b, err := os.ReadFile(filepath.Join(dir, DataFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, DataFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := openStore(t, crashed).Get(ctx, owner.Key())
	checkReplica(t, c, bs)
	if !c.Has(3) {
		t.Fatal("the crash lost the clear, yet block 3 is not held")
	}
}

// TestEmptyRunsKeepRecordsApart: a run of empty blocks writes nothing to the data file, so it must
// not take a record keyed by the offset the next write starts at. Here the empty run's transaction
// commits last, as a concurrent proof's may.
func TestEmptyRunsKeepRecordsApart(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	oa, _ := openStore(t, t.TempDir()).Create(ctx, "a")
	ob, _ := openStore(t, t.TempDir()).Create(ctx, "b")
	a, _ := s.Replica(ctx, oa.Key())
	b, _ := s.Replica(ctx, ob.Key())
	ta, tb := s.db.NewTransaction(true), s.db.NewTransaction(true)
	defer ta.Discard()
	defer tb.Discard()
	if _, err := a.putExternal(ta, 0, [][]byte{{}, {}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.putExternal(tb, 0, [][]byte{[]byte("hello world")}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := ta.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []unsynced
	s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindUnsynced}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, _ := it.Item().ValueCopy(nil)
			u, err := decodeUnsynced(v)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, u)
		}
		return nil
	})
	if want := []unsynced{{ID: b.id, Start: 0, Count: 1, Size: 11}}; !slices.Equal(got, want) {
		t.Fatalf("unsynced records %+v, want %+v", got, want)
	}
}

// TestCorruptSegmentDamagesNoOtherCore: clearing blocks of a core whose segment record is damaged
// fails, and leaves every other core's bytes alone.
func TestCorruptSegmentDamagesNoOtherCore(t *testing.T) {
	ctx := context.Background()
	oa, _ := openStore(t, t.TempDir()).Create(ctx, "a")
	ob, _ := openStore(t, t.TempDir()).Create(ctx, "b")
	oa.Append(ctx, blocksN(3, strings.Repeat("a", 60))...)
	big := make([][]byte, 4)
	for i := range big {
		big[i] = bytes.Repeat([]byte{byte(i + 1)}, 16<<10)
	}
	ob.Append(ctx, big...)
	s := openStore(t, t.TempDir())
	a, _ := s.Replica(ctx, oa.Key())
	b, _ := s.Replica(ctx, ob.Key())
	fetch(t, oa, a, 0, 3)
	fetch(t, ob, b, 0, 4)
	if err := rewrite(s, posKey(kindSegment, a.id, 0), func(v []byte) []byte {
		binary.LittleEndian.PutUint32(v[8:], 150) // block 1 begins past block 2
		return v
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Clear(ctx, 1, 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("clear over a damaged segment: %v, want ErrCorrupt", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	checkReplica(t, b, big)
}

// TestSkipBytes: after a short vectored write, the rest of the blocks is what remains unwritten.
func TestSkipBytes(t *testing.T) {
	blocks := [][]byte{[]byte("abc"), {}, []byte("de"), []byte("fgh")}
	cases := []struct {
		n    int
		want string
		left int // blocks left
	}{
		{0, "abcdefgh", 4},
		{2, "cdefgh", 4},
		{3, "defgh", 2}, // the empty block goes with the one before it
		{4, "efgh", 2},
		{5, "fgh", 1},
		{8, "", 0},
	}
	for _, tc := range cases {
		got := skipBytes(blocks, tc.n)
		if s := string(bytes.Join(got, nil)); s != tc.want || len(got) != tc.left {
			t.Errorf("skipBytes(%d) = %q in %d blocks, want %q in %d", tc.n, s, len(got), tc.want, tc.left)
		}
	}
	if string(blocks[0]) != "abc" {
		t.Fatal("skipBytes changed its input")
	}
}
