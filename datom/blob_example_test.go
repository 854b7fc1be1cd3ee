package datom_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom"
)

// WithBlobs keeps values over the blob threshold as blobs: the datom holds the CID and size,
// Resolve reads the value back, and BlobRoots lists the blobs a GC must keep.
func ExampleWithBlobs() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "datom-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	store, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	d, err := store.Datastore(blobs.DatastorePrefix)
	if err != nil {
		log.Fatal(err)
	}
	bs, err := blobs.New(d)
	if err != nil {
		log.Fatal(err)
	}
	defer bs.Close()
	db, err := datom.Open(ctx, store, datom.WithLogger(quiet), datom.WithBlobs(bs))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	core, err := store.Create(ctx, "docs")
	if err != nil {
		log.Fatal(err)
	}

	body := strings.Repeat("x", 5000) // over the default threshold of 4 KiB
	rep, err := db.Transact(ctx, core.Key(), []datom.Datom{datom.Add("doc/1", "doc/body", datom.String(body))})
	if err != nil {
		log.Fatal(err)
	}
	v := rep.Datoms[0].V
	fmt.Println(v.Kind, v.Blob.CID, v.Blob.Size)
	back, err := db.Resolve(ctx, v, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Kind, back.Str == body)
	for c, err := range db.BlobRoots(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("kept by a datom:", c)
	}
	// Output:
	// blob bafkreigftu6ajagmfvy5r5sg4426slngkridchxmi3ubuxnyy7torkjakq 5000
	// string true
	// kept by a datom: bafkreigftu6ajagmfvy5r5sg4426slngkridchxmi3ubuxnyy7torkjakq
}
