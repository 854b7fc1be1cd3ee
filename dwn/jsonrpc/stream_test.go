package jsonrpc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// TestStream serves a node over a byte stream with the stream framing: a write with data, a read
// that returns data, and a subscription whose events arrive between responses.
func TestStream(t *testing.T) {
	node, _ := newMemNode(t)
	srv, err := jsonrpc.New(node)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.ServeStream(ctx, a) }()
	defer func() {
		b.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeStream: %v", err)
		}
	}()

	cl := jsonrpc.NewStreamClient(b)
	var events []*jsv.Object
	cl.OnEvent = func(e *jsv.Object) { events = append(events, e) }
	alice, clock := personaAndClock()

	sub := alice.RecordsSubscribe(clock, dwntest.Obj("schema", "https://example.com/blob"))
	req := dwntest.Obj("jsonrpc", "2.0", "id", 1.0, "method", "rpc.subscribe.dwn.processMessage",
		"params", dwntest.Obj("target", alice.DID, "message", sub), "subscription", dwntest.Obj("id", "s"))
	r, err := cl.Call(ctx, req, nil)
	if err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %+v", err, r.Error)
	}

	data := bytes.Repeat([]byte("abc"), 50_000)
	w := alice.RecordsWrite(clock, writeOf(data))
	r, err = cl.Process(ctx, alice.DID, []byte(jsv.Stringify(w)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if code, detail := r.Status(); code != 202 {
		t.Fatalf("write over the stream: %d %s", code, detail)
	}
	// a write without data frames is a write without data (204), as over HTTP without a body
	nodata := alice.RecordsWrite(clock, writeOf([]byte("later")))
	if r, err := cl.Process(ctx, alice.DID, []byte(jsv.Stringify(nodata)), nil); err != nil {
		t.Fatal(err)
	} else if code, detail := r.Status(); code != 204 {
		t.Fatalf("write without data over the stream: %d %s", code, detail)
	}
	rid, _ := at(w, "recordId").(string)
	r, err = cl.Process(ctx, alice.DID, []byte(jsv.Stringify(alice.RecordsRead(clock, rid))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Data == nil {
		t.Fatal("no data")
	}
	got, _ := io.ReadAll(r.Data)
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want %d", len(got), len(data))
	}
	// a query without reading the previous data first is fine too
	r, _ = cl.Process(ctx, alice.DID, []byte(jsv.Stringify(alice.RecordsRead(clock, rid))), nil)
	r, err = cl.Process(ctx, alice.DID, []byte(jsv.Stringify(alice.RecordsQuery(clock, dwntest.Obj("schema", "https://example.com/blob")))), nil)
	if err != nil || len(at(r.Reply, "entries").([]any)) != 1 {
		t.Fatalf("query: %v", err)
	}
	// events come asynchronously, between responses: ask again until it is there
	for i := 0; i < 100 && len(events) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if _, err := cl.Process(ctx, alice.DID, []byte(jsv.Stringify(alice.RecordsQuery(clock, dwntest.Obj("schema", "none")))), nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) != 1 || at(events[0], "id") != "s" {
		t.Fatalf("events %d", len(events))
	}
}
