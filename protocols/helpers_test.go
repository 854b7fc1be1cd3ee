package protocols

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
)

func quietLog() *slog.Logger {
	if os.Getenv("SYNC_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// node is one test peer: a store, a host and a replicator.
type node struct {
	dir   string
	store *corestore.Store
	host  host.Host
	rep   *Replicator
}

func openTestStore(t testing.TB, dir string, opts ...corestore.Option) *corestore.Store {
	t.Helper()
	s, err := corestore.Open(context.Background(), dir, append([]corestore.Option{corestore.WithLogger(quietLog())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestHost(t testing.TB) host.Host {
	t.Helper()
	h, err := NewHost(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func newNode(t testing.TB, dir string, ropts ...Option) *node {
	t.Helper()
	return newNodeWith(t, dir, nil, ropts...)
}

func newNodeWith(t testing.TB, dir string, sopts []corestore.Option, ropts ...Option) *node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	n := &node{dir: dir, store: openTestStore(t, dir, sopts...), host: newTestHost(t)}
	n.rep = NewReplicator(n.host, n.store, append([]Option{WithLogger(quietLog())}, ropts...)...)
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	if n.rep != nil {
		n.rep.Close()
		n.rep = nil
	}
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func blockData(i int, size int, tag string) []byte {
	b := make([]byte, size)
	copy(b, fmt.Sprintf("%s-%d-", tag, i))
	for k := len(tag) + 8; k < size; k++ {
		b[k] = byte(i*31 + k)
	}
	return b
}

func makeOwner(t testing.TB, n *node, name string, count, size int) *corestore.Core {
	t.Helper()
	ctx := context.Background()
	c, err := n.store.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 0, 4096)
	for i := 0; i < count; i++ {
		batch = append(batch, blockData(i, size, name))
		if len(batch) == cap(batch) || i == count-1 {
			if _, err := c.Append(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return c
}

func replicaOf(t testing.TB, n *node, key corestore.Key) *corestore.Core {
	t.Helper()
	c, err := n.store.Replica(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkBlocks(t testing.TB, c *corestore.Core, tag string, size int, from, to uint64) {
	t.Helper()
	got, err := c.GetRange(context.Background(), from, to)
	if err != nil {
		t.Fatalf("blocks [%d, %d): %v", from, to, err)
	}
	for k, b := range got {
		want := blockData(int(from)+k, size, tag)
		if string(b) != string(want) {
			t.Fatalf("block %d differs", int(from)+k)
		}
	}
}

func tctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitStats waits up to two seconds for ok(Stats): a proof is counted once ApplyProof returns,
// just after its blocks became visible.
func waitStats(t testing.TB, r *Replicator, ok func(Stats) bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !ok(r.Stats()) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// replicateAndDownload opens a session for c on n with the peer from, then waits until blocks
// [start, end) of c are stored (end 0: up to the newest length from knows).
func replicateAndDownload(t testing.TB, ctx context.Context, n *node, c *corestore.Core, from *node, start, end uint64) {
	t.Helper()
	if err := n.rep.Replicate(ctx, c, from.host.ID()); err != nil {
		t.Fatal(err)
	}
	if err := n.rep.Download(ctx, c, start, end); err != nil {
		t.Fatal(err)
	}
}
