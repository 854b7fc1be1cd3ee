package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	lpeer "github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/protocols"
)

// The hostile and edge cases of the asset layer, each on real hosts.

func grantedWorld(t *testing.T, opts ...NodeOption) (alice *Node, data *corestore.Core) {
	t.Helper()
	alice = startedNode(t, opts...)
	data = contactsCore(t, alice, "contacts")
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "contacts", Core: "contacts", Level: "granted"}))
	return alice, data
}

func TestGrantNotYetValidAndExpired(t *testing.T) {
	alice, data := grantedWorld(t)
	bob, carol := startedNode(t), startedNode(t)
	now := time.Now()
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String(), NotBefore: now.Add(time.Hour)}))
	wantErr(t, "not yet valid", fetchFrom(t, bob, data.Key(), alice), asset.ErrGrantNotYetValid)
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: carol.ID().String(), Expires: now.Add(1500 * time.Millisecond)}))
	wantErr(t, "valid", fetchFrom(t, carol, data.Key(), alice), nil)
	time.Sleep(time.Until(now.Add(1600 * time.Millisecond)))
	wantErr(t, "expired", fetchFrom(t, carol, data.Key(), alice), asset.ErrGrantExpired)
}

// TestStaleReplicaFailsClosed: a replica cut off from the owner never hears of a revocation, but
// refuses the grant anyway once its copy of the grants is older than the grant's max-stale.
func TestStaleReplicaFailsClosed(t *testing.T) {
	alice, data := grantedWorld(t, WithCheckpointInterval(200*time.Millisecond))
	repGate, bobGate := &blocker{}, &blocker{}
	rep := startedNode(t, WithConnectionGater(repGate))
	bob := startedNode(t, WithConnectionGater(bobGate))
	g := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String(), MaxStale: 3 * time.Second}))
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: rep.ID().String(), Actions: "replicate"}))
	wantErr(t, "the replica", fetchFrom(t, rep, data.Key(), alice), nil)
	rep.Follow(data.Key())
	cat, gr := alice.assets.owner.Ref().Catalog, alice.assets.owner.Ref().Grants
	eventually(t, "the replica holds the catalog and grants", nil, func() error {
		for _, k := range []corestore.Key{cat, gr} {
			if c, err := rep.Repo.Store.Get(actx(t), k); err != nil || c.Contiguous() == 0 {
				return fmt.Errorf("not yet: %v", err)
			}
		}
		return nil
	})
	bobGate.block(alice.ID(), true)
	bob.host.Network().ClosePeer(alice.ID())
	wantErr(t, "bob from the fresh replica", fetchFrom(t, bob, data.Key(), rep), nil)

	// The replica is cut off; Alice revokes; the replica never hears of it.
	repGate.block(alice.ID(), true)
	rep.host.Network().ClosePeer(alice.ID())
	gid, _ := asset.ParseGrantID(g.ID)
	must[RevokeReply](t)(call(t, alice, OpRevoke, RevokeRequest{Grant: g.ID}))
	// At the owner, Bob is refused at once (Bob does not reach the replica meanwhile).
	bobGate.block(alice.ID(), false)
	bobGate.block(rep.ID(), true)
	bob.host.Network().ClosePeer(rep.ID())
	wantErr(t, "at the owner", fetchFrom(t, bob, data.Key(), alice), asset.ErrGrantRevoked)
	bobGate.block(alice.ID(), true)
	bobGate.block(rep.ID(), false)
	bob.host.Network().ClosePeer(alice.ID())
	eventually(t, "the cut-off replica refuses as its grants age", asset.ErrGrantsStale, func() error { return fetchFrom(t, bob, data.Key(), rep) })
	_, gv, err := rep.assets.reg.Catalog(actx(t), cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, revoked := gv.Revoked(gid); revoked {
		t.Fatal("the replica heard of the revocation: the test proves nothing")
	}
}

// rawPeer is a bare replicator on a host of its own, whose Access presents what the test says:
// it stands for a hostile peer that speaks the protocol with forged credentials.
type rawPeer struct {
	h     host.Host
	store *corestore.Store
	rep   *protocols.Replicator
	id    lpeer.ID
	sign  *asset.Signer
	cred  []byte
}

func (p *rawPeer) Authorize(context.Context, *corestore.Core, lpeer.ID, []byte) ([]byte, *protocols.Refusal) {
	return nil, nil
}
func (p *rawPeer) Credential(*corestore.Core, lpeer.ID) []byte { return p.cred }
func (p *rawPeer) Answered(context.Context, *corestore.Core, lpeer.ID, []byte, *protocols.Refusal) error {
	return nil
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	ctx := context.Background()
	var seed [32]byte
	copy(seed[:], t.Name())
	seed[31] = byte(time.Now().UnixNano())
	sign := asset.NewSignerFromSeed(seed)
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	h, err := protocols.NewHost(ctx, protocols.WithIdentity(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s, err := corestore.Open(ctx, t.TempDir(), corestore.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &rawPeer{h: h, store: s, id: h.ID(), sign: sign}
	p.rep = protocols.NewReplicator(h, s, protocols.WithLogger(quietLog()), protocols.WithAccess(p))
	t.Cleanup(func() { p.rep.Close() })
	return p
}

// replicateFrom opens a session for key with n and returns the refusal code, or "" when served.
func (p *rawPeer) replicateFrom(t *testing.T, n *Node, key corestore.Key, cred []byte) string {
	t.Helper()
	ctx := actx(t)
	p.cred = cred
	c, err := p.store.Replica(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rep.Replicate(ctx, c, n.ID()); err != nil {
		var ref *protocols.Refusal
		if !errors.As(err, &ref) {
			t.Fatalf("not a refusal: %v", err)
		}
		return ref.Code
	}
	if err := p.rep.Download(ctx, c, 0, 0); err != nil {
		t.Fatal(err)
	}
	return ""
}

func credential(t *testing.T, chains ...asset.Chain) []byte {
	t.Helper()
	b, err := asset.EncodeCredential(chains)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForgedGrants: grants signed by the wrong key, altered, replayed by another peer, or
// delegated more broadly than their parent are refused, each with its reason.
func TestForgedGrants(t *testing.T) {
	alice, data := grantedWorld(t)
	mallory, bob := newRawPeer(t), newRawPeer(t)
	connectRaw(t, mallory, alice)
	connectRaw(t, bob, alice)
	ref := alice.assets.owner.Ref()
	gi := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.id.String(), Actions: "read,grant", MaxStale: time.Minute}))
	gid, _ := asset.ParseGrantID(gi.ID)
	_, gv, _ := alice.assets.reg.Catalog(actx(t), ref.Catalog)
	bobGrant, _, _ := gv.Grant(gid)

	if code := mallory.replicateFrom(t, alice, data.Key(), nil); code != "no grant" {
		t.Fatalf("mallory without a grant: %q", code)
	}
	// Wrong signer: Mallory signs a root grant of Alice's asset to herself.
	self, err := asset.Grant{Grantee: mallory.sign.Principal(), Catalog: ref.Catalog, Asset: "contacts", Actions: asset.ActRead}.Sign(mallory.sign)
	if err != nil {
		t.Fatal(err)
	}
	if code := mallory.replicateFrom(t, alice, data.Key(), credential(t, asset.Chain{self})); code != "invalid grant" {
		t.Fatalf("a grant signed by the wrong key: %q", code)
	}
	// A changed field: Bob's grant with Mallory as grantee, Alice's signature kept.
	forged := alterGrantee(t, bobGrant, mallory.sign.Principal())
	if code := mallory.replicateFrom(t, alice, data.Key(), forged); code != "invalid grant" {
		t.Fatalf("an altered grant: %q", code)
	}
	// Bob's grant, replayed by Mallory.
	if code := mallory.replicateFrom(t, alice, data.Key(), credential(t, asset.Chain{bobGrant})); code != "invalid grant" {
		t.Fatalf("a replayed grant: %q", code)
	}
	// Bob delegates to Mallory: narrower is served, broader is refused.
	narrow, _ := asset.Grant{Issuer: bob.sign.Principal(), Grantee: mallory.sign.Principal(), Catalog: ref.Catalog, Asset: "contacts",
		Actions: asset.ActRead, MaxStale: 30 * time.Second, Parent: bobGrant.ID}.Sign(bob.sign)
	broad, _ := asset.Grant{Issuer: bob.sign.Principal(), Grantee: mallory.sign.Principal(), Catalog: ref.Catalog, Asset: "contacts",
		Actions: asset.ActRead | asset.ActReplicate, MaxStale: 30 * time.Second, Parent: bobGrant.ID}.Sign(bob.sign)
	if code := mallory.replicateFrom(t, alice, data.Key(), credential(t, asset.Chain{bobGrant, broad})); code != "delegated grant is broader than its parent" {
		t.Fatalf("a broader delegation: %q", code)
	}
	if code := mallory.replicateFrom(t, alice, data.Key(), credential(t, asset.Chain{bobGrant, narrow})); code != "" {
		t.Fatalf("a narrower delegation: %q", code)
	}
}

func connectRaw(t *testing.T, p *rawPeer, n *Node) {
	t.Helper()
	if err := p.h.Connect(actx(t), addrOf(n)); err != nil {
		t.Fatal(err)
	}
}

// alterGrantee builds what a forger sends: g's payload with its grantee's key replaced by
// grantee's, and g's signature, in a credential of one chain.
func alterGrantee(t *testing.T, g *asset.SignedGrant, grantee asset.Principal) []byte {
	t.Helper()
	payload := bytes.Replace(g.Payload, g.Grantee[:], grantee[:], 1)
	if bytes.Equal(payload, g.Payload) {
		t.Fatal("the grantee is not in the payload")
	}
	env, err := cbor.Marshal([]any{payload, g.Signature})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal([]any{1, [][][]byte{{env}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncryptedAssetViaKeylessReplica: a keyless replica serves an encrypted asset: an
// unauthorized reader gets blocks that all verify but no plaintext, and is refused the key; a
// grantee reads it; a wrong key is caught by the key check; a revocation starts a new epoch the
// revoked grantee cannot read.
func TestEncryptedAssetViaKeylessReplica(t *testing.T) {
	ctx := actx(t)
	alice := startedNode(t)
	k, _ := corestore.GenerateEncryptionKey()
	data, err := alice.Repo.Store.Create(ctx, "secrets", corestore.WithEncryptionKey(k))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "the launch code is 0000"
	for i := 0; i < 20; i++ {
		if _, err := alice.DB.Transact(ctx, data.Key(), []datom.Datom{datom.Add(fmt.Sprintf("doc/%d", i), "doc/text", datom.String(fmt.Sprintf("%s #%d", secret, i)))}); err != nil {
			t.Fatal(err)
		}
	}
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "secrets", Core: "secrets", Level: "encrypted"}))
	rep, mallory, bob := startedNode(t), startedNode(t), startedNode(t)
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "secrets", Grantee: rep.ID().String(), Actions: "replicate"}))
	g := must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "secrets", Grantee: bob.ID().String(), Actions: "read"}))

	// The keyless replica: it holds ciphertext and is refused the key (replicate is not read).
	wantErr(t, "the keyless replica", fetchFrom(t, rep, data.Key(), alice), nil)
	rc, _ := rep.Repo.Store.Get(ctx, data.Key())
	if _, held := rc.BlockKey(); held || !rc.Encrypted() || rc.Contiguous() != data.Length() {
		t.Fatalf("the replica holds the key or not the blocks: %+v", rc.Info())
	}
	if err := rep.assets.keyReleaseError(data.Key()); !errors.Is(err, asset.ErrWrongAction) {
		t.Fatalf("the replica's key release: %v", err)
	}
	if _, err := rc.Get(ctx, 0); !errors.Is(err, corestore.ErrNoEncryptionKey) {
		t.Fatalf("the replica reads: %v", err)
	}

	// Mallory, who knows only the replica, gets every block, verified, and no plaintext.
	mallory.host.Network().ClosePeer(alice.ID())
	wantErr(t, "mallory downloads ciphertext", fetchFrom(t, mallory, data.Key(), rep), nil)
	if err := mallory.assets.keyReleaseError(data.Key()); !errors.Is(err, asset.ErrNoGrant) && !errors.Is(err, asset.ErrKeyNotHeld) {
		t.Fatalf("mallory's key release: %v", err)
	}
	mc, _ := mallory.Repo.Store.Get(ctx, data.Key())
	if _, err := mc.Get(ctx, 0); !errors.Is(err, corestore.ErrNoEncryptionKey) {
		t.Fatalf("mallory reads: %v", err)
	}
	if err := mc.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := data.GetRangeStored(ctx, 0, data.Length())
	got, err := mc.GetRangeStored(ctx, 0, data.Length())
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) || bytes.Contains(got[i], []byte(secret)) || bytes.Contains(got[i], []byte("doc/text")) {
			t.Fatalf("block %d: differs from the owner's stored bytes, or holds plaintext", i)
		}
	}
	// A wrong key is caught by the key check value.
	if _, err := call(t, mallory, OpSetKey, SetKeyRequest{Ref: data.Key().String(), BlockKey: corestore.BlockKey{1}.Hex()}); !errors.Is(err, corestore.ErrWrongEncryptionKey) {
		t.Fatalf("a wrong key: %v", err)
	}

	// Bob, with a read grant, has the key released and reads the plaintext.
	wantErr(t, "bob", fetchFrom(t, bob, data.Key(), rep, alice), nil)
	bc, _ := bob.Repo.Store.Get(ctx, data.Key())
	b0, err := bc.Get(ctx, 3)
	if err != nil || !bytes.Contains(b0, []byte(secret+" #3")) {
		t.Fatalf("bob reads %q, %v", b0, err)
	}
	rels, err := alice.assets.owner.Releases(ctx)
	if err != nil || len(rels) != 1 || rels[0].Recipient.PeerID() != bob.ID() {
		t.Fatalf("alice's ledger: %v %v", rels, err)
	}

	// Alice revokes Bob's grant: a new epoch, whose key Bob is refused; he keeps the old one.
	rr := must[RevokeReply](t)(call(t, alice, OpRevoke, RevokeRequest{Grant: g.ID}))
	if rr.Epoch == nil {
		t.Fatal("no new epoch")
	}
	newCore, _ := corestore.ParseKey(rr.Epoch.Core)
	nc, _ := alice.Repo.Store.Get(ctx, newCore)
	if _, err := alice.DB.Transact(ctx, newCore, []datom.Datom{datom.Add("doc/new", "doc/text", datom.String("after the revocation"))}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "bob downloads the new epoch's ciphertext", fetchFrom(t, bob, nc.Key(), alice), nil)
	if err := bob.assets.keyReleaseError(nc.Key()); !errors.Is(err, asset.ErrGrantRevoked) {
		t.Fatalf("bob's key release for the new epoch: %v", err)
	}
	if bnc, err := bob.Repo.Store.Get(ctx, nc.Key()); err != nil || bnc.Contiguous() == 0 {
		t.Fatalf("bob holds no ciphertext of the new epoch: %v", err)
	} else if _, err := bnc.Get(ctx, 0); !errors.Is(err, corestore.ErrNoEncryptionKey) {
		t.Fatalf("bob reads the new epoch: %v", err)
	}
	if b, err := bc.Get(ctx, 3); err != nil || !bytes.Contains(b, []byte(secret)) {
		t.Fatalf("bob lost what he had: %v", err)
	}
}

// TestComputeAsset: a compute asset's blocks are never served; a grantee with query runs the
// allowed queries only, and gets rows.
func TestComputeAsset(t *testing.T) {
	alice := startedNode(t)
	data := contactsCore(t, alice, "contacts")
	allowed := `[:find ?n :where [?e :person/name ?n]]`
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "names", Core: "contacts", Level: "compute", Queries: []string{allowed}}))
	bob, mallory := startedNode(t), startedNode(t)
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "names", Grantee: bob.ID().String(), Actions: "query,read"}))
	wantErr(t, "raw blocks", fetchFrom(t, bob, data.Key(), alice), asset.ErrComputeOnly)
	peers := []string{fmt.Sprintf("%s/p2p/%s", alice.host.Addrs()[0], alice.ID())}
	res := must[AssetQueryReply](t)(call(t, bob, OpAssetQuery, AssetQueryRequest{Core: data.Key().String(), Query: allowed, Peers: peers}))
	if len(res.Rows) != 5 || res.Rows[0][0] != "name 0" {
		t.Fatalf("rows %v", res.Rows)
	}
	_, err := call(t, bob, OpAssetQuery, AssetQueryRequest{Core: data.Key().String(), Query: `[:find ?m :where [?e :person/email ?m]]`, Peers: peers})
	wantErr(t, "a query outside the allowed set", err, asset.ErrQueryNotAllowed)
	_, err = call(t, mallory, OpAssetQuery, AssetQueryRequest{Core: data.Key().String(), Query: allowed, Peers: peers})
	wantErr(t, "no grant", err, asset.ErrNoGrant)
}

// TestAttributeScopedAsset: a grant on some attributes of a core does not download the core; it
// queries those attributes only.
func TestAttributeScopedAsset(t *testing.T) {
	alice := startedNode(t)
	data := contactsCore(t, alice, "contacts")
	must[AssetInfo](t)(call(t, alice, OpAssetCreate, AssetCreateRequest{Name: "emails", Core: "contacts", Level: "granted", Attrs: []string{"person/email"}}))
	bob := startedNode(t)
	must[GrantInfo](t)(call(t, alice, OpGrant, GrantRequest{Asset: "emails", Grantee: bob.ID().String(), Actions: "read,query"}))
	wantErr(t, "download", fetchFrom(t, bob, data.Key(), alice), asset.ErrNoGrant)
	peers := []string{fmt.Sprintf("%s/p2p/%s", alice.host.Addrs()[0], alice.ID())}
	res := must[AssetQueryReply](t)(call(t, bob, OpAssetQuery, AssetQueryRequest{Core: data.Key().String(), Query: `[:find ?e ?m :where [?e :person/email ?m]]`, Peers: peers}))
	if len(res.Rows) != 5 {
		t.Fatalf("rows %v", res.Rows)
	}
	_, err := call(t, bob, OpAssetQuery, AssetQueryRequest{Core: data.Key().String(), Query: `[:find ?n :where [?e :person/name ?n]]`, Peers: peers})
	wantErr(t, "another attribute", err, asset.ErrQueryNotAllowed)
}
