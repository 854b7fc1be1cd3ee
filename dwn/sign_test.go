package dwn_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// TestSignMessage: a query signed with dwn.SignMessage is the one dwntest builds (and dwn-sdk-js
// would) and the node accepts it; unsigned it is anonymous; RecordsWrite is refused.
func TestSignMessage(t *testing.T) {
	p := dwntest.NewPersona(1)
	s := dwn.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))
	if s.DID != p.DID || s.KeyID != p.KeyID {
		t.Fatalf("signer %s %s, persona %s %s", s.DID, s.KeyID, p.DID, p.KeyID)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	want := p.RecordsQuery(dwntest.NewClock(start), dwntest.Obj("schema", "https://example.com/x"))
	desc := dwntest.Obj("interface", "Records", "method", "Query",
		"messageTimestamp", dwn.Timestamp(start.Add(time.Millisecond)), "filter", dwntest.Obj("schema", "https://example.com/x"))
	got, err := dwn.SignMessage(s, desc)
	if err != nil {
		t.Fatal(err)
	}
	if jsv.Stringify(got) != jsv.Stringify(want) {
		t.Fatalf("SignMessage\n got %s\nwant %s", jsv.Stringify(got), jsv.Stringify(want))
	}
	node, err := dwn.New(memstore.New().Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	r, err := node.Process(context.Background(), p.DID, got)
	if err != nil || r.Status.Code != 200 {
		t.Fatalf("signed query: %v %+v", err, r)
	}
	anon, _ := dwn.SignMessage(nil, desc)
	if anon.Has("authorization") {
		t.Fatal("nil signer signed")
	}
	if r, err := node.Process(context.Background(), p.DID, anon); err != nil || r.Status.Code != 200 {
		t.Fatalf("anonymous query: %v %+v", err, r)
	}
	if _, err := dwn.SignMessage(s, dwntest.Obj("interface", "Records", "method", "Write")); err == nil {
		t.Fatal("SignMessage built a RecordsWrite")
	}
}
