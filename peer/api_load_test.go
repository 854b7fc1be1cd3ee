package peer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// TestAPILoadWithCancellations runs every operation of the API from many clients at once, each
// call under a deadline drawn at random so that many are canceled part way, for a bounded time.
// The daemon must stay up and consistent; run it with -race.
func TestAPILoadWithCancellations(t *testing.T) {
	n, _, _ := newTestAPI(t)
	ctx := context.Background()
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Call(ctx, c, OpTransact, TransactRequest{Ref: "db", Tx: `[{"e":"a","a":"p/n","v":1}]`}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, c, OpAppend, AppendRequest{Ref: "raw", Blocks: [][]byte{[]byte("x")}}); err == nil {
		t.Fatal("append to a core that does not exist succeeded")
	}
	Call(ctx, c, OpCreate, CreateRequest{Name: "raw"})
	calls := []func(ctx context.Context, i int) error{
		func(ctx context.Context, i int) error { _, err := Call(ctx, c, OpID, None{}); return err },
		func(ctx context.Context, i int) error { _, err := Call(ctx, c, OpCores, None{}); return err },
		func(ctx context.Context, i int) error { _, err := Call(ctx, c, OpPeers, None{}); return err },
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpCreate, CreateRequest{Name: fmt.Sprintf("c%d", i%20)})
			return err
		},
		func(ctx context.Context, i int) error { _, err := Call(ctx, c, OpInfo, CoreRef{"raw"}); return err },
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpAppend, AppendRequest{Ref: "raw", Blocks: [][]byte{make([]byte, i%4096+1)}})
			return err
		},
		func(ctx context.Context, i int) error {
			_, err := Stream(ctx, c, OpBlocks, BlocksRequest{Ref: "raw"}, func(Block) error { return nil })
			return err
		},
		func(ctx context.Context, i int) error { _, err := Call(ctx, c, OpVerify, CoreRef{"raw"}); return err },
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpTransact, TransactRequest{Ref: "db", Tx: fmt.Sprintf(`[{"e":"e%d","a":"p/n","v":%d}]`, i, i)})
			return err
		},
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpPull, PullRequest{Ref: "db", E: "a"})
			return err
		},
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpHistory, HistoryRequest{Ref: "db", E: "a"})
			return err
		},
		func(ctx context.Context, i int) error {
			_, err := Call(ctx, c, OpQuery, QueryRequest{Cores: []string{"db"}, Query: `{"find":["?e","?v"],"where":[["?e","p/n","?v"]]}`})
			return err
		},
		func(ctx context.Context, i int) error {
			_, err := Stream(ctx, c, OpReindex, None{}, func(ReindexProgress) error { return nil })
			return err
		},
		func(ctx context.Context, i int) error {
			var k corestore.Key
			k[0], k[1] = byte(i), 0xfe
			_, err := Stream(ctx, c, OpFetch, FetchRequest{Key: k.String(), Timeout: 200 * time.Millisecond}, nil)
			return err
		},
		func(ctx context.Context, i int) error {
			var k corestore.Key
			k[0], k[1] = byte(i%8), 0xfd
			_, err := Call(ctx, c, OpFollow, FollowRequest{Key: k.String(), Stop: i%2 == 0})
			return err
		},
	}
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; time.Now().Before(deadline); i++ {
				cctx, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(30)+1)*time.Millisecond)
				calls[r.IntN(len(calls))](cctx, i)
				cancel()
				mu.Lock()
				done++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d calls", done)
	if _, err := Call(ctx, c, OpID, None{}); err != nil {
		t.Fatalf("the daemon stopped answering: %v", err)
	}
	if _, err := Call(ctx, c, OpVerify, CoreRef{"raw"}); err != nil {
		t.Fatalf("the core written under load does not verify: %v", err)
	}
	if _, err := Call(ctx, c, OpVerify, CoreRef{"db"}); err != nil {
		t.Fatalf("the datom core written under load does not verify: %v", err)
	}
}
