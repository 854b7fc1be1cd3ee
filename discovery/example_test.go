package discovery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/protocols"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

// dhtNode starts a host on 127.0.0.1 and a private-network DHT node on it.
func dhtNode(ctx context.Context, opts ...discovery.Option) (host.Host, *discovery.Discovery) {
	h, err := protocols.NewHost(ctx) // listens on 127.0.0.1 only
	if err != nil {
		panic(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := discovery.New(ctx, h, append(opts, discovery.WithLogger(quiet))...)
	if err != nil {
		panic(err)
	}
	return h, d
}

// Two DHT nodes on loopback: the owner announces a core's discovery key, and a reader that
// knows only the owner's address as its bootstrap peer finds the owner by that key.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ownerHost, owner := dhtNode(ctx)
	defer ownerHost.Close()
	defer owner.Close()
	readerHost, reader := dhtNode(ctx,
		discovery.WithBootstrap(peer.AddrInfo{ID: ownerHost.ID(), Addrs: ownerHost.Addrs()}))
	defer readerHost.Close()
	defer reader.Close()
	if err := reader.Bootstrap(ctx); err != nil {
		panic(err)
	}

	// Cores are announced by discovery key, never by core key.
	dk := corestore.DiscoveryKey(corestore.Key{42})
	// With no other DHT peer to store the record on, the owner keeps it itself (IsLonely): the
	// reader still finds it, because it asks the owner.
	if err := owner.Announce(ctx, dk); err != nil && !discovery.IsLonely(err) {
		panic(err)
	}
	for p := range reader.FindProviders(ctx, dk, 1) {
		fmt.Println("found the owner:", p.ID == ownerHost.ID())
	}
	// Output: found the owner: true
}

// Blobs are announced under their root CID, so that Kubo nodes and datomspace peers find each
// other's blobs. A CIDv0 and the CIDv1 of one DAG are one record.
func ExampleDiscovery_AnnounceBlob() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ownerHost, owner := dhtNode(ctx)
	defer ownerHost.Close()
	defer owner.Close()
	readerHost, reader := dhtNode(ctx,
		discovery.WithBootstrap(peer.AddrInfo{ID: ownerHost.ID(), Addrs: ownerHost.Addrs()}))
	defer readerHost.Close()
	defer reader.Close()
	if err := reader.Bootstrap(ctx); err != nil {
		panic(err)
	}

	mh, _ := multihash.Sum([]byte("a blob's root node"), multihash.SHA2_256, -1)
	v0 := cid.NewCidV0(mh)
	if err := owner.AnnounceBlob(ctx, v0); err != nil && !discovery.IsLonely(err) {
		panic(err)
	}
	v1 := cid.NewCidV1(cid.DagProtobuf, mh)
	for p := range reader.FindBlobProviders(ctx, v1, 1) {
		fmt.Println("found the owner:", p.ID == ownerHost.ID())
	}
	// Output: found the owner: true
}

// The DHT key a core is announced under is CIDv1(raw, sha2-256(discovery key)): it is derived
// from the discovery key alone, so the DHT never learns the core key.
func ExampleProviderKey() {
	dk := corestore.DiscoveryKey(corestore.Key{42})
	k := discovery.ProviderKey(dk)
	fmt.Println(k.Version(), k.Type() == cid.Raw, k.Prefix().MhType == multihash.SHA2_256)
	fmt.Println(k)
	// Output:
	// 1 true true
	// bafkreial7zn7cvwxr3w2yhzoux6fk2w5a3gh2nztaqmpl4gydbgud35upm
}
