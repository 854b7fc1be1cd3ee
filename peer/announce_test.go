package peer

import (
	"context"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// TestCoresAreAnnouncedFromOnePlace: a core is announced however it came to be: created, made by
// a transaction (which once was never announced), or a replica that gained data.
func TestCoresAreAnnouncedFromOnePlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := newTestNode(t)
	if err := boot.Start(ctx); err != nil {
		t.Fatal(err)
	}
	owner := newTestNode(t, WithBootstrapAddrs(boot.Addrs()[0]))
	if err := owner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l := daemonLocal(owner)
	created, err := Call(ctx, l, OpCreate, CreateRequest{Name: "made-by-create"})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := Call(ctx, l, OpTransact, TransactRequest{Ref: "made-by-transact", Tx: `[{"e":"x","a":"p/q","v":1}]`})
	if err != nil {
		t.Fatal(err)
	}
	findable := func(node *Node, key string) bool {
		k, _ := corestore.ParseKey(key)
		for range 100 {
			fctx, fcancel := context.WithTimeout(ctx, time.Second)
			for p := range node.disc.FindProviders(fctx, corestore.DiscoveryKey(k), 1) {
				if p.ID == owner.ID() {
					fcancel()
					return true
				}
			}
			fcancel()
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	for _, key := range []string{created.Key, tx.Core} {
		if !findable(boot, key) {
			t.Errorf("core %s was not announced", key)
		}
	}
	// A reader's replica is announced once it holds data.
	reader := newTestNode(t, WithBootstrapAddrs(boot.Addrs()[0]))
	if err := reader.Start(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := corestore.ParseKey(tx.Core)
	if _, err := reader.Fetch(ctx, k, FetchOptions{FindTimeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	defer fcancel()
	for found := false; !found; {
		for p := range boot.disc.FindProviders(fctx, corestore.DiscoveryKey(k), 5) {
			found = found || p.ID == reader.ID()
		}
		if fctx.Err() != nil {
			t.Fatal("the reader's replica was not announced")
		}
	}
}
