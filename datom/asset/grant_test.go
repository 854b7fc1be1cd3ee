package asset

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

func testGrant(issuer, grantee *Signer) Grant {
	return Grant{Issuer: issuer.Principal(), Grantee: grantee.Principal(), Catalog: corestore.Key{1, 2, 3}, Asset: "contacts",
		Actions: ActRead | ActGrant, NotBefore: time.UnixMilli(1_700_000_000_000).UTC(), Expires: time.UnixMilli(1_800_000_000_000).UTC(),
		Volume: 10, MaxStale: time.Minute}
}

func signers() (alice, bob, carol, mallory *Signer) {
	return NewSignerFromSeed([32]byte{1}), NewSignerFromSeed([32]byte{2}), NewSignerFromSeed([32]byte{3}), NewSignerFromSeed([32]byte{4})
}

func TestGrantRoundTrip(t *testing.T) {
	alice, bob, _, _ := signers()
	sg, err := testGrant(alice, bob).Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	enc := sg.Encode()
	back, err := DecodeSignedGrant(enc)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != sg.ID || back.Grant != sg.Grant || !bytes.Equal(back.Encode(), enc) {
		t.Fatalf("round trip: %+v != %+v", back.Grant, sg.Grant)
	}
	if len(enc) > 300 {
		t.Errorf("a signed grant is %d bytes; it travels in the sync stream's first message", len(enc))
	}
}

// TestGrantTamper: flipping any bit of a signed grant makes it fail to decode or verify, or
// (only in the envelope's framing) decode to a different grant id, never the same grant.
func TestGrantTamper(t *testing.T) {
	alice, bob, _, _ := signers()
	sg, _ := testGrant(alice, bob).Sign(alice)
	enc := sg.Encode()
	for i := range enc {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(enc)
			b[i] ^= 1 << bit
			got, err := DecodeSignedGrant(b)
			if err == nil {
				t.Fatalf("byte %d bit %d flipped: decoded %+v", i, bit, got.Grant)
			}
			if !errors.Is(err, ErrBadGrant) {
				t.Fatalf("byte %d: %v does not wrap ErrBadGrant", i, err)
			}
		}
	}
}

func TestGrantForgedSigner(t *testing.T) {
	alice, bob, _, mallory := signers()
	g := testGrant(alice, bob)
	if _, err := g.Sign(mallory); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("signing another's grant: %v", err)
	}
	// Mallory signs a grant that claims Alice as issuer by building the envelope herself.
	sg, _ := g.Sign(alice)
	forged := marshal(&wireSigned{Payload: sg.Payload, Sig: mallory.Sign(grantSignable(sg.Payload))})
	if _, err := DecodeSignedGrant(forged); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("forged signature: %v", err)
	}
	// A grant Mallory signs as herself does not chain to Alice.
	mg, _ := Grant{Grantee: bob.Principal(), Catalog: g.Catalog, Asset: g.Asset, Actions: ActRead}.Sign(mallory)
	if err := (Chain{mg}).Verify(alice.Principal()); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("a root grant by someone else: %v", err)
	}
}

func TestDelegationNarrows(t *testing.T) {
	alice, bob, carol, _ := signers()
	root, _ := testGrant(alice, bob).Sign(alice)
	ok := Grant{Issuer: bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: root.Asset, Actions: ActRead,
		NotBefore: root.NotBefore, Expires: root.Expires.Add(-time.Hour), Volume: 5, MaxStale: 30 * time.Second, Parent: root.ID}
	cases := []struct {
		name   string
		change func(g *Grant)
		want   error
	}{
		{"narrower", func(g *Grant) {}, nil},
		{"equal", func(g *Grant) {
			g.Actions, g.Expires, g.Volume, g.MaxStale = root.Actions, root.Expires, root.Volume, root.MaxStale
		}, nil},
		{"more actions", func(g *Grant) { g.Actions = ActRead | ActQuery }, ErrBroaderThanParent},
		{"later expiry", func(g *Grant) { g.Expires = root.Expires.Add(time.Millisecond) }, ErrBroaderThanParent},
		{"no expiry", func(g *Grant) { g.Expires = time.Time{} }, ErrBroaderThanParent},
		{"earlier not-before", func(g *Grant) { g.NotBefore = root.NotBefore.Add(-time.Millisecond) }, ErrBroaderThanParent},
		{"larger volume", func(g *Grant) { g.Volume = 11 }, ErrBroaderThanParent},
		{"unlimited volume", func(g *Grant) { g.Volume = 0 }, ErrBroaderThanParent},
		{"staler", func(g *Grant) { g.MaxStale = 2 * time.Minute }, ErrBroaderThanParent},
		{"other asset", func(g *Grant) { g.Asset = "other" }, ErrBroaderThanParent},
		{"wrong parent", func(g *Grant) { g.Parent = GrantID{9} }, ErrBadGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := ok
			tc.change(&g)
			child, err := g.Sign(bob)
			if err != nil {
				t.Fatal(err)
			}
			err = Chain{root, child}.Verify(alice.Principal())
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Only the parent's grantee may delegate, and only with ActGrant.
	g := ok
	g.Issuer = carol.Principal()
	child, _ := g.Sign(carol)
	if err := (Chain{root, child}).Verify(alice.Principal()); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("delegation by a stranger: %v", err)
	}
	noGrant := testGrant(alice, bob)
	noGrant.Actions = ActRead
	root2, _ := noGrant.Sign(alice)
	g = ok
	g.Parent = root2.ID
	child, _ = g.Sign(bob)
	if err := (Chain{root2, child}).Verify(alice.Principal()); !errors.Is(err, ErrBroaderThanParent) {
		t.Fatalf("delegation without the grant action: %v", err)
	}
}

func TestChainValidAt(t *testing.T) {
	alice, bob, _, _ := signers()
	sg, _ := testGrant(alice, bob).Sign(alice)
	c := Chain{sg}
	if err := c.ValidAt(sg.NotBefore.Add(-time.Millisecond)); !errors.Is(err, ErrGrantNotYetValid) {
		t.Fatalf("before: %v", err)
	}
	if err := c.ValidAt(sg.NotBefore); err != nil {
		t.Fatalf("at not-before: %v", err)
	}
	if err := c.ValidAt(sg.Expires.Add(-time.Millisecond)); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	if err := c.ValidAt(sg.Expires); !errors.Is(err, ErrGrantExpired) {
		t.Fatalf("at expiry: %v", err)
	}
}

func TestCredentialRoundTrip(t *testing.T) {
	alice, bob, carol, _ := signers()
	root, _ := testGrant(alice, bob).Sign(alice)
	child, _ := Grant{Issuer: bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: root.Asset,
		Actions: ActRead, Expires: root.Expires, NotBefore: root.NotBefore, Volume: 1, MaxStale: time.Second, Parent: root.ID}.Sign(bob)
	b, err := EncodeCredential([]Chain{{root, child}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeCredential(b)
	if err != nil || len(back) != 1 || len(back[0]) != 2 || back[0][1].ID != child.ID {
		t.Fatalf("credential: %v %v", back, err)
	}
	if err := back[0].Verify(alice.Principal()); err != nil {
		t.Fatal(err)
	}
	chains := []Chain{{root, child}, {root, child}}
	if _, err := EncodeCredential(chains); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("an oversized credential: %v", err)
	}
}

func TestPrincipalForms(t *testing.T) {
	alice, _, _, _ := signers()
	p := alice.Principal()
	for _, s := range []string{p.String(), p.DID()} {
		got, err := ParsePrincipal(s)
		if err != nil || got != p {
			t.Fatalf("%s: %v %v", s, got, err)
		}
	}
	if p.DID()[:len("did:key:z6Mk")] != "did:key:z6Mk" {
		t.Fatalf("did:key %s", p.DID())
	}
	for _, s := range []string{"", "did:key:zQ3s", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "12D3KooWbad"} {
		if _, err := ParsePrincipal(s); !errors.Is(err, ErrBadPrincipal) {
			t.Errorf("%q: %v", s, err)
		}
	}
}
