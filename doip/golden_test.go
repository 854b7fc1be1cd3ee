package doip

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/doip/wire"
)

// rawConn is a TLS connection that writes transcripts and reads whole responses as bytes.
type rawConn struct {
	t    *testing.T
	c    *tls.Conn
	rec  bytes.Buffer // every byte read from the connection
	br   *bufio.Reader
	rd   *wire.Reader
	used int // bytes of rec consumed by responses
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	cfg, _ := ClientTLSConfig(nil, nil)
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	r := &rawConn{t: t, c: c}
	r.br = bufio.NewReaderSize(io.TeeReader(c, &r.rec), 64<<10)
	r.rd = wire.NewReader(r.br, wire.Limits{})
	return r
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// response reads one whole response message and returns its bytes as sent and its segments.
func (r *rawConn) response() ([]byte, []seg) {
	r.t.Helper()
	m, err := r.rd.Next()
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	var segs []seg
	for {
		s, err := m.NextSegment()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.t.Fatalf("read response: %v", err)
		}
		b, err := io.ReadAll(s)
		if err != nil {
			r.t.Fatal(err)
		}
		segs = append(segs, seg{s.IsJSON(), b})
	}
	end := r.rec.Len() - r.br.Buffered()
	raw := bytes.Clone(r.rec.Bytes()[r.used:end])
	r.used = end
	return raw, segs
}

type seg struct {
	json bool
	b    []byte
}

func readTranscript(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cordra", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transcriptJSON returns the JSON of a transcript's segment i.
func transcriptJSON(t *testing.T, name string, i int) map[string]any {
	t.Helper()
	rd := wire.NewReader(bytes.NewReader(readTranscript(t, name)), wire.Limits{})
	m, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; ; j++ {
		s, err := m.NextSegment()
		if err != nil {
			t.Fatalf("%s segment %d: %v", name, i, err)
		}
		if j == i {
			b, err := s.ReadJSON(0)
			if err != nil {
				t.Fatal(err)
			}
			return decodeJSON(t, b)
		}
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JSON %s: %v", b, err)
	}
	return m
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// The Cordra manual's transcripts, sent to a datomspace service configured as the manual's
// Cordra is (service 20.500.123/service on 127.0.0.1:9000, prefix test, users admin and
// test/12dea96fec20593566ab with password "password").
func TestCordraTranscripts(t *testing.T) {
	n := newNode(t, "test", nil)
	users, _ := OpenUsers("")
	users.n = 1 << 10 // cheap hashes in tests
	for _, u := range []string{"admin", "test/12dea96fec20593566ab"} {
		if err := users.Add(u, "password"); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := NewAuthenticator(n.key.Public().(ed25519.PublicKey), WithUsers(users))
	if err != nil {
		t.Fatal(err)
	}
	_, addr, _ := n.serve(t, WithServiceID("20.500.123/service"), WithAdvertise("127.0.0.1", 9000),
		WithAuthenticator(auth), WithAuthorizer(OwnerOnly{Creators: []string{"admin", "test/12dea96fec20593566ab"}}))
	rc := dialRaw(t, addr)

	t.Run("hello", func(t *testing.T) {
		rc.send(readTranscript(t, "hello.request"))
		raw, segs := rc.response()
		if len(segs) != 1 || !segs[0].json || !bytes.HasSuffix(raw, []byte("}\n#\n#\n")) {
			t.Fatalf("Hello response is not one JSON segment: %q", raw)
		}
		got, want := decodeJSON(t, segs[0].b), transcriptJSON(t, "hello.response", 0)
		for _, k := range [][]string{{"output", "id"}, {"output", "type"}, {"output", "attributes", "ipAddress"},
			{"output", "attributes", "port"}, {"output", "attributes", "protocol"}, {"output", "attributes", "protocolVersion"}} {
			if g, w := path(got, k...), path(want, k...); g != w {
				t.Errorf("%v = %v, Cordra's %v", k, g, w)
			}
		}
		// Cordra's manual prints Status.1; its code and ours send Status.001.
		if got["status"] != string(wire.StatusOK) || wire.Status(want["status"].(string)).Normalize() != wire.StatusOK {
			t.Errorf("status %v", got["status"])
		}
		// Our key is the node's Ed25519 identity where Cordra's is RSA.
		jwk, _ := json.Marshal(path(got, "output", "attributes", "publicKey"))
		if pub, err := ParseJWK(jwk); err != nil || !pub.Equal(n.key.Public().(ed25519.PublicKey)) {
			t.Errorf("publicKey %s: %v", jwk, err)
		}
		if path(got, "output", "attributes", "peerId") != PeerID(n.key.Public().(ed25519.PublicKey)) {
			t.Errorf("peerId %v", path(got, "output", "attributes", "peerId"))
		}
	})

	var created string
	t.Run("create with an element", func(t *testing.T) {
		rc.send(readTranscript(t, "create.request"))
		raw, segs := rc.response()
		if len(segs) != 1 || !bytes.HasSuffix(raw, []byte("}\n#\n#\n")) {
			t.Fatalf("Create response is not one JSON segment: %q", raw)
		}
		got, want := decodeJSON(t, segs[0].b), transcriptJSON(t, "create.response", 0)
		if got["status"] != string(wire.StatusOK) {
			t.Fatalf("status %v: %v", got["status"], got["attributes"])
		}
		created, _ = path(got, "output", "id").(string)
		wantID := path(want, "output", "id").(string)
		if !strings.HasPrefix(created, "test/") || len(created) != len(wantID) {
			t.Errorf("minted id %q, Cordra's is like %q", created, wantID)
		}
		for _, k := range [][]string{{"output", "type"}, {"output", "attributes", "content", "name"}, {"output", "attributes", "metadata", "createdBy"},
			{"output", "attributes", "metadata", "modifiedBy"}} {
			if g, w := path(got, k...), path(want, k...); g != w {
				t.Errorf("%v = %v, Cordra's %v", k, g, w)
			}
		}
		for _, k := range []string{"createdOn", "modifiedOn", "txnId"} {
			if _, ok := path(got, "output", "attributes", "metadata", k).(float64); !ok {
				t.Errorf("metadata.%s missing", k)
			}
		}
		gel, wel := path(got, "output", "elements").([]any), path(want, "output", "elements").([]any)
		if len(gel) != 1 || len(wel) != 1 {
			t.Fatalf("elements %v", gel)
		}
		ge, we := gel[0].(map[string]any), wel[0].(map[string]any)
		for _, k := range []string{"id", "type"} {
			if ge[k] != we[k] {
				t.Errorf("element %s = %v, Cordra's %v", k, ge[k], we[k])
			}
		}
		if path(ge, "attributes", "filename") != path(we, "attributes", "filename") {
			t.Errorf("element attributes %v", ge["attributes"])
		}
		// Cordra reports length 0 for the 12 bytes; we report 12.
		if ge["length"] != float64(12) || we["length"] != float64(0) {
			t.Errorf("length %v (Cordra %v)", ge["length"], we["length"])
		}
	})

	t.Run("create inline", func(t *testing.T) {
		rc.send(readTranscript(t, "create-inline.request"))
		_, segs := rc.response()
		got := decodeJSON(t, segs[0].b)
		if got["status"] != string(wire.StatusOK) || path(got, "output", "type") != "User" ||
			path(got, "output", "attributes", "content", "username") != "user" || path(got, "output", "attributes", "metadata", "createdBy") != "admin" {
			t.Fatalf("inline create: %s", segs[0].b)
		}
	})

	t.Run("retrieve", func(t *testing.T) {
		req := bytes.ReplaceAll(readTranscript(t, "retrieve.request"), []byte("test/0a4d55a8d778e5022fab"), []byte(created))
		rc.send(req)
		_, segs := rc.response()
		got, want := decodeJSON(t, segs[0].b), transcriptJSON(t, "retrieve.response", 0)
		if len(segs) != 1 || got["status"] != string(wire.StatusOK) || path(got, "output", "id") != created {
			t.Fatalf("retrieve: %s", segs[0].b)
		}
		for _, k := range [][]string{{"output", "type"}, {"output", "attributes", "content", "name"}, {"output", "attributes", "metadata", "createdBy"}} {
			if g, w := path(got, k...), path(want, k...); g != w {
				t.Errorf("%v = %v, Cordra's %v", k, g, w)
			}
		}
	})

	t.Run("retrieve an element, byte for byte", func(t *testing.T) {
		req := bytes.ReplaceAll(readTranscript(t, "retrieve-element.request"), []byte("test/0a4d55a8d778e5022fab"), []byte(created))
		rc.send(req)
		raw, _ := rc.response()
		want := bytes.Replace(readTranscript(t, "retrieve-element.response"), []byte(`"0.DOIP/Status.1"`), []byte(`"0.DOIP/Status.001"`), 1)
		if !bytes.Equal(raw, want) {
			t.Fatalf("got  %q\nwant %q", raw, want)
		}
	})

	t.Run("search", func(t *testing.T) {
		c := n.dial(t, addr, WithAuth(n.ownerAuth()))
		if _, err := c.Create(context.Background(), &DigitalObject{Type: "Schema", Attributes: json.RawMessage(`{"content":{"name":"User","schema":{}}}`)}, nil); err != nil {
			t.Fatal(err)
		}
		rc.send(readTranscript(t, "search.request"))
		raw, segs := rc.response()
		// As Cordra answers: a status segment, then the results in a JSON segment.
		if !bytes.HasPrefix(raw, []byte("{\"status\":\"0.DOIP/Status.001\"}\n#\n{")) || !bytes.HasSuffix(raw, []byte("}\n#\n#\n")) || len(segs) != 2 {
			t.Fatalf("search response %q", raw)
		}
		res := decodeJSON(t, segs[1].b)
		results, _ := res["results"].([]any)
		if res["size"] != float64(1) || len(results) != 1 {
			t.Fatalf("results %s", segs[1].b)
		}
		r := results[0].(map[string]any)
		if r["type"] != "Schema" || path(r, "attributes", "content", "name") != "User" {
			t.Fatalf("result %v", r)
		}
		if !bytes.Contains(readTranscript(t, "search.response"), []byte(`"type": "Schema"`)) {
			t.Fatal("transcript changed")
		}
	})
}
