package asset

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

func TestSealKey(t *testing.T) {
	_, bob, carol, _ := signers()
	core := corestore.Key{7}
	bk := corestore.BlockKey{1, 2, 3}
	rel, err := SealKey(core, bk, bob.Principal(), GrantID{9}, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeKeyRelease(rel.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Open(bob, bk.Check())
	if err != nil || got != bk {
		t.Fatalf("open: %v", err)
	}
	// Only the recipient opens it, even when it claims to be the recipient.
	forCarol := *back
	forCarol.Recipient = carol.Principal()
	if _, err := forCarol.Open(carol, corestore.KeyCheck{}); !errors.Is(err, ErrBadSealedKey) {
		t.Fatalf("carol opened bob's key: %v", err)
	}
	// A wrong key is caught by the key check.
	if _, err := back.Open(bob, corestore.BlockKey{4}.Check()); !errors.Is(err, ErrBadSealedKey) {
		t.Fatalf("a key check of another key: %v", err)
	}
	other := *back
	other.KeyCheck = corestore.BlockKey{4}.Check()
	if _, err := other.Open(bob, corestore.KeyCheck{}); !errors.Is(err, ErrBadSealedKey) {
		t.Fatalf("a release whose key fails its own key check: %v", err)
	}
	tampered := *back
	tampered.Sealed = bytes.Clone(back.Sealed)
	tampered.Sealed[40] ^= 1
	if _, err := tampered.Open(bob, corestore.KeyCheck{}); !errors.Is(err, ErrBadSealedKey) {
		t.Fatalf("a tampered box: %v", err)
	}
}

// TestReleaseKey: the owner releases an encrypted asset's key to a grantee only, records every
// release in its ledger, and the released key reads the core; a revocation rotates the asset to
// a new epoch whose key the revoked grantee is refused.
func TestReleaseKey(t *testing.T) {
	ctx := tctx(t)
	clk := newClock()
	alice := newPeer(t, clk, 1)
	bob := NewSignerFromSeed([32]byte{0xb0})
	k, _ := corestore.GenerateEncryptionKey()
	c, err := alice.store.Create(ctx, "secrets", corestore.WithEncryptionKey(k))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, []byte("the plans")); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.owner.CreateAsset(ctx, AssetSpec{Name: "secrets", Level: Encrypted, Members: []MemberSpec{{Core: c.Key()}}}); err != nil {
		t.Fatal(err)
	}
	req := &KeyRequest{Core: c.Key()}
	if _, err := ReleaseKey(ctx, alice.reg, alice.owner, c, bob.Principal(), req); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("release without a grant: %v", err)
	}
	g, err := alice.owner.Grant(ctx, Grant{Grantee: bob.Principal(), Asset: "secrets", Actions: ActRead})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := ReleaseKey(ctx, alice.reg, alice.owner, c, bob.Principal(), req)
	if err != nil {
		t.Fatal(err)
	}
	kc, _ := c.KeyCheck()
	bk, err := rel.Open(bob, kc)
	if err != nil {
		t.Fatal(err)
	}
	// A keyless replica given the released key reads the block.
	r := newPeer(t, clk, 2)
	rc := replicate(t, c, r)
	if err := rc.MarkEncrypted(ctx, kc); err != nil {
		t.Fatal(err)
	}
	if err := rc.SetBlockKey(ctx, bk); err != nil {
		t.Fatal(err)
	}
	if b, err := rc.Get(ctx, 0); err != nil || string(b) != "the plans" {
		t.Fatalf("read with the released key: %q %v", b, err)
	}
	rels, err := alice.owner.Releases(ctx)
	if err != nil || len(rels) != 1 || !bytes.Equal(rels[0].Sealed, rel.Sealed) || rels[0].Grant != g.ID {
		t.Fatalf("the ledger holds %v (%v)", rels, err)
	}
	// Revoke: a new epoch, whose key bob is refused, and the old one is refused too.
	rot, err := alice.owner.Revoke(ctx, g.ID)
	if err != nil || rot == nil || len(rot.Asset.Epochs) != 2 {
		t.Fatalf("revoke: %+v %v", rot, err)
	}
	if _, err := ReleaseKey(ctx, alice.reg, alice.owner, rot.Core, bob.Principal(), &KeyRequest{Core: rot.Core.Key()}); !errors.Is(err, ErrGrantRevoked) {
		t.Fatalf("the new epoch's key for the revoked grantee: %v", err)
	}
	carol := NewSignerFromSeed([32]byte{0xca})
	if _, err := alice.owner.Grant(ctx, Grant{Grantee: carol.Principal(), Asset: "secrets", Actions: ActRead}); err != nil {
		t.Fatal(err)
	}
	rel2, err := ReleaseKey(ctx, alice.reg, alice.owner, rot.Core, carol.Principal(), &KeyRequest{Core: rot.Core.Key()})
	if err != nil {
		t.Fatal(err)
	}
	bk2, err := rel2.Open(carol, rot.Epoch.KeyCheck)
	if err != nil || bk2 == bk {
		t.Fatalf("the new epoch's key: %v", err)
	}
	// A peer that holds the key but was not delegated release refuses.
	if _, err := ReleaseKey(ctx, r.reg, r.owner, rc, carol.Principal(), req); err == nil {
		t.Fatal("a replica released a key")
	}
	_ = context.Background()
}

// TestDelegatedRelease: a peer the owner granted read and grant on an encrypted asset, and which
// holds the key, releases it to another grantee, and records the release in its own ledger.
func TestDelegatedRelease(t *testing.T) {
	ctx := tctx(t)
	clk := newClock()
	alice, custodian := newPeer(t, clk, 1), newPeer(t, clk, 3)
	carol := NewSignerFromSeed([32]byte{0xca})
	k, _ := corestore.GenerateEncryptionKey()
	c, _ := alice.store.Create(ctx, "secrets", corestore.WithEncryptionKey(k))
	c.Append(ctx, []byte("x"))
	if _, err := alice.owner.CreateAsset(ctx, AssetSpec{Name: "secrets", Level: Encrypted, Members: []MemberSpec{{Core: c.Key()}}}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []Principal{custodian.sign.Principal(), carol.Principal()} {
		acts := ActRead
		if who == custodian.sign.Principal() {
			acts |= ActGrant
		}
		if _, err := alice.owner.Grant(ctx, Grant{Grantee: who, Asset: "secrets", Actions: acts}); err != nil {
			t.Fatal(err)
		}
	}
	rel, err := ReleaseKey(ctx, alice.reg, alice.owner, c, custodian.sign.Principal(), &KeyRequest{Core: c.Key()})
	if err != nil {
		t.Fatal(err)
	}
	bk, _ := rel.Open(custodian.sign, corestore.KeyCheck{})
	cat, gr, _, _ := alice.owner.Cores(ctx)
	replicate(t, cat, custodian)
	replicate(t, gr, custodian)
	cc := replicate(t, c, custodian)
	if err := custodian.reg.Track(ctx, alice.owner.Ref(), cc.Key()); err != nil {
		t.Fatal(err)
	}
	kc, _ := c.KeyCheck()
	cc.MarkEncrypted(ctx, kc)
	if err := cc.SetBlockKey(ctx, bk); err != nil {
		t.Fatal(err)
	}
	rel2, err := ReleaseKey(ctx, custodian.reg, custodian.owner, cc, carol.Principal(), &KeyRequest{Core: c.Key()})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rel2.Open(carol, kc); err != nil || got != bk {
		t.Fatalf("carol's key from the custodian: %v", err)
	}
	if rels, _ := custodian.owner.Releases(ctx); len(rels) != 1 {
		t.Fatalf("the custodian's ledger holds %d releases", len(rels))
	}
	// A custodian that stays too long out of touch stops releasing (its grants are stale).
	clk.add(DefaultMaxStale + time.Second)
	if _, err := ReleaseKey(ctx, custodian.reg, custodian.owner, cc, carol.Principal(), &KeyRequest{Core: c.Key()}); !errors.Is(err, ErrGrantsStale) {
		t.Fatalf("a stale custodian: %v", err)
	}
}
