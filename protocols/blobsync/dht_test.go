package blobsync

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/discovery"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestFetchThroughDHT: two holders announce a blob's root in the DHT; a fetcher that knows only
// the bootstrap peer finds both and fetches from them.
func TestFetchThroughDHT(t *testing.T) {
	ctx := testCtx(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := []*node{newNode(t), newNode(t), newNode(t), newNode(t)}
	var discs []*discovery.Discovery
	for i, n := range nodes {
		var opts []discovery.Option
		if i > 0 {
			opts = append(opts, discovery.WithBootstrap(nodes[0].info()))
		}
		d, err := discovery.New(ctx, n.h, append(opts, discovery.WithLogger(quiet))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		discs = append(discs, d)
	}
	for _, d := range discs[1:] {
		if err := d.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := data(60, 30*blobs.ChunkSize)
	var ref blobs.Ref
	for _, i := range []int{1, 2} {
		ref = nodes[i].add(t, want)
		if err := discs[i].AnnounceBlob(ctx, ref.CID); err != nil {
			t.Fatal(err)
		}
	}
	f := nodes[3]
	find := func(ctx context.Context, c cid.Cid) <-chan peer.AddrInfo {
		return discs[3].FindBlobProviders(ctx, c, 8)
	}
	got, err := f.svc.Fetch(ctx, ref.CID, WithFindProviders(find), WithoutBitswap())
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, got, want)
	if nodes[1].svc.Stats().BlocksServed+nodes[2].svc.Stats().BlocksServed == 0 {
		t.Fatal("no holder served the fetch")
	}
	if nodes[0].svc.Stats().BlocksServed != 0 {
		t.Fatal("the bootstrap peer, which holds nothing, served blocks")
	}
}
