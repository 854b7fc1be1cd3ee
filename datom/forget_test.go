package datom

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// TestForgetThenDelete: a replica that was indexed and followed is forgotten and deleted; the
// derived database keeps nothing of it, the follow stops, and the other cores are untouched.
func TestForgetThenDelete(t *testing.T) {
	ctx := context.Background()
	dbA, sA, key := newDB(t)
	loadContacts(t, dbA, key)
	owner, _ := sA.Get(ctx, key)

	sB := openStore(t, t.TempDir())
	dbB := openDB(t, sB)
	mine, err := sB.Create(ctx, "mine")
	if err != nil {
		t.Fatal(err)
	}
	transactJSON(t, dbB, mine.Key(), `[{"db/id":"m/1","m/name":"kept"}]`)
	replica, err := sB.Replica(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	syncReplica(t, owner, replica, 0, owner.Length())
	fctx, stop := context.WithCancel(ctx)
	followed := make(chan error, 1)
	go func() { followed <- dbB.Follow(fctx, key, mine.Key()) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := dbB.CoreInfo(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Indexed == owner.Length() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not indexed: %+v", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ci, _ := dbB.coreIndex(ctx, key)
	cid := ci.state.Load().cid
	if n := countKeys(t, sB, corePrefix(subEAVT, cid)); n == 0 {
		t.Fatal("the replica has no index keys: the test does not reach Forget's work")
	}

	if err := dbB.Forget(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := sB.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	for _, sub := range indexSubs {
		if n := countKeys(t, sB, corePrefix(sub, cid)); n != 0 {
			t.Errorf("%d index keys (sub %#x) of the forgotten core are left", n, sub)
		}
	}
	bdb, _ := sB.Derived()
	if err := bdb.View(func(txn *badger.Txn) error {
		_, err := txn.Get(coreStateKey(key))
		return err
	}); !errors.Is(err, badger.ErrKeyNotFound) {
		t.Errorf("the core state is left: %v", err)
	}
	if _, err := dbB.Pull(ctx, key, "contact/1"); !errors.Is(err, corestore.ErrNotFound) {
		t.Errorf("pull of the deleted core: %v", err)
	}
	// Work that held the old index state is refused rather than writing it again.
	ci.mu.Lock()
	err = dbB.catchUpLocked(ctx, ci)
	ci.mu.Unlock()
	if !errors.Is(err, errForgotten) {
		t.Errorf("catch up of a forgotten index: %v", err)
	}
	// The other core is as it was, and still followed.
	transactJSON(t, dbB, mine.Key(), `[{"db/id":"m/2","m/name":"also"}]`)
	res, err := query(t, dbB, `[:find ?n :where [_ :m/name ?n]]`)
	if err != nil || len(res.Rows) != 2 {
		t.Errorf("the other core: %v, %v", res, err)
	}
	stop()
	if err := <-followed; !errors.Is(err, context.Canceled) {
		t.Errorf("follow: %v", err)
	}
	// Forgetting what was never there is no error.
	if err := dbB.Forget(ctx, corestore.Key{7}); err != nil {
		t.Error(err)
	}
}

// TestForgetKeepsACoreThatStays: a core forgotten but not deleted is indexed again from its
// log when it is caught up.
func TestForgetKeepsACoreThatStays(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	loadContacts(t, db, key)
	if err := db.Forget(ctx, key); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Get(ctx, key)
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	checkAgainstModel(t, db, c)
	transactJSON(t, db, key, `[{"db/id":"contact/1","contact/city":"Oslo"}]`)
	checkAgainstModel(t, db, c)
}
