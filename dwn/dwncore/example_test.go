package dwncore_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// A core-backed node served over dwn-server's JSON-RPC, as `serve --dwn ADDR` wires it: a client
// writes a record over HTTP, and the write is in the node's core for the tenant.
func Example_serve() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dwncore-example-")
	defer os.RemoveAll(dir)
	cs, err := corestore.Open(ctx, dir)
	if err != nil {
		panic(err)
	}
	defer cs.Close()

	alice := dwntest.NewPersona(1)
	// serve --dwn-tenant DID: only the tenants this node serves
	store, err := dwncore.Open(ctx, cs, dwncore.WithNodeOptions(dwn.WithTenantGate(dwn.Tenants{alice.DID: true})))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	srv, err := jsonrpc.New(store.Node(), jsonrpc.WithTenantCores(jsonrpc.OpenTenantCores(store.TenantCoreKey)))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv) // http.Server{Addr: ADDR, Handler: srv}
	defer hs.Close()

	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	write := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("hello"), Schema: "https://example.com/note"})
	client := jsonrpc.Client{URL: hs.URL}
	r, err := client.Process(ctx, alice.DID, []byte(jsv.Stringify(write)), strings.NewReader("hello"))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Status())

	core, _ := store.TenantCore(ctx, alice.DID)
	fmt.Println(dwncore.CoreName(alice.DID) == "dwn/"+alice.DID, core.Length())
	// Output:
	// 202 Accepted
	// true 1
}
