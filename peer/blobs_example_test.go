package peer_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/datomspace/datomspace/peer"
)

// AddBlob imports bytes as a blob, with the CID Kubo gives them; OpBlobCat reads it back, and a
// GC keeps it while it is pinned.
func ExampleAddBlob() {
	ctx := context.Background()
	path, cleanup := tempRepo(ctx)
	defer cleanup()
	l := peer.NewLocal(path, quiet)
	defer l.Close()

	in, err := peer.AddBlob(ctx, l, strings.NewReader(`{"hello":"world"}`), peer.AddBlobOptions{Pin: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(in.CID, in.Size, "bytes, pinned:", in.Pinned)
	if _, err := peer.Stream(ctx, l, peer.OpBlobCat, peer.BlobCatRequest{CID: in.CID}, func(c peer.BlobChunk) error {
		fmt.Println(string(c.Data))
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	gc, err := peer.Call(ctx, l, peer.OpGC, peer.None{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("gc removed", len(gc.Blobs), "blobs")
	// Output:
	// bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra 17 bytes, pinned: true
	// {"hello":"world"}
	// gc removed 0 blobs
}

// A datom value over the blob threshold is kept as a blob: pull shows its CID (Kubo's for the
// same bytes) and size, and Resolve gives the value back.
func ExampleOpPull_resolve() {
	ctx := context.Background()
	path, cleanup := tempRepo(ctx)
	defer cleanup()
	l := peer.NewLocal(path, quiet)
	defer l.Close()

	body := strings.Repeat("x", 5000)
	if _, err := peer.Call(ctx, l, peer.OpTransact, peer.TransactRequest{Ref: "docs", Tx: `[{"db/id":"doc/1","doc/body":"` + body + `"}]`}); err != nil {
		log.Fatal(err)
	}
	ent, err := peer.Call(ctx, l, peer.OpPull, peer.PullRequest{Ref: "docs", E: "doc/1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(ent.Attrs["doc/body"][0]))
	ent, err = peer.Call(ctx, l, peer.OpPull, peer.PullRequest{Ref: "docs", E: "doc/1", Resolve: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ent.Attrs["doc/body"][0]), "bytes of JSON")
	// Output:
	// {"blob":"bafkreigftu6ajagmfvy5r5sg4426slngkridchxmi3ubuxnyy7torkjakq","size":5000,"type":"string"}
	// 5002 bytes of JSON
}
