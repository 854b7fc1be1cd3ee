package doip

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/doip/wire"
)

// statusOf returns the status and attributes of a raw response's first segment.
func statusOf(t *testing.T, segs []seg) (wire.Status, map[string]any) {
	t.Helper()
	if len(segs) == 0 || !segs[0].json {
		t.Fatalf("response without a JSON first segment")
	}
	var h struct {
		Status     wire.Status    `json:"status"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(segs[0].b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Status, h.Attributes
}

func TestBadInput(t *testing.T) {
	n := newNode(t, "bad", nil)
	svc, addr, _ := n.serve(t)
	c := n.dial(t, addr, WithAuth(n.ownerAuth()))
	ctx := testCtx(t)
	if _, err := c.Create(ctx, &DigitalObject{ID: "bad/1", Elements: []Element{{ID: "e"}}}, map[string]io.Reader{"e": strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	hello := `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Hello"}` + "\n#\n#\n"
	tok, _ := KeyToken(n.key, PeerID(n.key.Public().(ed25519.PublicKey)), time.Now())
	auth := `"clientId":"` + PeerID(n.key.Public().(ed25519.PublicKey)) + `","authentication":{"token":"` + tok + `"}`

	// Answered with a status, and the connection goes on.
	for _, tc := range []struct {
		name, req string
		want      wire.Status
		msg       string
	}{
		{"bytes first", "@\n3\nabc\n#\n#\n", wire.StatusInvalid, "must be JSON"},
		{"not JSON", "{not json\n#\n#\n", wire.StatusInvalid, "not a JSON object"},
		{"JSON array", "[1,2]\n#\n#\n", wire.StatusInvalid, "not a JSON object"},
		{"empty message", "#\n", wire.StatusInvalid, "no initial segment"},
		{"extra segments", `{"targetId":"x","operationId":"0.DOIP/Op.Hello","input":{}}` + "\n#\n{}\n#\n#\n", wire.StatusInvalid, "extra segments"},
		{"no target", `{"operationId":"0.DOIP/Op.Retrieve"}` + "\n#\n#\n", wire.StatusInvalid, "missing targetId"},
		{"no operation", `{"targetId":"bad/1"}` + "\n#\n#\n", wire.StatusInvalid, "missing operationId"},
		{"unknown operation on the service", `{"targetId":"` + svc.ID() + `","operationId":"9.9/Op.Frob"}` + "\n#\n#\n", wire.StatusDeclined, "not supported"},
		{"unknown operation on an object", `{"targetId":"bad/1","operationId":"9.9/Op.Frob"}` + "\n#\n#\n", wire.StatusDeclined, "not supported"},
		{"unknown operation on a missing object", `{"targetId":"bad/2","operationId":"9.9/Op.Frob"}` + "\n#\n#\n", wire.StatusNotFound, "no object"},
		{"missing element", `{"targetId":"bad/1","operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"nope"}}` + "\n#\n#\n", wire.StatusNotFound, "no element"},
		{"missing object", `{"targetId":"bad/9","operationId":"0.DOIP/Op.Retrieve"}` + "\n#\n#\n", wire.StatusNotFound, "no object"},
		{"huge pageSize", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Search","attributes":{"query":"*","pageSize":100000000}}` + "\n#\n#\n", wire.StatusInvalid, "pageSize"},
		{"pageSize not a number", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Search","attributes":{"query":"*","pageSize":"many"}}` + "\n#\n#\n", wire.StatusInvalid, "pageSize"},
		{"no query", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Search"}` + "\n#\n#\n", wire.StatusInvalid, "missing query"},
		{"query does not parse", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Search","attributes":{"query":"a AND (b"}}` + "\n#\n#\n", wire.StatusInvalid, "position 6"},
		{"input to retrieve", `{"targetId":"bad/1","operationId":"0.DOIP/Op.Retrieve"}` + "\n#\n{}\n#\n#\n", wire.StatusInvalid, "unexpected input"},
		{"anonymous create", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Create","input":{"type":"x"}}` + "\n#\n#\n", wire.StatusUnauthenticated, "needs authentication"},
		{"bad token", `{"targetId":"bad/1","operationId":"0.DOIP/Op.Retrieve","authentication":{"token":"abc"}}` + "\n#\n#\n", wire.StatusUnauthenticated, "not a compact JWS"},
		{"element for no element", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Create",` + auth + `}` + "\n#\n" + `{"elements":[{"id":"a"}]}` + "\n#\n" + `{"id":"b"}` + "\n#\n@\n2\nzz\n#\n#\n", wire.StatusInvalid, "no such element b"},
		{"element header without bytes", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Create",` + auth + `}` + "\n#\n" + `{"elements":[{"id":"a"}]}` + "\n#\n" + `{"id":"a"}` + "\n#\n#\n", wire.StatusInvalid, "unexpected end of input"},
		{"existing id", `{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Create",` + auth + `,"input":{"id":"bad/1"}}` + "\n#\n#\n", wire.StatusConflict, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send([]byte(tc.req))
			_, segs := rc.response()
			st, attrs := statusOf(t, segs)
			msg, _ := attrs["message"].(string)
			if st != tc.want || !strings.Contains(msg, tc.msg) {
				t.Fatalf("status %s message %q, want %s with %q", st, msg, tc.want, tc.msg)
			}
			rc.send([]byte(hello))
			_, segs = rc.response()
			if st, _ := statusOf(t, segs); st != wire.StatusOK {
				t.Fatalf("the connection did not go on: %s", st)
			}
		})
	}

	// The query's error position is an attribute too.
	rc := dialRaw(t, addr)
	rc.send([]byte(`{"targetId":"` + svc.ID() + `","operationId":"0.DOIP/Op.Search","attributes":{"query":"(a"}}` + "\n#\n#\n"))
	_, segs := rc.response()
	if _, attrs := statusOf(t, segs); attrs["position"] != float64(0) {
		t.Fatalf("attributes %v", attrs)
	}

	// Broken framing is answered, then the connection ends.
	for _, tc := range []struct {
		name, req string
		closeW    bool
		msg       string
	}{
		{"leading zero", `{"targetId":"bad/1","operationId":"0.DOIP/Op.Hello"}` + "\n#\n@\n012\nHello World\n\n#\n#\n", false, "starts with 0"},
		{"chunk over the limit", `{"targetId":"x","operationId":"0.DOIP/Op.Hello"}` + "\n#\n@\n999999999\n", false, "exceeds"},
		{"letter in a chunk size", "{}\n#\n@\n1z\n", false, "unexpected character"},
		{"truncated segment", `{"targetId":"x","operationId":"0.DOIP/Op.Hello"}` + "\n#\n@\n10\nabc", true, "end of input"},
		{"truncated JSON", `{"targetId":"x"`, true, "end of input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send([]byte(tc.req))
			if tc.closeW {
				rc.c.CloseWrite()
			}
			// The request may be answered first; the broken framing is answered last.
			var st wire.Status
			var msg string
			for i := 0; i < 2; i++ {
				_, segs := rc.response()
				var attrs map[string]any
				st, attrs = statusOf(t, segs)
				msg, _ = attrs["message"].(string)
				if strings.Contains(msg, tc.msg) {
					break
				}
			}
			if st != wire.StatusInvalid || !strings.Contains(msg, tc.msg) {
				t.Fatalf("status %s message %q, want 101 with %q", st, msg, tc.msg)
			}
			if _, err := rc.br.ReadByte(); err == nil {
				t.Fatal("the connection stayed open after broken framing")
			}
		})
	}
}
