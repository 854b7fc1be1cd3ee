package peer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/peer"
)

var quiet = slog.New(slog.DiscardHandler)

// tempRepo creates a repo in a new temporary directory.
func tempRepo(ctx context.Context) (path string, cleanup func()) {
	dir, err := os.MkdirTemp("", "datomspace-peer-example-")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "repo")
	r, err := peer.InitRepo(ctx, path, peer.WithRepoLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	r.Close()
	return path, func() { os.RemoveAll(dir) }
}

// Operations run on the repo directly, through a Local, when no daemon runs: the same operation
// values the daemon serves.
func ExampleCall() {
	ctx := context.Background()
	path, cleanup := tempRepo(ctx)
	defer cleanup()

	l := peer.NewLocal(path, quiet)
	defer l.Close()
	if _, err := peer.Call(ctx, l, peer.OpCreate, peer.CreateRequest{Name: "notes"}); err != nil {
		log.Fatal(err)
	}
	res, err := peer.Call(ctx, l, peer.OpAppend, peer.AppendRequest{Ref: "notes", Blocks: [][]byte{[]byte("one"), []byte("two")}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("length", res.Length)
	_, err = peer.Stream(ctx, l, peer.OpBlocks, peer.BlocksRequest{Ref: "notes"}, func(b peer.Block) error {
		fmt.Println(b.Index, string(b.Data))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// length 2
	// 0 one
	// 1 two
}

// A daemon: a node on the repo, started, with its local API. A client of the API runs the same
// operations, and its errors match the same sentinels as the node's.
func ExampleNewAPI() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path, cleanup := tempRepo(ctx)
	defer cleanup()

	r, err := peer.OpenRepo(ctx, path, peer.WithRepoLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	n, err := peer.NewNode(ctx, r, peer.WithNodeLogger(quiet), peer.WithListen("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	api, err := peer.NewAPI(n)
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close(ctx)

	c, err := peer.DialAPI(ctx, path) // over the repo's unix socket
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	info, err := peer.Call(ctx, c, peer.OpCreate, peer.CreateRequest{Name: "notes"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created, writable:", info.Writable)
	_, err = peer.Call(ctx, c, peer.OpInfo, peer.CoreRef{Ref: "no-such-core"})
	fmt.Println("not found:", errors.Is(err, corestore.ErrNotFound))
	// Output:
	// created, writable: true
	// not found: true
}

// A node reports its clients to WithEvents: a local client holds an OpClient stream open for its
// lifetime; a remote peer is a client while it has replication sessions with the node.
func ExampleWithEvents() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path, cleanup := tempRepo(ctx)
	defer cleanup()

	events := make(chan peer.Event, 4) // WithEvents' function must not block
	r, err := peer.OpenRepo(ctx, path, peer.WithRepoLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	n, err := peer.NewNode(ctx, r, peer.WithNodeLogger(quiet), peer.WithListen("/ip4/127.0.0.1/tcp/0"),
		peer.WithEvents(func(e peer.Event) { events <- e }))
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	api, err := peer.NewAPI(n)
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close(ctx)
	c, err := peer.DialAPI(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	sctx, end := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		peer.Stream(sctx, c, peer.OpClient, peer.ClientRequest{}, func(s peer.ClientSession) error { return nil })
	}()
	e := <-events
	fmt.Println(e.Name, "remote:", e.Remote)
	end() // the client goes away
	<-done
	e = <-events
	fmt.Println(e.Name, "remote:", e.Remote)
	// Output:
	// client-open remote: false
	// client-close remote: false
}

// Block by block: a reader's node opens a replica by key and gets single blocks from the owner,
// each with its proof, without downloading the core.
func ExampleOpCoreGet() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := func(path string, opts ...peer.NodeOption) *peer.Node {
		r, err := peer.OpenRepo(ctx, path, peer.WithRepoLogger(quiet))
		if err != nil {
			log.Fatal(err)
		}
		n, err := peer.NewNode(ctx, r, append([]peer.NodeOption{peer.WithNodeLogger(quiet), peer.WithListen("/ip4/127.0.0.1/tcp/0")}, opts...)...)
		if err != nil {
			log.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			log.Fatal(err)
		}
		return n
	}
	ownerPath, cleanOwner := tempRepo(ctx)
	defer cleanOwner()
	owner := start(ownerPath)
	defer owner.Close()
	c, err := owner.Repo.Store.Create(ctx, "log")
	if err != nil {
		log.Fatal(err)
	}
	entries := make([][]byte, 1000)
	for i := range entries {
		entries[i] = fmt.Appendf(nil, "entry %d", i)
	}
	if _, err := c.Append(ctx, entries...); err != nil {
		log.Fatal(err)
	}

	readerPath, cleanReader := tempRepo(ctx)
	defer cleanReader()
	reader := start(readerPath, peer.WithDirectPeers(owner.Addrs()...))
	defer reader.Close()
	l := reader.Local()
	key := c.Key().String()
	if _, err := peer.Call(ctx, l, peer.OpCoreOpen, peer.OpenRequest{Key: key}); err != nil {
		log.Fatal(err)
	}
	info, err := peer.Call(ctx, l, peer.OpCoreReady, peer.WaitRequest{Ref: key})
	if err != nil {
		log.Fatal(err)
	}
	b, err := peer.Call(ctx, l, peer.OpCoreGet, peer.GetRequest{Ref: key, Index: 742})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("length %d, block 742: %s\n", info.Length, b.Data)
	fmt.Println("blocks held by the reader:", held(ctx, reader, c.Key()))
	// Output:
	// length 1000, block 742: entry 742
	// blocks held by the reader: 1
}

func held(ctx context.Context, n *peer.Node, key corestore.Key) int {
	c, err := n.Repo.Store.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	count := 0
	for i := range c.Length() {
		if c.Has(i) {
			count++
		}
	}
	return count
}
