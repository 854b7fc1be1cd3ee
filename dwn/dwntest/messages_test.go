package dwntest_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// TestBuiltMessagesAreAccepted checks that the messages the helpers sign are judged valid.
func TestBuiltMessagesAreAccepted(t *testing.T) {
	st := memstore.New()
	n, err := dwn.New(st.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	alice := dwntest.NewPersona(1)
	c := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	w := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"a":1}`), Schema: "https://example.com/s"})
	r, err := n.Process(ctx, alice.DID, w, dwn.WithData(bytesReader(`{"a":1}`)))
	if err != nil || r.Status.Code != 202 {
		t.Fatalf("write: %v %+v", err, r)
	}
	u := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"a":2}`), Of: w})
	if r, _ := n.Process(ctx, alice.DID, u, dwn.WithData(bytesReader(`{"a":2}`))); r.Status.Code != 202 {
		t.Fatalf("update: %+v", r.Status)
	}
	q := alice.RecordsQuery(c, dwntest.Obj("schema", "https://example.com/s"))
	if r, _ := n.Process(ctx, alice.DID, q); r.Status.Code != 200 || len(r.Entries) != 1 {
		t.Fatalf("query: %+v %d", r.Status, len(r.Entries))
	}
	pc := alice.ProtocolsConfigure(c, `{"protocol":"https://example.com/p","published":true,"types":{"a":{}},"structure":{"a":{"$actions":[{"who":"anyone","can":["create"]}]}}}`)
	if r, _ := n.Process(ctx, alice.DID, pc); r.Status.Code != 202 {
		t.Fatalf("configure: %+v", r.Status)
	}
	bob := dwntest.NewPersona(2)
	pw := bob.RecordsWrite(c, dwntest.Write{Data: []byte(`{}`), Protocol: "https://example.com/p", ProtocolPath: "a"})
	if r, _ := n.Process(ctx, alice.DID, pw, dwn.WithData(bytesReader(`{}`))); r.Status.Code != 202 {
		t.Fatalf("protocol write: %+v", r.Status)
	}
	mq := alice.MessagesQuery(c, []any{}, nil)
	if r, _ := n.Process(ctx, alice.DID, mq); r.Status.Code != 200 || len(r.Entries) != 4 {
		t.Fatalf("messages query: %+v %d", r.Status, len(r.Entries))
	}
}

func bytesReader(s string) *stringsReader { return &stringsReader{s: s} }

type stringsReader struct {
	s string
	i int
}

func (r *stringsReader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}
