package peer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// TestSessionOpsWithoutANode: without a node, the session operations read what the repo holds
// and say so for what it does not, instead of waiting for peers that will never be asked.
func TestSessionOpsWithoutANode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := InitRepo(ctx, t.TempDir(), WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	l := NewLocal(r.Path, quietLog())
	defer l.Close()

	if _, err := Stream(ctx, l, OpClient, ClientRequest{}, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a client session without a node: %v", err)
	}
	own, err := Call(ctx, l, OpCoreOpen, OpenRequest{Name: "own"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, l, OpAppend, AppendRequest{Ref: "own", Blocks: [][]byte{[]byte("a"), []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	b, err := Call(ctx, l, OpCoreGet, GetRequest{Ref: own.Key, Index: 1})
	if err != nil || string(b.Data) != "b" || b.Length != 2 {
		t.Fatalf("get of a held block: %+v, %v", b, err)
	}
	// A block past the length of a writable core waits for its append.
	got := make(chan BlockResult, 1)
	go func() {
		b, err := Call(ctx, l, OpCoreGet, GetRequest{Ref: own.Key, Index: 2})
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := Call(ctx, l, OpAppend, AppendRequest{Ref: "own", Blocks: [][]byte{[]byte("c")}}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b.Data) != "c" {
		t.Fatalf("waited get: %+v", b)
	}

	key := corestore.Key{7}.String()
	if _, err := Call(ctx, l, OpCoreOpen, OpenRequest{Key: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, l, OpCoreReady, WaitRequest{Ref: key}); !errors.Is(err, corestore.ErrNotAvailable) {
		t.Fatalf("ready of an empty replica without a node: %v", err)
	}
	if _, err := Call(ctx, l, OpCoreGet, GetRequest{Ref: key, Index: 0}); !errors.Is(err, corestore.ErrNotAvailable) {
		t.Fatalf("get from an empty replica without a node: %v", err)
	}
	if _, err := Call(ctx, l, OpCoreOpen, OpenRequest{Name: "x", Key: key}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("open by name and key: %v", err)
	}
	if _, err := Call(ctx, l, OpCoreOpen, OpenRequest{Session: "s", Name: "x"}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a session without a node: %v", err)
	}
	var lens []uint64
	wctx, stop := context.WithCancel(ctx)
	_, err = Stream(wctx, l, OpCoreWatch, CoreRef{Ref: own.Key}, func(e LengthEvent) error {
		lens = append(lens, e.Length)
		stop()
		return nil
	})
	if err != nil || len(lens) != 1 || lens[0] != 3 {
		t.Fatalf("watch: %v, %v", lens, err)
	}
}
