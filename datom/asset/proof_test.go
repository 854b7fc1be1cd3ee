package asset

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

func ownedProof(t testing.TB) (*peerEnv, *corestore.Core, []byte) {
	t.Helper()
	ctx := context.Background()
	clk := newClock()
	p := newPeer(t, clk, 1)
	c := dataCore(t, p, "contacts", 40)
	ref := p.owner.Ref()
	sig, err := c.Attest(nsMember, MemberStatement(ref.Owner, ref.Catalog, ref.Grants))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := MakeProof(ctx, c, 7, "person/h", "person/email", &Attestation{Owner: ref.Owner, Catalog: ref.Catalog, Grants: ref.Grants, Signature: sig}, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	return p, c, pr.Encode()
}

func TestProofVerifies(t *testing.T) {
	p, c, file := ownedProof(t)
	pr, err := DecodeProof(file)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pr.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if v.Core != c.Key() || v.Index != 7 || v.Length != 40 || v.TreeHash != c.Info().TreeHash || v.Owner == nil || v.Owner.Owner != p.owner.Principal() {
		t.Fatalf("verdict %+v", v)
	}
	if len(v.Datoms) != 1 || v.Datoms[0].A != "person/email" || v.Tx == nil || !v.Tx.Time.Equal(time.Unix(7, 0)) {
		t.Fatalf("datoms %+v", v.Datoms)
	}
	if !bytes.Equal(pr.Encode(), file) {
		t.Fatal("the file does not re-encode to itself")
	}
}

// TestProofFlipAnyByte: every single-bit change of the file fails to decode or to verify.
func TestProofFlipAnyByte(t *testing.T) {
	_, _, file := ownedProof(t)
	for i := range file {
		for _, bit := range []byte{1, 0x80} {
			b := bytes.Clone(file)
			b[i] ^= bit
			pr, err := DecodeProof(b)
			if err == nil {
				_, err = pr.Verify()
			}
			if err == nil {
				t.Fatalf("byte %d ^ %#x verifies", i, bit)
			}
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("byte %d: %v does not wrap ErrBadProof", i, err)
			}
		}
	}
}

// TestProofForgedParts: a proof whose evidence is re-made consistently but by the wrong key,
// or about a datom the block does not hold, fails.
func TestProofForgedParts(t *testing.T) {
	_, c, file := ownedProof(t)
	pr, _ := DecodeProof(file)
	// Another core's manifest.
	other := newPeer(t, newClock(), 5)
	oc := dataCore(t, other, "contacts", 1)
	bad := *pr
	bad.Manifest = oc.Manifest().Encode()
	if _, err := bad.Verify(); !errors.Is(err, ErrBadProof) {
		t.Fatalf("another manifest: %v", err)
	}
	bad = *pr
	bad.Entity = "person/zz"
	if _, err := bad.Verify(); !errors.Is(err, ErrBadProof) {
		t.Fatalf("a claim the block does not hold: %v", err)
	}
	bad = *pr
	att := *pr.Attestation
	att.Owner = other.owner.Principal()
	bad.Attestation = &att
	if _, err := bad.Verify(); !errors.Is(err, ErrBadProof) {
		t.Fatalf("another owner: %v", err)
	}
	_ = c
}

// TestForkProof: two signed heads of one length and fork prove the owner forked.
func TestForkProof(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	var pk [32]byte
	pk[0] = 7
	a := newPeer(t, clk, 7)
	b := newPeer(t, clk, 7) // the same primary key: a second writer of the same core
	ca := dataCore(t, a, "contacts", 3)
	cb, err := b.store.Create(ctx, "contacts")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := datom.EncodeTx(datom.Tx{Time: time.Unix(99, 0), Datoms: []datom.Datom{datom.Add("x", "y", datom.Int(1))}})
	for i := 0; i < 3; i++ {
		if _, err := cb.Append(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	if ca.Key() != cb.Key() || ca.Info().TreeHash == cb.Info().TreeHash {
		t.Fatal("the two writers should disagree on one core")
	}
	r := newPeer(t, clk, 8)
	replicate(t, ca, r)
	rc, _ := r.store.Get(ctx, ca.Key())
	p2, err := cb.Prove(ctx, corestore.ProofRequest{Upgrade: true, HaveLength: 0, Start: 0, End: 0})
	if err != nil {
		t.Fatal(err)
	}
	p2.Upgrade.From = 3
	if _, err := rc.ApplyProof(ctx, p2); !errors.Is(err, corestore.ErrConflict) {
		t.Fatalf("the second tree: %v", err)
	}
	pr, err := MakeProof(ctx, rc, 0, "", "", nil, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeProof(pr.Encode())
	if err != nil {
		t.Fatal(err)
	}
	v, err := back.Verify()
	if err != nil || v.Conflict == nil || v.Conflict.Length != 3 {
		t.Fatalf("fork proof: %+v %v", v, err)
	}
	// A "conflict" that is the same tree is no fork proof.
	same := *back
	h := back.Head
	same.Conflict = &h
	if _, err := same.Verify(); !errors.Is(err, ErrBadProof) {
		t.Fatalf("the same head twice: %v", err)
	}
}
