package asset

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// world is Alice (the owner), a replica R that copies Alice's cores through verified proofs,
// and two readers, Bob and Mallory.
type world struct {
	clk          *clock
	alice, r     *peerEnv
	bob, mallory *Signer
	data         *corestore.Core
	asset        *Asset
}

func newWorld(t *testing.T, level Level) *world {
	t.Helper()
	ctx := tctx(t)
	w := &world{clk: newClock()}
	w.alice, w.r = newPeer(t, w.clk, 1), newPeer(t, w.clk, 2)
	w.bob, w.mallory = NewSignerFromSeed([32]byte{0xb0}), NewSignerFromSeed([32]byte{0x3a})
	w.data = dataCore(t, w.alice, "contacts", 5)
	spec := AssetSpec{Name: "contacts", Members: []MemberSpec{{Core: w.data.Key()}}, Level: level, Category: "people"}
	if level == Compute {
		spec.Queries = []string{`{"find":["?n"],"where":[["?e","person/name","?n"]]}`}
	}
	a, err := w.alice.owner.CreateAsset(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	w.asset = a
	return w
}

// sync copies Alice's data, catalog and grants cores to R, which tracks them as a hint would
// make it.
func (w *world) sync(t *testing.T) *corestore.Core {
	t.Helper()
	ctx := tctx(t)
	cat, gr, _, err := w.alice.owner.Cores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, cat, w.r)
	replicate(t, gr, w.r)
	rc := replicate(t, w.data, w.r)
	if err := w.r.reg.Track(ctx, w.alice.owner.Ref(), w.data.Key()); err != nil {
		t.Fatal(err)
	}
	return rc
}

func (w *world) decide(t *testing.T, at *peerEnv, c *corestore.Core, who *Signer, chains ...Chain) error {
	t.Helper()
	return at.reg.Decide(tctx(t), Request{Core: c, Remote: who.Principal(), Chains: chains, Purpose: Download}).Err
}

func want(t *testing.T, what string, got, wanted error) {
	t.Helper()
	if wanted == nil && got != nil || wanted != nil && !errors.Is(got, wanted) {
		t.Fatalf("%s: got %v, want %v", what, got, wanted)
	}
}

func TestDecideGranted(t *testing.T) {
	w := newWorld(t, Granted)
	ctx := tctx(t)
	rc := w.sync(t)
	want(t, "no grant at the owner", w.decide(t, w.alice, w.data, w.bob), ErrNoGrant)
	want(t, "no grant at the replica", w.decide(t, w.r, rc, w.bob), ErrNoGrant)

	g, err := w.alice.owner.Grant(ctx, Grant{Grantee: w.bob.Principal(), Asset: "contacts", Actions: ActRead, MaxStale: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "granted, at the owner", w.decide(t, w.alice, w.data, w.bob), nil)
	want(t, "the replica has not seen the grant", w.decide(t, w.r, rc, w.bob), ErrNoGrant)
	w.sync(t)
	want(t, "granted, at the replica", w.decide(t, w.r, rc, w.bob), nil)
	want(t, "mallory at the replica", w.decide(t, w.r, rc, w.mallory), ErrNoGrant)
	// Mallory replays Bob's grant: it is Bob's, not hers.
	want(t, "a replayed grant", w.decide(t, w.r, rc, w.mallory, Chain{g}), ErrBadGrant)

	// The replica's grants head ages past max-stale: it refuses, though nothing was revoked.
	w.clk.add(61 * time.Second)
	want(t, "a stale replica", w.decide(t, w.r, rc, w.bob), ErrGrantsStale)
	want(t, "the owner is never stale", w.decide(t, w.alice, w.data, w.bob), nil)
	if err := w.alice.owner.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	w.sync(t)
	want(t, "after a checkpoint", w.decide(t, w.r, rc, w.bob), nil)

	// Alice revokes. The replica that has not heard of it serves until its head is too old.
	if _, err := w.alice.owner.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	want(t, "revoked at the owner", w.decide(t, w.alice, w.data, w.bob), ErrGrantRevoked)
	w.clk.add(61 * time.Second)
	want(t, "a replica that never saw the revocation, stale", w.decide(t, w.r, rc, w.bob), ErrGrantsStale)
	w.sync(t)
	want(t, "revoked at the replica", w.decide(t, w.r, rc, w.bob), ErrGrantRevoked)
}

func TestDecideTimes(t *testing.T) {
	w := newWorld(t, Granted)
	ctx := tctx(t)
	now := w.clk.now()
	if _, err := w.alice.owner.Grant(ctx, Grant{Grantee: w.bob.Principal(), Asset: "contacts", Actions: ActRead,
		NotBefore: now.Add(time.Hour), Expires: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want(t, "not yet valid", w.decide(t, w.alice, w.data, w.bob), ErrGrantNotYetValid)
	w.clk.add(90 * time.Minute)
	want(t, "valid", w.decide(t, w.alice, w.data, w.bob), nil)
	w.clk.add(time.Hour)
	want(t, "expired", w.decide(t, w.alice, w.data, w.bob), ErrGrantExpired)
}

func TestDecideActionsAndDelegation(t *testing.T) {
	w := newWorld(t, Granted)
	ctx := tctx(t)
	carol := NewSignerFromSeed([32]byte{0xca})
	q, _ := w.alice.owner.Grant(ctx, Grant{Grantee: w.mallory.Principal(), Asset: "contacts", Actions: ActQuery})
	want(t, "a query-only grant cannot download", w.decide(t, w.alice, w.data, w.mallory), ErrWrongAction)
	_ = q
	root, _ := w.alice.owner.Grant(ctx, Grant{Grantee: w.bob.Principal(), Asset: "contacts", Actions: ActRead | ActGrant, Volume: 10})
	child, err := Grant{Issuer: w.bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: "contacts",
		Actions: ActRead, Volume: 5, MaxStale: time.Minute, Parent: root.ID}.Sign(w.bob)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "carol without her chain", w.decide(t, w.alice, w.data, carol), ErrNoGrant)
	want(t, "carol with her chain", w.decide(t, w.alice, w.data, carol, Chain{root, child}), nil)
	broad, _ := Grant{Issuer: w.bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: "contacts",
		Actions: ActRead | ActReplicate, MaxStale: time.Minute, Volume: 5, Parent: root.ID}.Sign(w.bob)
	want(t, "a broader delegation", w.decide(t, w.alice, w.data, carol, Chain{root, broad}), ErrBroaderThanParent)
	// Revoking the middle link cuts the chain.
	if _, err := w.alice.owner.Revoke(ctx, root.ID); err != nil {
		t.Fatal(err)
	}
	want(t, "carol after bob's grant is revoked", w.decide(t, w.alice, w.data, carol, Chain{root, child}), ErrGrantRevoked)
}

func TestDecideLevels(t *testing.T) {
	for _, tc := range []struct {
		level Level
		want  error
	}{{Public, nil}, {Compute, ErrComputeOnly}} {
		t.Run(tc.level.String(), func(t *testing.T) {
			w := newWorld(t, tc.level)
			want(t, "download", w.decide(t, w.alice, w.data, w.bob), tc.want)
		})
	}
	// A core in no asset is public; a core of an attribute-scoped asset is downloaded by no one.
	w := newWorld(t, Granted)
	ctx := tctx(t)
	other := dataCore(t, w.alice, "other", 1)
	want(t, "a core in no asset", w.decide(t, w.alice, other, w.bob), nil)
	if _, err := w.alice.owner.CreateAsset(ctx, AssetSpec{Name: "emails", Level: Granted,
		Members: []MemberSpec{{Core: other.Key(), Attrs: []string{"person/email"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.owner.Grant(ctx, Grant{Grantee: w.bob.Principal(), Asset: "emails", Actions: ActRead | ActQuery}); err != nil {
		t.Fatal(err)
	}
	want(t, "an attribute-scoped grant does not download the core", w.decide(t, w.alice, other, w.bob), ErrNoGrant)
	d := w.alice.reg.Decide(ctx, Request{Core: other, Remote: w.bob.Principal(), Purpose: Query})
	want(t, "it queries", d.Err, nil)
}

// TestDecideForeignCatalog: a catalog that claims a core its owner does not write is ignored:
// the claim's attestation does not verify against the core's manifest.
func TestDecideForeignCatalog(t *testing.T) {
	w := newWorld(t, Public)
	ctx := tctx(t)
	m := newPeer(t, w.clk, 9)
	rc := replicate(t, w.data, m)
	if _, err := m.owner.CreateAsset(ctx, AssetSpec{Name: "stolen", Members: []MemberSpec{{Core: rc.Key()}}, Level: Granted}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("an asset of a replica: %v", err)
	}
	// Mallory writes the claim by hand, with an attestation of her own making.
	ref := m.owner.Ref()
	if _, _, _, err := m.owner.Cores(ctx); err != nil {
		t.Fatal(err)
	}
	fake := &Asset{Name: "stolen", Owner: ref.Owner, Catalog: ref.Catalog, Grants: ref.Grants, Level: Granted, Time: w.clk.now(),
		Members: []Member{{Core: rc.Key(), Manifest: rc.Manifest().Encode(), Attestation: make([]byte, 64)}}}
	if err := m.owner.append(ctx, m.owner.catalog, w.clk.now(), assetDatoms(fake)); err != nil {
		t.Fatal(err)
	}
	cat, gr, _, _ := m.owner.Cores(ctx)
	replicate(t, cat, w.r)
	replicate(t, gr, w.r)
	rr := replicate(t, w.data, w.r)
	if err := w.r.reg.Track(ctx, ref, rr.Key()); err != nil {
		t.Fatal(err)
	}
	d := w.r.reg.Decide(ctx, Request{Core: rr, Remote: w.bob.Principal(), Purpose: Download})
	if d.Err != nil || d.Hint != nil || d.Level != Public {
		t.Fatalf("a forged claim counted: %+v", d)
	}
}

// TestDecideFailsClosed: a peer told that a core is an asset's, without the catalog and grants
// to check grants against, serves it to no one.
func TestDecideFailsClosed(t *testing.T) {
	w := newWorld(t, Granted)
	ctx := tctx(t)
	rc := replicate(t, w.data, w.r)
	if err := w.r.reg.Track(ctx, w.alice.owner.Ref(), rc.Key()); err != nil {
		t.Fatal(err)
	}
	want(t, "without the catalog", w.decide(t, w.r, rc, w.bob), ErrCatalogNotHeld)
	// What it was told survives a restart.
	reg, err := OpenRegistry(ctx, w.r.store, WithClock(w.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if d := reg.Decide(ctx, Request{Core: rc, Remote: w.bob.Principal()}); !errors.Is(d.Err, ErrCatalogNotHeld) {
		t.Fatalf("after reopening: %v", d.Err)
	}
	_ = context.Background()
}
