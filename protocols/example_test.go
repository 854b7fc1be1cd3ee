package protocols_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/protocols"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// peerNode is one peer: a store in dir, a host on 127.0.0.1 and a Replicator serving the
// store's cores on it.
type peerNode struct {
	store *corestore.Store
	host  host.Host
	rep   *protocols.Replicator
}

func newPeer(ctx context.Context, dir string) *peerNode {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	h, err := protocols.NewHost(ctx) // TCP on 127.0.0.1, port chosen by the system
	if err != nil {
		panic(err)
	}
	return &peerNode{store: s, host: h, rep: protocols.NewReplicator(h, s, protocols.WithLogger(quiet))}
}

func (p *peerNode) Close() {
	p.rep.Close()
	p.host.Close()
	p.store.Close()
}

func (p *peerNode) addrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: p.host.ID(), Addrs: p.host.Addrs()}
}

// Two peers on loopback: the owner writes a core; the reader, which knows only the core key,
// opens a replica, replicates it with the owner and downloads every block, each one verified
// against the owner's signed tree.
func Example() {
	dir, _ := os.MkdirTemp("", "protocols-example-")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := newPeer(ctx, filepath.Join(dir, "owner"))
	defer owner.Close()
	reader := newPeer(ctx, filepath.Join(dir, "reader"))
	defer reader.Close()

	core, err := owner.store.Create(ctx, "notes")
	if err != nil {
		panic(err)
	}
	if _, err := core.Append(ctx, []byte("hello"), []byte("from"), []byte("the owner")); err != nil {
		panic(err)
	}

	replica, err := reader.store.Replica(ctx, core.Key())
	if err != nil {
		panic(err)
	}
	if err := reader.host.Connect(ctx, owner.addrInfo()); err != nil {
		panic(err)
	}
	if err := reader.rep.Replicate(ctx, replica, owner.host.ID()); err != nil {
		panic(err)
	}
	// end 0: everything the owner can prove.
	if err := reader.rep.Download(ctx, replica, 0, 0); err != nil {
		panic(err)
	}
	blocks, _ := replica.GetRange(ctx, 0, replica.Length())
	fmt.Println("replica length:", replica.Length())
	for _, b := range blocks {
		fmt.Printf("%s\n", b)
	}
	// Output:
	// replica length: 3
	// hello
	// from
	// the owner
}

// Get downloads one block on demand and waits for blocks the owner has not written yet: a
// session keeps the replica in sync with the owner's new appends.
func ExampleReplicator_Get() {
	dir, _ := os.MkdirTemp("", "protocols-example-")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := newPeer(ctx, filepath.Join(dir, "owner"))
	defer owner.Close()
	reader := newPeer(ctx, filepath.Join(dir, "reader"))
	defer reader.Close()

	core, _ := owner.store.Create(ctx, "log")
	if _, err := core.Append(ctx, []byte("block 0"), []byte("block 1")); err != nil {
		panic(err)
	}
	replica, _ := reader.store.Replica(ctx, core.Key())
	if err := reader.host.Connect(ctx, owner.addrInfo()); err != nil {
		panic(err)
	}
	if err := reader.rep.Replicate(ctx, replica, owner.host.ID()); err != nil {
		panic(err)
	}

	b, err := reader.rep.Get(ctx, replica, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s (replica length %d)\n", b, replica.Length())

	// Block 2 does not exist yet: Get waits until the owner appends it.
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		b, err := reader.rep.Get(ctx, replica, 2)
		got <- result{b, err}
	}()
	if _, err := core.Append(ctx, []byte("block 2")); err != nil {
		panic(err)
	}
	r := <-got
	if r.err != nil {
		panic(r.err)
	}
	fmt.Printf("%s (replica length %d)\n", r.b, replica.Length())
	// Output:
	// block 1 (replica length 2)
	// block 2 (replica length 3)
}
