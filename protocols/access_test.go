package protocols

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
)

// testAccess allows the peers in allow, and records what it was told.
type testAccess struct {
	mu       sync.Mutex
	allow    map[peer.ID]bool
	cred     []byte
	gotCreds [][]byte
	metas    [][]byte
	refusals []*Refusal
}

func (a *testAccess) Authorize(ctx context.Context, core *corestore.Core, remote peer.ID, credential []byte) ([]byte, *Refusal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gotCreds = append(a.gotCreds, credential)
	if !a.allow[remote] && string(credential) != "open sesame" {
		return nil, &Refusal{Code: "no grant", Message: "ask the owner", Meta: []byte("grants-are-here")}
	}
	return []byte("meta-" + core.Key().String()[:8]), nil
}

func (a *testAccess) Credential(core *corestore.Core, remote peer.ID) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cred
}

func (a *testAccess) Answered(ctx context.Context, core *corestore.Core, remote peer.ID, meta []byte, ref *Refusal) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.metas = append(a.metas, meta)
	if ref != nil {
		a.refusals = append(a.refusals, ref)
	}
	return nil
}

func (a *testAccess) set(f func(a *testAccess)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

// TestAccessRefusal: a responder whose Access refuses answers with the reason, which the opener
// sees; a credential in the Open or a change of mind lets the download through.
func TestAccessRefusal(t *testing.T) {
	oa, ra := &testAccess{allow: map[peer.ID]bool{}}, &testAccess{allow: map[peer.ID]bool{}}
	owner := newNode(t, "", WithAccess(oa))
	reader := newNode(t, "", WithAccess(ra))
	oc := makeOwner(t, owner, "granted", 50, 100)
	connect(t, reader.host, owner.host)
	ctx := tctx(t, 30*time.Second)
	rc := replicaOf(t, reader, oc.Key())
	err := reader.rep.Replicate(ctx, rc, owner.host.ID())
	var ref *Refusal
	if !errors.Is(err, ErrRefused) || !errors.As(err, &ref) || ref.Code != "no grant" || string(ref.Meta) != "grants-are-here" {
		t.Fatalf("refused replicate: %v (%+v)", err, ref)
	}
	if len(ra.refusals) != 1 || ra.refusals[0].Message != "ask the owner" {
		t.Fatalf("the opener's Access was told %+v", ra.refusals)
	}
	if owner.rep.Score(reader.host.ID()) < 0 {
		t.Fatal("a refused peer lost score: it did nothing wrong")
	}
	// With a credential the owner's Access accepts.
	ra.set(func(a *testAccess) { a.cred = []byte("open sesame") })
	replicateAndDownload(t, ctx, reader, rc, owner, 0, 0)
	checkBlocks(t, rc, "granted", 100, 0, 50)
	oa.mu.Lock()
	last := oa.gotCreds[len(oa.gotCreds)-1]
	oa.mu.Unlock()
	if string(last) != "open sesame" {
		t.Fatalf("the owner's Access got credential %q", last)
	}
	ra.mu.Lock()
	meta := ra.metas[len(ra.metas)-1]
	ra.mu.Unlock()
	if string(meta) != "meta-"+oc.Key().String()[:8] {
		t.Fatalf("the opener was told %q", meta)
	}
}

// TestAccessInitiatorDoesNotServe: a node that opens a session with a peer its Access refuses
// downloads from it but does not serve it; Reauthorize lifts or imposes that as grants change.
func TestAccessInitiatorDoesNotServe(t *testing.T) {
	oa := &testAccess{allow: map[peer.ID]bool{}}
	owner := newNode(t, "", WithAccess(oa))
	other := newNode(t, "")
	oc := makeOwner(t, owner, "granted", 20, 100)
	// The other peer holds an empty replica and answers the owner's stream.
	connect(t, owner.host, other.host)
	xc := replicaOf(t, other, oc.Key())
	ctx := tctx(t, 30*time.Second)
	oa.set(func(a *testAccess) { a.allow[other.host.ID()] = false })
	if err := owner.rep.Replicate(ctx, oc, other.host.ID()); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	err := other.rep.Download(short, xc, 0, 20)
	cancel()
	if err == nil || xc.Contiguous() != 0 {
		t.Fatalf("the refused peer downloaded through the owner's own stream: %v, %d blocks", err, xc.Contiguous())
	}
	oa.set(func(a *testAccess) { a.allow[other.host.ID()] = true })
	if n := owner.rep.Reauthorize(ctx, oc); n != 0 {
		t.Fatalf("Reauthorize gated %d sessions", n)
	}
	// The peer asks again once the owner's tree changes (it gave up on the tree it was refused).
	if _, err := oc.Append(ctx, blockData(20, 100, "granted")); err != nil {
		t.Fatal(err)
	}
	if err := other.rep.Download(ctx, xc, 0, 21); err != nil {
		t.Fatal(err)
	}
	checkBlocks(t, xc, "granted", 100, 0, 21)
}

// TestAccessReauthorizeCloses: a session a peer opened is closed when its Access no longer
// allows it; the peer's next open is refused with the reason.
func TestAccessReauthorizeCloses(t *testing.T) {
	oa := &testAccess{allow: map[peer.ID]bool{}}
	owner := newNode(t, "", WithAccess(oa))
	reader := newNode(t, "")
	oc := makeOwner(t, owner, "granted", 10, 100)
	oa.set(func(a *testAccess) { a.allow[reader.host.ID()] = true })
	connect(t, reader.host, owner.host)
	ctx := tctx(t, 30*time.Second)
	rc := replicaOf(t, reader, oc.Key())
	replicateAndDownload(t, ctx, reader, rc, owner, 0, 0)
	oa.set(func(a *testAccess) { a.allow[reader.host.ID()] = false })
	if n := owner.rep.Reauthorize(ctx, oc); n != 1 {
		t.Fatalf("Reauthorize closed %d sessions, want 1", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(owner.rep.Peers(oc)) > 0 || len(reader.rep.Peers(rc)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session stayed open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := reader.rep.Replicate(ctx, rc, owner.host.ID()); !errors.Is(err, ErrRefused) {
		t.Fatalf("reopen: %v", err)
	}
}

func TestRefuseWire(t *testing.T) {
	for _, m := range []Message{&Refuse{Code: "no grant", Message: "m", Meta: []byte{1, 2}}, &Open{DiscoveryKey: make([]byte, 32), Capability: []byte{1}, Credential: []byte("c"), Meta: []byte("m")}} {
		b := EncodeMessage(m)
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(EncodeMessage(got)) != string(b) {
			t.Fatalf("%T does not round-trip", m)
		}
	}
	big := &Refuse{Code: string(make([]byte, 65))}
	if _, err := DecodeMessage(EncodeMessage(big)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an oversized refuse: %v", err)
	}
}
