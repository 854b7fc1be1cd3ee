package blobsync_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/protocols"
	"github.com/datomspace/datomspace/protocols/blobsync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// peerStore opens a blob store as a peer keeps it: metadata in the repo's Badger, blocks in a
// block directory.
func peerStore(dir string) (*blobs.Store, func()) {
	cs, err := corestore.Open(context.Background(), filepath.Join(dir, "store"))
	if err != nil {
		panic(err)
	}
	d, _ := cs.Datastore(blobs.DatastorePrefix)
	bd, err := blobs.OpenBlockDir(filepath.Join(dir, "blobs"))
	if err != nil {
		panic(err)
	}
	s, err := blobs.New(d, blobs.WithBlockDatastore(bd))
	if err != nil {
		panic(err)
	}
	return s, func() { s.Close(); bd.Close(); cs.Close() }
}

func peerNode(dir string) (host.Host, *blobs.Store, *blobsync.Service, func()) {
	h, err := protocols.NewHost(context.Background()) // loopback only
	if err != nil {
		panic(err)
	}
	s, closeStore := peerStore(dir)
	svc, err := blobsync.New(h, s)
	if err != nil {
		panic(err)
	}
	return h, s, svc, func() { svc.Close(); h.Close(); closeStore() }
}

// Two peers on loopback: one adds a blob, the other fetches it by CID (Kubo gives the same
// CID for these bytes).
func Example() {
	dir, cleanup := tempDir()
	defer cleanup()
	ctx := context.Background()
	ha, sa, _, closeA := peerNode(filepath.Join(dir, "a"))
	defer closeA()
	_, sb, svcB, closeB := peerNode(filepath.Join(dir, "b"))
	defer closeB()

	ref, err := sa.Add(ctx, strings.NewReader(strings.Repeat("datomspace ", 100000)))
	if err != nil {
		panic(err)
	}
	got, err := svcB.Fetch(ctx, ref.CID, blobsync.WithPeers(peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}))
	if err != nil {
		panic(err)
	}
	r, _ := sb.Open(ctx, got.CID)
	defer r.Close()
	var buf bytes.Buffer
	io.Copy(&buf, r)
	fmt.Println(got.CID, got.Size, buf.Len())
	// Output: bafybeierplablgyynsxlxun6p2x72s2dzue25sbsc4oxq5xxvfxhyotksq 1100000 1100000
}

func tempDir() (string, func()) {
	d, err := os.MkdirTemp("", "blobsync-example-")
	if err != nil {
		panic(err)
	}
	return d, func() { os.RemoveAll(d) }
}
