package doip

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/doip/wire"
)

func dial21(t *testing.T, addr string) *Client21 {
	t.Helper()
	c, err := DialTCP21(testCtx(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func status21(t *testing.T, m *wire.Message21, want wire.Status) {
	t.Helper()
	if m.Params.Response.Normalize() != want {
		t.Fatalf("status %s (%s), want %s", m.Params.Response, m.Params.Attributes, want)
	}
}

// Hello, Create, Retrieve and Search through the DOIP 2.1 envelope give the objects DOIP 2.0
// gives.
func TestDOIP21(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "t21", nil)
	writer := newKey(t)
	writerID := PeerID(writer.Public().(ed25519.PublicKey))
	svc, addr, addr21 := n.serve(t, WithAuthorizer(OwnerOnly{Creators: []string{writerID}}))
	c20 := n.dial(t, addr)
	c := dial21(t, addr21)

	hello, err := c.Do(ctx, svc.ID(), OpHello, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, hello, wire.StatusOK)
	js, rest, err := wire.DecodeObject21(hello.Body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("hello body: %v", err)
	}
	var info DigitalObject
	json.Unmarshal(js, &info)
	h20, err := c20.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != h20.ID || info.Type != h20.Type || !strings.Contains(string(info.Attributes), `"protocolVersion":"2.1"`) {
		t.Fatalf("2.1 hello %s", js)
	}

	// An unsigned create is anonymous and refused.
	do := []byte(`{"type":"Doc","attributes":{"content":{"name":"envelope test"}},"elements":[{"id":"a","length":5,"type":"text/plain"},{"id":"b","length":3}]}`)
	body := wire.EncodeObject21(do, []byte("hello"), []byte("xyz"))
	resp, err := c.Do(ctx, svc.ID(), OpCreate, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, resp, wire.StatusUnauthenticated)
	if !strings.Contains(string(resp.Body), "authentication") {
		t.Fatalf("error body %q", resp.Body)
	}

	// A create signed with the writer's key is the writer's.
	c.Sign(writer)
	resp, err = c.Do(ctx, svc.ID(), OpCreate, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, resp, wire.StatusOK)
	js, _, err = wire.DecodeObject21(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var created DigitalObject
	json.Unmarshal(js, &created)
	if created.Element("a").Length != 5 || created.Element("b").Length != 3 || !strings.Contains(string(created.Attributes), writerID) {
		t.Fatalf("created %s", js)
	}

	// Retrieve through 2.1 equals Retrieve through 2.0.
	resp, err = c.Do(ctx, created.ID, OpRetrieve, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, resp, wire.StatusOK)
	js, _, _ = wire.DecodeObject21(resp.Body)
	r20, err := c20.Retrieve(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	b20, _ := r20.marshalOut()
	if !jsonEqual(t, js, b20) {
		t.Fatalf("2.1 retrieve %s\n2.0 retrieve %s", js, b20)
	}
	resp, err = c.Do(ctx, created.ID, OpRetrieve, map[string]any{"element": "a"}, nil)
	if err != nil || string(resp.Body) != "hello" {
		t.Fatalf("element a: %q %v", resp.Body, err)
	}
	resp, err = c.Do(ctx, created.ID, OpRetrieve, map[string]any{"includeElementData": "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, rest, _ = wire.DecodeObject21(resp.Body)
	if string(rest) != "helloxyz" || !jsonEqual(t, js, b20) {
		t.Fatalf("with data: %s %q", js, rest)
	}
	rc, err := c20.RetrieveElement(ctx, created.ID, "b")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "xyz" {
		t.Fatalf("2.0 element b %q", b)
	}

	// Search through 2.1 equals Search through 2.0.
	resp, err = c.Do(ctx, svc.ID(), OpSearch, map[string]any{"query": "envelope", "pageNum": 0, "pageSize": 10, "type": "full"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, resp, wire.StatusOK)
	s20, err := c20.Search(ctx, SearchRequest{Query: "envelope", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	sb20, _ := s20.MarshalJSON()
	if !jsonEqual(t, resp.Body, sb20) || s20.Size != 1 {
		t.Fatalf("2.1 search %s\n2.0 search %s", resp.Body, sb20)
	}

	// Errors come back as statuses; a forged signature is refused.
	resp, _ = c.Do(ctx, svc.ID(), "0.DOIP/Op.Frobnicate", nil, nil)
	status21(t, resp, wire.StatusDeclined)
	resp, _ = c.Do(ctx, "t21/none", OpRetrieve, nil, nil)
	status21(t, resp, wire.StatusNotFound)
	resp, _ = c.Do(ctx, svc.ID(), OpSearch, map[string]any{"query": "(a"}, nil)
	status21(t, resp, wire.StatusInvalid)
	m := &wire.Message21{Flag: wire.MsgRequest, Params: wire.Params{ID: svc.ID(), Operation: OpHello},
		Credential: &wire.Credential{Attributes: []byte(`{"signer":"` + writerID + `"}`), Signature: make([]byte, 64)}}
	content, _ := m.Encode()
	if err := wire.WriteMessage(c.conn, 99, content, 0); err != nil {
		t.Fatal(err)
	}
	_, part, err := wire.ReadFrame(c.conn, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := wire.DecodeMessage21(part)
	status21(t, forged, wire.StatusUnauthenticated)
	// The encrypted flag (BDWare's key exchange) is declined, not misread.
	var frame []byte
	frame = wire.Envelope{Major: 2, Minor: 1, Flags: wire.FlagEncrypted, RequestID: 100, Total: 1, ContentLength: uint32(len(content))}.AppendTo(frame)
	if _, err := c.conn.Write(append(frame, content...)); err != nil {
		t.Fatal(err)
	}
	_, part, err = wire.ReadFrame(c.conn, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := wire.DecodeMessage21(part)
	status21(t, enc, wire.StatusDeclined)
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// A message larger than one frame is split and assembled both ways.
func TestDOIP21Split(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "big", nil)
	svc, _, addr21 := n.serve(t)
	c := dial21(t, addr21)
	c.Sign(n.key)
	data := bytes.Repeat([]byte("0123456789"), 700000) // 7 MB: two frames of 5 MiB
	body := wire.EncodeObject21([]byte(`{"id":"big/1","elements":[{"id":"e","length":7000000}]}`), data)
	resp, err := c.Do(ctx, svc.ID(), OpCreate, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	status21(t, resp, wire.StatusOK)
	resp, err = c.Do(context.Background(), "big/1", OpRetrieve, map[string]any{"element": "e"}, nil)
	if err != nil || !bytes.Equal(resp.Body, data) {
		t.Fatalf("element: %d bytes, %v", len(resp.Body), err)
	}
}
