package jsonrpc_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// A node on in-memory stores behind dwn-server's HTTP interface on 127.0.0.1. A client writes a
// record with its data as the request body, then reads the data back from the response body.
func ExampleClient() {
	ctx := context.Background()
	node, err := dwn.New(memstore.New().Options()...)
	if err != nil {
		panic(err)
	}
	defer node.Close()
	srv, err := jsonrpc.New(node)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv) // listens on 127.0.0.1
	defer hs.Close()

	alice := dwntest.NewPersona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte("hello over HTTP")
	write := alice.RecordsWrite(clock, dwntest.Write{Data: data, DataFormat: "text/plain", Schema: "https://example.com/note"})

	cl := &jsonrpc.Client{URL: hs.URL}
	r, err := cl.Process(ctx, alice.DID, []byte(jsv.Stringify(write)), bytes.NewReader(data))
	if err != nil {
		panic(err)
	}
	code, _ := r.Status()
	fmt.Println("write:", code)

	recordID, _ := write.Get("recordId")
	read := alice.RecordsRead(clock, recordID.(string))
	r, err = cl.Process(ctx, alice.DID, []byte(jsv.Stringify(read)), nil)
	if err != nil {
		panic(err)
	}
	code, _ = r.Status()
	b, _ := io.ReadAll(r.Data)
	r.Data.Close()
	fmt.Printf("read: %d %s\n", code, b)

	// A message that is not a DWN message gets dwn-sdk-js's 400 in the reply.
	r, err = cl.Process(ctx, alice.DID, []byte(`{"descriptor":{}}`), nil)
	if err != nil {
		panic(err)
	}
	code, _ = r.Status()
	fmt.Println("bad:", code)
	// Output:
	// write: 202
	// read: 200 hello over HTTP
	// bad: 400
}

// ServeStream serves a node over one bidirectional byte stream, such as a libp2p stream; here
// the two ends of a net.Pipe. The StreamClient at the other end sends messages with their data.
func ExampleServer_ServeStream() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := dwn.New(memstore.New().Options()...)
	if err != nil {
		panic(err)
	}
	defer node.Close()
	srv, err := jsonrpc.New(node)
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	serverEnd, clientEnd := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.ServeStream(ctx, serverEnd) }()

	alice := dwntest.NewPersona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cl := jsonrpc.NewStreamClient(clientEnd)
	for _, text := range []string{"one", "two"} {
		data := []byte(text)
		w := alice.RecordsWrite(clock, dwntest.Write{Data: data, DataFormat: "text/plain", Schema: "https://example.com/note"})
		r, err := cl.Process(ctx, alice.DID, []byte(jsv.Stringify(w)), bytes.NewReader(data))
		if err != nil {
			panic(err)
		}
		code, _ := r.Status()
		fmt.Println("write:", code)
	}
	q := alice.RecordsQuery(clock, dwntest.Obj("schema", "https://example.com/note"))
	r, err := cl.Process(ctx, alice.DID, []byte(jsv.Stringify(q)), nil)
	if err != nil {
		panic(err)
	}
	code, _ := r.Status()
	entries, _ := r.Reply.Get("entries")
	fmt.Println("query:", code, len(entries.([]any)))

	clientEnd.Close() // the stream ends: ServeStream returns
	fmt.Println("served:", <-served)
	// Output:
	// write: 202
	// write: 202
	// query: 200 2
	// served: <nil>
}
