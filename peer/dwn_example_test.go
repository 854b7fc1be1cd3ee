package peer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/peer"
)

// A node that holds its own did:key as a DWN tenant: a record written with OpDWN, as
// `datomspace dwn write` sends it, is queried back and journaled in the node's core for the
// tenant.
func ExampleWithDWN() {
	ctx := context.Background()
	path, cleanup := tempRepo(ctx)
	defer cleanup()
	signer, err := peer.NodeDWNSigner(path) // the node's own did:key signs, and is the tenant
	if err != nil {
		log.Fatal(err)
	}
	r, err := peer.OpenRepo(ctx, path, peer.WithRepoLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	n, err := peer.NewNode(ctx, r, peer.WithNodeLogger(quiet), peer.WithListen("/ip4/127.0.0.1/tcp/0"),
		peer.WithDWN(peer.DWNOptions{Tenants: []string{signer.DID}})) // serve --dwn-tenant DID
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	l := n.Local()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	data := []byte("hello")
	cid, size, _ := dwn.DataCID(bytes.NewReader(data))
	w, err := peer.BuildRecordsWrite(peer.DWNWrite{DataCID: cid, DataSize: size, DataFormat: "text/plain", Schema: "https://example.com/note"}, signer, now)
	if err != nil {
		log.Fatal(err)
	}
	rep, err := peer.Stream(ctx, l, peer.OpDWN, peer.DWNRequest{Target: signer.DID, Message: json.RawMessage(jsv.Stringify(w)), Data: data, HasData: true}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Status())

	q, _ := peer.BuildRecordsQuery(peer.DWNFilter{Schema: "https://example.com/note"}, peer.DWNQueryOptions{}, signer, now.Add(time.Second))
	rep, err = peer.Stream(ctx, l, peer.OpDWN, peer.DWNRequest{Target: signer.DID, Message: json.RawMessage(jsv.Stringify(q))}, nil)
	if err != nil {
		log.Fatal(err)
	}
	var reply struct{ Entries []json.RawMessage }
	json.Unmarshal(rep.Reply, &reply)
	fmt.Println(rep.Status())
	fmt.Println(len(reply.Entries), "record")

	in, _ := peer.Call(ctx, l, peer.OpDWNInfo, peer.None{})
	fmt.Println(in.Tenants[0].DID == signer.DID, in.Tenants[0].Held, in.Tenants[0].Length)
	// Output:
	// 202 Accepted
	// 200 OK
	// 1 record
	// true true 1
}
