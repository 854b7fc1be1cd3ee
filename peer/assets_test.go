package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/protocols"
)

// These tests run the asset layer on real nodes: libp2p hosts on 127.0.0.1, repos on disk.

// blocker is a connection gater that refuses the peers in it.
type blocker struct {
	mu      sync.Mutex
	blocked map[lpeer.ID]bool
}

func (b *blocker) block(p lpeer.ID, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blocked == nil {
		b.blocked = map[lpeer.ID]bool{}
	}
	b.blocked[p] = on
}
func (b *blocker) is(p lpeer.ID) bool                                { b.mu.Lock(); defer b.mu.Unlock(); return b.blocked[p] }
func (b *blocker) InterceptPeerDial(p lpeer.ID) bool                 { return !b.is(p) }
func (b *blocker) InterceptAddrDial(p lpeer.ID, _ ma.Multiaddr) bool { return !b.is(p) }
func (b *blocker) InterceptAccept(network.ConnMultiaddrs) bool       { return true }
func (b *blocker) InterceptSecured(_ network.Direction, p lpeer.ID, _ network.ConnMultiaddrs) bool {
	return !b.is(p)
}
func (b *blocker) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// startedNode returns a started node.
func startedNode(t *testing.T, opts ...NodeOption) *Node {
	t.Helper()
	n := newTestNode(t, opts...)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

func addrOf(n *Node) lpeer.AddrInfo { return lpeer.AddrInfo{ID: n.ID(), Addrs: n.host.Addrs()} }

func actx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// contactsCore creates a writable datom core with some contacts on n.
func contactsCore(t *testing.T, n *Node, name string) *corestore.Core {
	t.Helper()
	ctx := actx(t)
	c, err := n.Repo.Store.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e := fmt.Sprintf("person/%d", i)
		if _, err := n.DB.Transact(ctx, c.Key(), []datom.Datom{
			datom.Add(e, "person/name", datom.String(fmt.Sprintf("name %d", i))),
			datom.Add(e, "person/email", datom.String(fmt.Sprintf("p%d@example.org", i))),
		}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func call[Req, Resp any](t *testing.T, n *Node, op Op[Req, Resp], req Req) (Resp, error) {
	t.Helper()
	return Call(actx(t), daemonLocal(n), op, req)
}

func must[Resp any](t *testing.T) func(Resp, error) Resp {
	return func(r Resp, err error) Resp {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// fetchFrom downloads core from the peers given, into a fresh replica (an earlier copy is
// dropped first, so the peers must serve it).
func fetchFrom(t *testing.T, n *Node, key corestore.Key, from ...*Node) error {
	t.Helper()
	ctx := actx(t)
	if _, err := n.Repo.Store.Get(ctx, key); err == nil {
		if err := n.deleteCore(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	var peers []lpeer.AddrInfo
	for _, f := range from {
		peers = append(peers, addrOf(f))
	}
	_, err := n.Fetch(ctx, key, FetchOptions{Peers: peers, FindTimeout: 10 * time.Second})
	return err
}

// wantErr fails unless err matches want (nil for success).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
	if want != nil && !errors.Is(err, protocols.ErrRefused) && !errors.Is(err, corestore.ErrNoEncryptionKey) {
		t.Fatalf("%s: %v is not a refusal", what, err)
	}
}

// eventually retries f until it returns want or the deadline passes.
func eventually(t *testing.T, what string, want error, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for {
		err = f()
		if want == nil && err == nil || want != nil && errors.Is(err, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %v, want %v", what, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestGrantedAsset: the whole story on real hosts. Bob is refused without a grant, gets the core
// with one, from the owner and from a replica that enforces the owner's grants, and is refused by
// both once the grant is revoked.
func TestGrantedAsset(t *testing.T) {
	alice, bob, rep := startedNode(t, WithCheckpointInterval(500*time.Millisecond)), startedNode(t), startedNode(t)
	data := contactsCore(t, alice, "contacts")
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "contacts", Core: "contacts", Level: "granted", Category: "people"}))

	wantErr(t, "bob without a grant", fetchFrom(t, bob, data.Key(), alice), asset.ErrNoGrant)

	g := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String(), MaxStale: 10 * time.Second}))
	wantErr(t, "bob with a grant", fetchFrom(t, bob, data.Key(), alice), nil)
	bc, _ := bob.Repo.Store.Get(actx(t), data.Key())
	if bc.Contiguous() != data.Length() {
		t.Fatalf("bob holds %d of %d blocks", bc.Contiguous(), data.Length())
	}

	// A replica with a replicate grant follows the core; it learns where the grants are.
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: rep.ID().String(), Actions: "replicate"}))
	wantErr(t, "the replica", fetchFrom(t, rep, data.Key(), alice), nil)
	rep.Follow(data.Key())
	// Bob, cut off from Alice, gets it from the replica.
	gate := &blocker{}
	_ = gate
	bob.host.Network().ClosePeer(alice.ID())
	eventually(t, "bob from the replica", nil, func() error { return fetchFrom(t, bob, data.Key(), rep) })

	// Mallory has no grant at the replica either.
	mallory := startedNode(t)
	wantErr(t, "mallory at the replica", fetchFrom(t, mallory, data.Key(), rep), asset.ErrNoGrant)

	must[RevokeReply](t)(call(t, alice, OpRevoke, RevokeRequest{Grant: g.ID[:12]}))
	wantErr(t, "bob revoked, at the owner", fetchFrom(t, bob, data.Key(), alice), asset.ErrGrantRevoked)
	bob.host.Network().ClosePeer(alice.ID())
	eventually(t, "bob revoked, at the replica", asset.ErrGrantRevoked, func() error { return fetchFrom(t, bob, data.Key(), rep) })
}

// TestRevocationEndsSessions: a grantee that follows a granted core live loses its session with
// the owner once its grant is revoked, and gets none of what is appended after.
func TestRevocationEndsSessions(t *testing.T) {
	alice, bob := startedNode(t), startedNode(t)
	data := contactsCore(t, alice, "contacts")
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "contacts", Core: "contacts", Level: "granted"}))
	g := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String()}))
	wantErr(t, "bob", fetchFrom(t, bob, data.Key(), alice), nil)
	if err := bob.Follow(data.Key()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob's live session", nil, func() error {
		for _, p := range alice.repl.Peers(data) {
			if p == bob.ID() {
				return nil
			}
		}
		return errors.New("no session yet")
	})
	must[RevokeReply](t)(call(t, alice, OpRevoke, RevokeRequest{Grant: g.ID}))
	eventually(t, "the session ends", nil, func() error {
		for _, p := range alice.repl.Peers(data) {
			if p == bob.ID() {
				return errors.New("still open")
			}
		}
		return nil
	})
	before := data.Length()
	if _, err := alice.DB.Transact(actx(t), data.Key(), []datom.Datom{datom.Add("person/9", "person/name", datom.String("after"))}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // bob's follower tries again meanwhile, and is refused
	bc, _ := bob.Repo.Store.Get(actx(t), data.Key())
	if bc.Length() > before {
		t.Fatalf("bob got a block appended after the revocation (length %d, was %d)", bc.Length(), before)
	}
}

// TestDelegatedGrant: a grantee with the grant action delegates a narrower grant; its grantee
// imports the token and its node presents the chain by itself.
func TestDelegatedGrant(t *testing.T) {
	alice, bob, carol := startedNode(t), startedNode(t), startedNode(t)
	data := contactsCore(t, alice, "contacts")
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "contacts", Core: "contacts", Level: "granted"}))
	g := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String(), Actions: "read,grant"}))
	wantErr(t, "bob", fetchFrom(t, bob, data.Key(), alice), nil)
	var d GrantInfo
	eventually(t, "bob delegates, once he holds alice's grants", nil, func() error {
		var err error
		d, err = call(t, bob, OpGrant, GrantRequest{Grantee: carol.ID().String(), Parent: g.ID})
		return err
	})
	if d.Token == "" || d.Parent != g.ID || d.Actions != "read" {
		t.Fatalf("delegated grant %+v", d)
	}
	if _, err := call(t, bob, OpGrant, GrantRequest{Grantee: carol.ID().String(), Parent: g.ID, Actions: "read,query"}); !errors.Is(err, asset.ErrBroaderThanParent) {
		t.Fatalf("a broader delegation: %v", err)
	}
	if _, err := call(t, bob, OpHoldGrant, HoldGrantRequest{Token: d.Token}); !errors.Is(err, asset.ErrBadGrant) {
		t.Fatalf("bob imports carol's grant: %v", err)
	}
	wantErr(t, "carol without the token", fetchFrom(t, carol, data.Key(), alice), asset.ErrNoGrant)
	must[GrantInfo](t)(call(t, carol, OpHoldGrant, HoldGrantRequest{Token: d.Token}))
	wantErr(t, "carol with the chain", fetchFrom(t, carol, data.Key(), alice), nil)
	gs := must[[]GrantInfo](t)(call(t, carol, OpGrants, GrantsRequest{}))
	if len(gs) == 0 || gs[len(gs)-1].ID != d.ID || gs[len(gs)-1].Status != "active" {
		t.Fatalf("carol's grants %+v", gs)
	}
	must[RevokeReply](t)(call(t, alice, OpRevoke, RevokeRequest{Grant: g.ID}))
	// Bob's node, a replica, could serve carol until the revocation reaches it (the grants core
	// replicates live): wait for that, so that whoever serves her refuses.
	eventually(t, "bob's node sees the revocation", nil, func() error {
		gs, err := call(t, bob, OpGrants, GrantsRequest{})
		if err != nil {
			return err
		}
		for _, x := range gs {
			if x.ID == g.ID && x.Status == "revoked" {
				return nil
			}
		}
		return fmt.Errorf("bob's grants: %+v", gs)
	})
	wantErr(t, "carol after bob's grant is revoked", fetchFrom(t, carol, data.Key(), alice), asset.ErrGrantRevoked)
}
