package corestore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// TestPropertyProofsVerify runs random appends, truncates and clears on a real store and checks,
// after each step, that a proof of any stored block verifies against the signed tree and against
// the tree of any shorter length of the same fork, and that a fresh build of the blocks gives the
// same tree.
func TestPropertyProofsVerify(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run("", func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 99))
			s := openStore(t, t.TempDir(), WithDurability(false))
			c, _ := s.Create(ctx, "prop")
			var model [][]byte
			for step := 0; step < 40; step++ {
				switch op := r.IntN(10); {
				case op < 6:
					n := 1 + r.IntN(70)
					var bs [][]byte
					for i := 0; i < n; i++ {
						b := make([]byte, r.IntN(200))
						for j := range b {
							b[j] = byte(r.Uint32())
						}
						bs = append(bs, b)
					}
					if _, err := c.Append(ctx, bs...); err != nil {
						t.Fatal(err)
					}
					model = append(model, bs...)
				case op < 8 && len(model) > 0:
					n := r.IntN(len(model) + 1)
					if err := c.Truncate(ctx, uint64(n)); err != nil {
						t.Fatal(err)
					}
					model = model[:n]
				case len(model) > 0:
					lo := r.IntN(len(model))
					hi := lo + r.IntN(len(model)-lo+1)
					if err := c.Clear(ctx, uint64(lo), uint64(hi)); err != nil {
						t.Fatal(err)
					}
					for i := lo; i < hi; i++ {
						model[i] = nil // nil marks "cleared" in the model
					}
				}
				checkCore(t, c, model, r)
			}
		})
	}
}

func checkCore(t *testing.T, c *Core, model [][]byte, r *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	tree := c.Tree()
	if tree.Length != uint64(len(model)) {
		t.Fatalf("length %d, model %d", tree.Length, len(model))
	}
	if len(model) == 0 {
		return
	}
	for k := 0; k < 5; k++ {
		i := uint64(r.IntN(len(model)))
		if model[i] == nil {
			if c.Has(i) {
				t.Fatalf("cleared block %d is present", i)
			}
			continue
		}
		b, err := c.Get(ctx, i)
		if err != nil || !bytes.Equal(b, model[i]) {
			t.Fatalf("block %d: %v", i, err)
		}
		end := i + 1
		for end < uint64(len(model)) && model[end] != nil && end-i < 8 {
			end++
		}
		// Against the signed tree.
		p, err := c.Prove(ctx, ProofRequest{Start: i, End: end, HaveFork: tree.Fork, HaveLength: tree.Length})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyProof(c.Key(), c.Manifest(), tree, c.rootsAt, p); err != nil {
			t.Fatalf("proof of [%d, %d): %v", i, end, err)
		}
		// As an upgrade from a random shorter length of this fork.
		from := uint64(r.IntN(int(tree.Length)))
		old, err := c.rootsAt(from)
		if err != nil {
			t.Fatal(err)
		}
		p, err = c.Prove(ctx, ProofRequest{Start: i, End: end, Upgrade: true, HaveFork: tree.Fork, HaveLength: from})
		if err != nil {
			t.Fatal(err)
		}
		local := Tree{Fork: tree.Fork, Length: from, Roots: old}
		v, err := verifyProof(c.Key(), c.Manifest(), local, c.rootsAt, p)
		if err != nil {
			t.Fatalf("upgrade %d -> %d with [%d, %d): %v", from, tree.Length, i, end, err)
		}
		if v.tree.Hash() != tree.Hash() {
			t.Fatal("upgrade proved a different tree")
		}
		checkFlips(t, c, local, p, r)
	}
}

// checkFlips flips single bits all over a valid proof and requires every flip to be rejected.
func checkFlips(t *testing.T, c *Core, local Tree, p *Proof, r *rand.Rand) {
	t.Helper()
	flip := func(b []byte) { b[r.IntN(len(b))] ^= 1 << r.IntN(8) }
	for k := 0; k < 12; k++ {
		q := cloneProof(p)
		what := ""
		switch r.IntN(5) {
		case 0:
			var nonEmpty [][]byte
			for _, b := range q.Blocks {
				if len(b) > 0 {
					nonEmpty = append(nonEmpty, b)
				}
			}
			if len(nonEmpty) == 0 {
				continue
			}
			flip(nonEmpty[r.IntN(len(nonEmpty))])
			what = "block"
		case 1:
			if len(q.Nodes) == 0 {
				continue
			}
			flip(q.Nodes[r.IntN(len(q.Nodes))].Hash[:])
			what = "node hash"
		case 2:
			if len(q.Nodes) == 0 {
				continue
			}
			q.Nodes[r.IntN(len(q.Nodes))].Size ^= 1 << r.IntN(20)
			what = "node size"
		case 3:
			flip(q.Upgrade.Signature)
			what = "signature"
		case 4:
			flip(q.Upgrade.Roots[r.IntN(len(q.Upgrade.Roots))].Hash[:])
			what = "root"
		}
		if _, err := verifyProof(c.Key(), c.Manifest(), local, c.rootsAt, q); err == nil {
			t.Fatalf("a flipped bit in a %s was accepted", what)
		}
	}
}

func cloneProof(p *Proof) *Proof {
	q := *p
	q.Blocks = make([][]byte, len(p.Blocks))
	for i, b := range p.Blocks {
		q.Blocks[i] = bytes.Clone(b)
	}
	q.Nodes = append([]Node(nil), p.Nodes...)
	if p.Upgrade != nil {
		u := *p.Upgrade
		u.Roots = append([]Node(nil), u.Roots...)
		u.Signature = bytes.Clone(u.Signature)
		q.Upgrade = &u
	}
	return &q
}

// TestFlatTreeInvariants checks the flat-tree arithmetic against its definitions.
func TestFlatTreeInvariants(t *testing.T) {
	for n := uint64(0); n < 5000; n++ {
		l, r := uint64(0), uint64(0)
		if ftDepth(n) > 0 {
			l, r = ftChildren(n)
			if ftParent(l) != n || ftParent(r) != n || ftSibling(l) != r || ftSibling(r) != l {
				t.Fatalf("node %d: children %d %d disagree with parent/sibling", n, l, r)
			}
			if !ftIsLeft(l) || ftIsLeft(r) {
				t.Fatalf("node %d: left/right wrong", n)
			}
		}
		first, last := ftSpan(n)
		if first > n || last < n || (last-first)/2+1 != ftLeafCount(n) {
			t.Fatalf("node %d: span %d..%d", n, first, last)
		}
	}
	for length := uint64(0); length < 600; length++ {
		var covered uint64
		for _, root := range fullRoots(length) {
			first, last := ftSpan(root)
			if first != 2*covered {
				t.Fatalf("length %d: root %d starts at %d, want %d", length, root, first, 2*covered)
			}
			covered = last/2 + 1
		}
		if covered != length {
			t.Fatalf("length %d: roots cover %d", length, covered)
		}
	}
}
