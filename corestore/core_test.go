package corestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, append([]Option{WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func blocksN(n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("%s-%d", tag, i))
	}
	return out
}

// TestStoreReproducesVectors builds every vector core through a real store and checks what the
// store reports, before and after a reopen.
func TestStoreReproducesVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range loadVectors(t) {
		t.Run(v.Label, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, WithPrimaryKey([32]byte(unhex(t, v.PrimaryKey))))
			c, err := s.Create(ctx, v.Name)
			if err != nil {
				t.Fatal(err)
			}
			var blocks [][]byte
			for _, b := range v.Blocks {
				blocks = append(blocks, unhex(t, b))
			}
			if _, err := c.Append(ctx, blocks...); err != nil {
				t.Fatal(err)
			}
			check := func(c *Core) {
				in := c.Info()
				last := v.Lengths[len(v.Lengths)-1]
				eqHex(t, "key", in.Key[:], v.Key)
				eqHex(t, "discoveryKey", in.DiscoveryKey[:], v.DiscoveryKey)
				eqHex(t, "treeHash", in.TreeHash[:], last.TreeHash)
				eqHex(t, "signature", in.Signature, last.Signature)
				eqHex(t, "signatureContainer", SignatureContainer(in.Signature), v.SignatureContainer)
				if in.Length != uint64(len(blocks)) {
					t.Errorf("length %d", in.Length)
				}
				for i, b := range blocks {
					got, err := c.Get(ctx, uint64(i))
					if err != nil || !bytes.Equal(got, b) {
						t.Errorf("block %d: %x %v", i, got, err)
					}
				}
				for _, n := range v.Nodes {
					got, ok, err := c.node(n.Index)
					if err != nil || !ok || got.Hash != Hash(unhex(t, n.Hash)) || got.Size != n.Size {
						t.Errorf("stored node %d: %+v %v %v", n.Index, got, ok, err)
					}
				}
				if err := c.Verify(ctx); err != nil {
					t.Error(err)
				}
			}
			check(c)
			s.Close()
			s2 := openStore(t, dir)
			c2, err := s2.Get(ctx, c.Key())
			if err != nil {
				t.Fatal(err)
			}
			if !c2.Writable() {
				t.Error("reopened named core is not writable")
			}
			check(c2)
		})
	}
}

func TestAppendGetTruncateClear(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, err := s.Create(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	all := blocksN(300, "a")
	for i := 0; i < 100; i++ { // single appends
		if _, err := c.Append(ctx, all[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.Append(ctx, all[100:]...); err != nil || n != 300 {
		t.Fatalf("batch append: %d %v", n, err)
	}
	got, err := c.GetRange(ctx, 90, 110)
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range got {
		if !bytes.Equal(b, all[90+k]) {
			t.Fatalf("block %d = %q", 90+k, b)
		}
	}
	if _, err := c.Get(ctx, 300); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("get past end: %v", err)
	}

	// Truncate bumps the fork and the new tree equals a fresh build of the prefix.
	if err := c.Truncate(ctx, 150); err != nil {
		t.Fatal(err)
	}
	fresh, _ := appendToTree(Tree{}, all[:150])
	if in := c.Info(); in.Fork != 1 || in.Length != 150 || in.TreeHash != fresh.Hash() {
		t.Fatalf("after truncate: %+v", in)
	}
	if _, err := c.Get(ctx, 150); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("get truncated: %v", err)
	}
	more := blocksN(60, "b")
	if _, err := c.Append(ctx, more...); err != nil {
		t.Fatal(err)
	}
	fresh, _ = appendToTree(fresh, more)
	if c.Info().TreeHash != fresh.Hash() {
		t.Fatal("append after truncate diverges from a fresh build")
	}
	if b, _ := c.Get(ctx, 155); !bytes.Equal(b, more[5]) {
		t.Fatalf("block 155 = %q", b)
	}
	if err := c.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// Clear drops data, keeps the tree.
	if err := c.Clear(ctx, 10, 20); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 30; i++ {
		_, err := c.Get(ctx, i)
		if want := i >= 10 && i < 20; want != errors.Is(err, ErrNotAvailable) {
			t.Fatalf("after clear, block %d: %v", i, err)
		}
	}
	if c.Info().TreeHash != fresh.Hash() {
		t.Fatal("clear changed the tree")
	}
	if i, ok := c.FirstMissing(0); !ok || i != 10 {
		t.Fatalf("first missing %d %v", i, ok)
	}
	if err := c.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// syncReplica moves everything the owner has to the replica through proofs.
func syncReplica(t testing.TB, owner, replica *Core, start, end uint64) {
	t.Helper()
	ctx := context.Background()
	rt := replica.Tree()
	p, err := owner.Prove(ctx, ProofRequest{Start: start, End: end, Upgrade: true, HaveFork: rt.Fork,
		HaveLength: rt.Length, NeedManifest: replica.Manifest() == nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaSync(t *testing.T) {
	ctx := context.Background()
	owner, err := openStore(t, t.TempDir()).Create(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	blocks := blocksN(1000, "x")
	owner.Append(ctx, blocks[:500]...)
	rs := openStore(t, t.TempDir())
	rep, err := rs.Replica(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Writable() {
		t.Fatal("replica is writable")
	}
	// Sparse: an upgrade with blocks 100..110 only.
	syncReplica(t, owner, rep, 100, 110)
	if rep.Length() != 500 || !rep.Has(105) || rep.Has(99) || rep.Has(110) {
		t.Fatalf("sparse replica: len %d", rep.Length())
	}
	// Blocks against the replica's own tree, no upgrade.
	p, err := owner.Prove(ctx, ProofRequest{Start: 0, End: 100, HaveFork: 0, HaveLength: 500})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
	// Owner grows; the replica upgrades from 500 and takes the rest.
	owner.Append(ctx, blocks[500:]...)
	syncReplica(t, owner, rep, 110, 1000)
	if rep.Contiguous() != 1000 || rep.Info().TreeHash != owner.Info().TreeHash {
		t.Fatalf("replica contiguous %d", rep.Contiguous())
	}
	if err := rep.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	// The replica serves proofs to a third store, with the owner out of the picture.
	third, _ := openStore(t, t.TempDir()).Replica(ctx, owner.Key())
	syncReplica(t, rep, third, 0, 1000)
	if third.Info().Signature == nil || third.Contiguous() != 1000 {
		t.Fatal("third copy incomplete")
	}
	// A remote proof is refused by a writable core.
	if _, err := owner.ApplyProof(ctx, p); err == nil {
		t.Fatal("owner accepted a remote proof")
	}
}

func TestReplicaForkUpgrade(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	owner.Append(ctx, blocksN(100, "a")...)
	rep, _ := openStore(t, t.TempDir()).Replica(ctx, owner.Key())
	syncReplica(t, owner, rep, 0, 100)
	stale, _ := openStore(t, t.TempDir()).Replica(ctx, owner.Key())
	syncReplica(t, owner, stale, 0, 100)
	if err := owner.Truncate(ctx, 60); err != nil {
		t.Fatal(err)
	}
	owner.Append(ctx, blocksN(70, "b")...)
	rt := rep.Tree()
	p, err := owner.Prove(ctx, ProofRequest{Start: 60, End: 130, Upgrade: true, HaveFork: rt.Fork, HaveLength: rt.Length})
	if err != nil {
		t.Fatal(err)
	}
	if p.Upgrade.From != 60 {
		t.Fatalf("upgrade from %d, want the fork point 60", p.Upgrade.From)
	}
	res, err := rep.ApplyProof(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || rep.Info().Fork != 1 || rep.Info().TreeHash != owner.Info().TreeHash || rep.Contiguous() != 130 {
		t.Fatalf("after fork upgrade: %+v %+v", res, rep.Info())
	}
	b, _ := rep.Get(ctx, 65)
	if string(b) != "b-5" {
		t.Fatalf("block 65 = %q", b)
	}
	if err := rep.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	// A peer still on the old fork upgrades from the replica, which proves from the fork point.
	rt = stale.Tree()
	p, err = rep.Prove(ctx, ProofRequest{Start: 60, End: 130, Upgrade: true, HaveFork: rt.Fork, HaveLength: rt.Length})
	if err != nil {
		t.Fatal(err)
	}
	if p.Upgrade.From != 60 {
		t.Fatalf("the replica proves the new fork from %d, want the fork point 60", p.Upgrade.From)
	}
	if _, err := stale.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
	if stale.Info().TreeHash != owner.Info().TreeHash || stale.Contiguous() != 130 {
		t.Fatalf("old-fork peer after upgrading from the replica: %+v", stale.Info())
	}
}

func mustProve(t *testing.T, c *Core, req ProofRequest) *Proof {
	t.Helper()
	p, err := c.Prove(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConflictFreezes(t *testing.T) {
	ctx := context.Background()
	pk := [32]byte{9}
	a, _ := openStore(t, t.TempDir(), WithPrimaryKey(pk)).Create(ctx, "same")
	b, _ := openStore(t, t.TempDir(), WithPrimaryKey(pk)).Create(ctx, "same")
	a.Append(ctx, []byte("one"), []byte("two"))
	b.Append(ctx, []byte("one"), []byte("TWO")) // the same key signs a different tree
	dir := t.TempDir()
	rs := openStore(t, dir)
	rep, _ := rs.Replica(ctx, a.Key())
	syncReplica(t, a, rep, 0, 2)
	p, err := b.Prove(ctx, ProofRequest{Start: 0, End: 2, Upgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ApplyProof(ctx, p); !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	if rep.Info().Frozen == "" {
		t.Fatal("replica not frozen")
	}
	if _, err := rep.ApplyProof(ctx, p); !errors.Is(err, ErrFrozen) {
		t.Fatalf("frozen replica: %v", err)
	}
	rs.Close()
	rep2, _ := openStore(t, dir).Get(ctx, a.Key())
	if rep2.Info().Frozen == "" {
		t.Fatal("freeze not persisted")
	}
	if b, err := rep2.Get(ctx, 1); err != nil || string(b) != "two" {
		t.Fatalf("frozen replica lost its data: %q %v", b, err)
	}
}

func TestStoreLockedByAnotherOpener(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	_, err := Open(context.Background(), dir, WithLogger(quiet()))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("want ErrLocked, got %v", err)
	}
}

func TestPrimaryKeyMismatch(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, WithPrimaryKey([32]byte{1}))
	s.Close()
	if _, err := Open(context.Background(), dir, WithLogger(quiet()), WithPrimaryKey([32]byte{2})); err == nil {
		t.Fatal("opened with a different primary key")
	}
}

func TestKeysAndNotFound(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var want []Key
	for _, n := range []string{"a", "b", "c"} {
		c, err := s.Create(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c.Key())
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if s.KeyForName("b") != want[1] {
		t.Fatal("KeyForName disagrees with Create")
	}
	if _, err := s.Get(ctx, Key{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	for _, k := range want {
		c, err := s.GetByDiscoveryKey(ctx, DiscoveryKey(k))
		if err != nil || c.Key() != k {
			t.Fatalf("by discovery key: %v %v", c, err)
		}
	}
	if _, err := s.GetByDiscoveryKey(ctx, want[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a core key looked up as a discovery key: %v", err)
	}
}

// TestRootsHeldUpTo: the greatest length at most n whose roots a core holds, for an owner, which
// holds every node, and for a sparse replica, which holds the nodes of the proofs it received.
func TestRootsHeldUpTo(t *testing.T) {
	ctx := context.Background()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	owner.Append(ctx, blocksN(1000, "r")...)
	rep, _ := openStore(t, t.TempDir()).Replica(ctx, owner.Key())
	syncReplica(t, owner, rep, 100, 110)
	cases := []struct {
		name string
		c    *Core
		n    uint64
		want uint64
	}{
		{"owner, any length", owner, 300, 300},
		{"owner, past the end", owner, 5000, 1000},
		{"replica, its own length", rep, 1000, 1000},
		// The proof of blocks 100..110 against length 1000 left the subtrees on their path here,
		// [0, 128) and [0, 256) among them, and nothing that completes [256, 300) or [128, 200).
		{"replica, below its length", rep, 300, 256},
		{"replica, inside the first subtree", rep, 200, 128},
		{"replica, where its blocks begin: the left siblings on their path", rep, 100, 100},
		{"replica, one short of that", rep, 99, 96},
		{"replica, nothing", rep, 0, 0},
	}
	for _, tc := range cases {
		if got := tc.c.RootsHeldUpTo(tc.n); got != tc.want {
			t.Errorf("%s: RootsHeldUpTo(%d) = %d, want %d", tc.name, tc.n, got, tc.want)
		}
		if got := tc.c.RootsHeldUpTo(tc.n); got > 0 {
			if _, err := tc.c.rootsAt(got); err != nil {
				t.Errorf("%s: the roots of length %d are not all held: %v", tc.name, got, err)
			}
		}
	}
}
