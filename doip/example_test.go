package doip_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip"
)

// A repository on a datom core, served over TLS on loopback; a client pinned to the node's key
// creates an object with an element, retrieves its bytes and searches for it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "doip-example-")
	defer os.RemoveAll(dir)
	store, _ := corestore.Open(ctx, dir, corestore.WithLogger(quietLog()))
	defer store.Close()
	db, _ := datom.Open(ctx, store, datom.WithLogger(quietLog()))
	defer db.Close()
	core, _ := store.Create(ctx, "doip")
	blobs, _ := doip.NewFileBlobs(dir + "/blobs")
	repo, _ := doip.NewRepository(db, core.Key(), blobs, doip.WithPrefix("20.500.123"))

	_, key, _ := ed25519.GenerateKey(rand.Reader) // the node's identity
	svc, _ := doip.NewService(repo, key, doip.WithServiceLogger(quietLog()))
	srv, _ := doip.NewServer(svc, doip.WithServerLogger(quietLog()))
	defer srv.Close()
	ln, _ := doip.ListenTLS("127.0.0.1:0", key, svc.ID())
	go srv.Serve(ln)

	c, err := doip.Dial(ctx, ln.Addr().String(), nil, doip.WithPin(key.Public().(ed25519.PublicKey)), doip.WithAuth(doip.KeyAuth(key)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	do, err := c.Create(ctx, &doip.DigitalObject{ID: "20.500.123/hello", Type: "Document",
		Attributes: json.RawMessage(`{"content":{"name":"Hello World"}}`),
		Elements:   []doip.Element{{ID: "file", Type: "text/plain"}}},
		map[string]io.Reader{"file": strings.NewReader("Hello World\n")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(do.ID, do.Type, do.Element("file").Length)
	rc, _ := c.RetrieveElement(ctx, do.ID, "file")
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%q\n", b)
	res, _ := c.Search(ctx, doip.SearchRequest{Query: `+type:Document +/name:"hello world"`, PageSize: 10, IDsOnly: true})
	fmt.Println(res.Size, res.IDs)
	// Output:
	// 20.500.123/hello Document 12
	// "Hello World\n"
	// 1 [20.500.123/hello]
}
