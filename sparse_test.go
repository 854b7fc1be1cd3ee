package datomspace

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// blockOf is the content of block i of the test cores.
func blockOf(i uint64, size int) []byte {
	b := make([]byte, size)
	copy(b, fmt.Sprintf("block-%d-", i))
	for k := len(fmt.Sprintf("block-%d-", i)); k < size; k++ {
		b[k] = byte(i*31 + uint64(k))
	}
	return b
}

// bigCore appends count blocks of size bytes to a new core of s through a client.
func bigCore(t testing.TB, s *Server, name string, count, size int) []byte {
	t.Helper()
	c, err := NewClient(ClientOptions{Host: s.Host()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	core, err := c.Corestore().Get(ctx, CoreOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 10_000
	vals := make([]any, 0, batch)
	for i := 0; i < count; i++ {
		vals = append(vals, blockOf(uint64(i), size))
		if len(vals) == batch || i == count-1 {
			if _, err := core.Append(ctx, vals...); err != nil {
				t.Fatal(err)
			}
			vals = vals[:0]
		}
	}
	return core.Key()
}

// heldBlocks counts the blocks the server's replica of key stores.
func heldBlocks(t testing.TB, s *Server, key []byte) (held, length uint64) {
	t.Helper()
	c, err := s.node.Repo.Store.Get(context.Background(), corestore.Key(key))
	if err != nil {
		t.Fatal(err)
	}
	return c.Held(), c.Length()
}

// TestGetDownloadsTheBlockNotTheCore: Get(i) on a remote 100,000-block core downloads the blocks
// it reads, verified, and not the core.
func TestGetDownloadsTheBlockNotTheCore(t *testing.T) {
	const count, size = 100_000, 64
	alice := newServer(t, "")
	key := bigCore(t, alice, "big", count, size)
	bob := newServer(t, "", alice.Addrs()...)
	bc := newClient(t, bob)
	core := openCore(t, bc, CoreOptions{Key: key})
	ctx := tctx(t, 2*time.Minute)
	if err := core.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if core.Length() != count {
		t.Fatalf("length %d after Ready, want %d", core.Length(), count)
	}
	if held, _ := heldBlocks(t, bob, key); held != 0 {
		t.Fatalf("Ready downloaded %d blocks", held)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	read := map[uint64]bool{}
	for range 5 {
		i := rng.Uint64N(count)
		read[i] = true
		var b []byte
		if err := core.Get(ctx, i, &b); err != nil {
			t.Fatal(err)
		}
		if string(b) != string(blockOf(i, size)) {
			t.Fatalf("block %d: wrong content", i)
		}
	}
	held, length := heldBlocks(t, bob, key)
	if length != count || held != uint64(len(read)) {
		t.Fatalf("the replica holds %d of %d blocks after reading %d", held, length, len(read))
	}

	// A range read downloads that range only.
	n := 0
	for b, err := range core.Read(ctx, ReadOptions{Start: 50_000, End: 50_100}) {
		if err != nil {
			t.Fatal(err)
		}
		if b.Index != 50_000+uint64(n) || string(b.Data) != string(blockOf(b.Index, size)) {
			t.Fatalf("read: block %d at position %d", b.Index, n)
		}
		n++
	}
	if n != 100 {
		t.Fatalf("read yielded %d blocks", n)
	}
	if held2, _ := heldBlocks(t, bob, key); held2 > held+100 {
		t.Fatalf("after a 100-block read the replica holds %d blocks, from %d", held2, held)
	}
}
