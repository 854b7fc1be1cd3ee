package jsonrpc_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsv"
)

func personaAndClock() (*dwntest.Persona, *dwntest.Clock) {
	return dwntest.NewPersona(1), dwntest.NewClock(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
}

func writeOf(data []byte) dwntest.Write {
	return dwntest.Write{Data: data, DataFormat: "application/octet-stream", Schema: "https://example.com/blob"}
}

type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, url string) *wsConn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wsConn{t: t, c: c}
}

func (w *wsConn) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsConn) recv() *jsv.Object {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := w.c.ReadMessage()
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := jsv.Parse(b)
	if err != nil {
		w.t.Fatal(err)
	}
	return v.(*jsv.Object)
}

func raw(m *jsv.Object) json.RawMessage { return json.RawMessage(jsv.Stringify(m)) }

// TestWebSocketSubscriptions subscribes over a WebSocket as dwn-server's clients do, receives the
// events of writes made over HTTP, closes the subscription, and checks dwn-server's refusals.
func TestWebSocketSubscriptions(t *testing.T) {
	node, _ := newMemNode(t)
	hs, _ := newServer(t, node)
	alice, clock := personaAndClock()
	ws := dial(t, hs.URL)

	sub := alice.RecordsSubscribe(clock, dwntest.Obj("schema", "https://example.com/blob"))
	ws.send(map[string]any{"jsonrpc": "2.0", "id": "s-req", "method": "rpc.subscribe.dwn.processMessage",
		"params": map[string]any{"target": alice.DID, "message": raw(sub)}, "subscription": map[string]any{"id": "sub-1"}})
	r := ws.recv()
	if at(r, "id") != "s-req" || at(r, "result", "reply", "status", "code") != float64(200) {
		t.Fatalf("subscribe reply %s", jsv.Stringify(r))
	}
	subCID, _ := at(r, "result", "reply", "subscription", "id").(string)
	if !strings.HasPrefix(subCID, "bafyrei") {
		t.Fatalf("subscription id %q", subCID)
	}

	// the same subscription id again
	ws.send(map[string]any{"jsonrpc": "2.0", "id": "dup", "method": "rpc.subscribe.dwn.processMessage",
		"params": map[string]any{"target": alice.DID, "message": raw(alice.RecordsSubscribe(clock, dwntest.Obj("schema", "x")))}, "subscription": map[string]any{"id": "sub-1"}})
	if r := ws.recv(); at(r, "error", "code") != float64(-32602) {
		t.Errorf("duplicate subscription id: %s", jsv.Stringify(r))
	}

	data := []byte("hello")
	w := alice.RecordsWrite(clock, writeOf(data))
	resp, _, _ := post(t, hs.URL, alice.DID, raw(w), data, false)
	if code := at(resp, "result", "reply", "status", "code"); code != float64(202) {
		t.Fatalf("write: %s", jsv.Stringify(resp))
	}
	ev := ws.recv()
	if at(ev, "id") != "sub-1" {
		t.Fatalf("event %s", jsv.Stringify(ev))
	}
	if got := at(ev, "result", "event", "message", "recordId"); got != at(w, "recordId") {
		t.Errorf("event for %v, want %v", got, at(w, "recordId"))
	}

	// RecordsWrite is refused on sockets
	ws.send(map[string]any{"jsonrpc": "2.0", "id": 3, "method": "dwn.processMessage", "params": map[string]any{"target": alice.DID, "message": raw(w)}})
	if r := ws.recv(); at(r, "error", "code") != float64(-32602) || at(r, "error", "message") != "RecordsWrite is not supported via ws" {
		t.Errorf("write over ws: %s", jsv.Stringify(r))
	}
	// a frame that is not JSON
	if err := ws.c.WriteMessage(websocket.TextMessage, []byte("nope")); err != nil {
		t.Fatal(err)
	}
	if r := ws.recv(); at(r, "error", "code") != float64(-50400) {
		t.Errorf("bad frame: %s", jsv.Stringify(r))
	}
	// a query over the socket works
	ws.send(map[string]any{"jsonrpc": "2.0", "id": 4, "method": "dwn.processMessage", "params": map[string]any{"target": alice.DID, "message": raw(alice.RecordsQuery(clock, dwntest.Obj("schema", "https://example.com/blob")))}})
	if r := ws.recv(); at(r, "id") != float64(4) || len(at(r, "result", "reply", "entries").([]any)) != 1 {
		t.Errorf("query over ws: %s", jsv.Stringify(r))
	}
	// close the subscription; later writes send nothing
	ws.send(map[string]any{"jsonrpc": "2.0", "id": 5, "method": "rpc.subscribe.close", "subscription": map[string]any{"id": "sub-1"}})
	if r := ws.recv(); at(r, "id") != float64(5) || at(r, "result", "reply", "status") != float64(200) {
		t.Errorf("close: %s", jsv.Stringify(r))
	}
	ws.send(map[string]any{"jsonrpc": "2.0", "id": 6, "method": "rpc.subscribe.close", "subscription": map[string]any{"id": "sub-1"}})
	if r := ws.recv(); at(r, "error", "code") != float64(-32602) {
		t.Errorf("close twice: %s", jsv.Stringify(r))
	}
	w2 := alice.RecordsWrite(clock, writeOf([]byte("again")))
	post(t, hs.URL, alice.DID, raw(w2), []byte("again"), false)
	ws.send(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "rpc.subscribe.close", "subscription": map[string]any{"id": "nope"}})
	if r := ws.recv(); at(r, "id") != float64(7) {
		t.Errorf("an event arrived after close: %s", jsv.Stringify(r))
	}
}

// TestReadStreamsData checks that RecordsRead data comes as the response body with the reply in
// the dwn-response header, for data in the data store (over the inline threshold).
func TestReadStreamsData(t *testing.T) {
	node, _ := newMemNode(t)
	hs, _ := newServer(t, node)
	alice, clock := personaAndClock()
	data := bytes.Repeat([]byte("0123456789"), 40_000)
	w := alice.RecordsWrite(clock, writeOf(data))
	post(t, hs.URL, alice.DID, raw(w), data, false)
	rid, _ := at(w, "recordId").(string)
	resp, body, hr := post(t, hs.URL, alice.DID, raw(alice.RecordsRead(clock, rid)), nil, false)
	if hr.StatusCode != http.StatusOK || hr.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("HTTP %d %q", hr.StatusCode, hr.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, data) {
		t.Errorf("body of %d bytes, want %d", len(body), len(data))
	}
	if at(resp, "result", "reply", "entry", "recordsWrite", "recordId") != rid {
		t.Errorf("reply %s", jsv.Stringify(resp))
	}
}
