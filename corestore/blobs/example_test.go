package blobs_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/datomspace/datomspace/corestore/blobs"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// A peer passes corestore.Store.Datastore(blobs.DatastorePrefix) and a block directory; an
// in-memory datastore does for the example.
func Example() {
	ctx := context.Background()
	s, err := blobs.New(dssync.MutexWrap(ds.NewMapDatastore()))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ref, err := s.Add(ctx, strings.NewReader(`{"hello":"world"}`), blobs.WithPin())
	if err != nil {
		panic(err)
	}
	fmt.Println(ref.CID, ref.Size)

	r, err := s.Open(ctx, ref.CID)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	fmt.Println(string(b))
	// Output:
	// bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra 17
	// {"hello":"world"}
}

func ExampleCIDOf() {
	ref, err := blobs.CIDOf(context.Background(), strings.NewReader(""))
	if err != nil {
		panic(err)
	}
	fmt.Println(ref.CID)
	// Output: bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku
}

// GC keeps what is pinned or live and reports what it freed.
func ExampleStore_GC() {
	ctx := context.Background()
	s, _ := blobs.New(dssync.MutexWrap(ds.NewMapDatastore()))
	defer s.Close()
	kept, _ := s.Add(ctx, strings.NewReader("referenced by a datom"))
	s.Add(ctx, strings.NewReader("referenced by nothing"))

	res, err := s.GC(ctx, blobs.LiveRoots(kept.CID))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Blocks, res.Bytes, res.Kept)
	// Output: 1 21 1
}
