package datom

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// randomTxs returns n encoded transactions, written straight to the log as a foreign writer
// might: they are not validated, so they exercise every path of the indexer (redundant
// assertions, retractions of absent facts, two values for a cardinality-one attribute, schema
// changes).
func randomTxs(t testing.TB, seed uint64, n int) [][]byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	schemaTx := Tx{Time: time.UnixMilli(1), Datoms: []Datom{
		{E: "s/many", A: AttrIdent, V: String("t/many"), Added: true},
		{E: "s/many", A: AttrValueType, V: String("string"), Added: true},
		{E: "s/many", A: AttrCardinality, V: String("many"), Added: true},
		{E: "s/ref", A: AttrIdent, V: String("t/ref"), Added: true},
		{E: "s/ref", A: AttrValueType, V: String("ref"), Added: true},
		{E: "s/ref", A: AttrCardinality, V: String("many"), Added: true},
		{E: "s/u", A: AttrIdent, V: String("t/u"), Added: true},
		{E: "s/u", A: AttrUnique, V: String("identity"), Added: true},
		{E: "s/one", A: AttrIdent, V: String("t/one"), Added: true},
		{E: "s/one", A: AttrValueType, V: String("int"), Added: true},
	}}
	attrs := []string{"t/one", "t/many", "t/ref", "t/u", "t/free", "t/free2"}
	value := func(a string) Value {
		switch a {
		case "t/one":
			return Int(int64(r.IntN(5)))
		case "t/many", "t/u":
			return String(fmt.Sprintf("s%d", r.IntN(5)))
		case "t/ref":
			return Ref(fmt.Sprintf("e%d", r.IntN(6)))
		}
		switch r.IntN(6) {
		case 0:
			return Int(int64(r.IntN(3)))
		case 1:
			return Float(float64(r.IntN(3)) / 2)
		case 2:
			return String(fmt.Sprintf("v%d", r.IntN(3)))
		case 3:
			return Bool(r.IntN(2) == 0)
		case 4:
			return Ref(fmt.Sprintf("e%d", r.IntN(3)))
		}
		return Time(time.Unix(int64(r.IntN(3)), 0))
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		tx := Tx{Time: time.UnixMilli(int64(i))}
		if i == 0 {
			tx = schemaTx
		} else if r.IntN(40) == 0 {
			// Flip t/free2 between cardinality one and many, with values of it written before
			// the schema datoms: they are indexed under the schema the transaction leaves.
			card := []string{"one", "many"}[r.IntN(2)]
			for range r.IntN(4) {
				tx.Datoms = append(tx.Datoms, Datom{E: fmt.Sprintf("e%d", r.IntN(15)), A: "t/free2", V: value("t/free2"), Added: r.IntN(10) < 8})
			}
			tx.Datoms = append(tx.Datoms, Datom{E: "s/free2", A: AttrIdent, V: String("t/free2"), Added: true},
				Datom{E: "s/free2", A: AttrCardinality, V: String(card), Added: true})
		} else {
			for range 1 + r.IntN(12) {
				a := attrs[r.IntN(len(attrs))]
				tx.Datoms = append(tx.Datoms, Datom{E: fmt.Sprintf("e%d", r.IntN(15)), A: a, V: value(a), Added: r.IntN(10) < 7})
			}
		}
		b, err := EncodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestIndexMatchesNaiveScan(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			db, s, key := newDB(t)
			db.batchBlocks, db.commitEntries = 7, 50
			core, _ := s.Get(ctx, key)
			r := rand.New(rand.NewPCG(seed, 99))
			for _, b := range randomTxs(t, seed, 200) {
				if _, err := core.Append(ctx, b); err != nil {
					t.Fatal(err)
				}
				if r.IntN(5) == 0 {
					if err := db.CatchUpCore(ctx, key); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.CatchUpCore(ctx, key); err != nil {
				t.Fatal(err)
			}
			checkAgainstModel(t, db, core)
			// Reindex gives the same indexes.
			before := dumpIndex(t, db, key)
			calls := 0
			infos, err := db.Reindex(ctx, func(done, total int, c CoreInfo) {
				if calls++; done != calls || total != 1 || c.Key != key {
					t.Errorf("progress %d/%d %s, call %d", done, total, c.Key, calls)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != 1 || calls != 1 || infos[0].Indexed != core.Length() {
				t.Fatalf("reindex reported %+v after %d progress calls; want core at %d", infos, calls, core.Length())
			}
			after := dumpIndex(t, db, key)
			for sub, lines := range before {
				if !slices.Equal(lines, after[sub]) {
					t.Fatalf("reindex changed index %x", sub)
				}
			}
			// As-of views agree with the model at random points.
			for range 5 {
				at := uint64(r.IntN(200))
				m := newModel()
				for i := uint64(0); i <= at; i++ {
					b, _ := core.Get(ctx, i)
					tx, _ := DecodeTxAt(b, i)
					m.apply(tx, i)
				}
				e := fmt.Sprintf("e%d", r.IntN(15))
				p, err := db.Pull(ctx, key, e, AsOf(at))
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, en := range m.entries {
					if en.e == e && en.live {
						n++
					}
				}
				got := 0
				for _, vs := range p.Attrs {
					got += len(vs)
				}
				if got != n {
					t.Fatalf("pull %s as of %d: %d values, want %d", e, at, got, n)
				}
			}
		})
	}
}

var errCrash = errors.New("simulated crash")

func TestCatchUpAfterCrash(t *testing.T) {
	ctx := context.Background()
	for _, stopAfter := range []int{0, 1, 3, 10} {
		t.Run(fmt.Sprint(stopAfter), func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			core, _ := s.Create(ctx, "main")
			db := openDB(t, s)
			db.batchBlocks, db.commitEntries = 5, 40
			commits := 0
			db.afterCommit = func(uint64) error {
				if commits++; commits > stopAfter {
					return errCrash
				}
				return nil
			}
			txs := randomTxs(t, uint64(stopAfter)+10, 120)
			if _, err := core.Append(ctx, txs[:80]...); err != nil {
				t.Fatal(err)
			}
			if err := db.CatchUpCore(ctx, core.Key()); !errors.Is(err, errCrash) {
				t.Fatalf("catch-up: %v", err)
			}
			info, _ := db.CoreInfo(ctx, core.Key())
			if info.Indexed == 0 && stopAfter > 0 || info.Indexed >= 80 {
				t.Fatalf("indexed %d of 80 before the crash", info.Indexed)
			}
			// More blocks arrive while nothing indexes them, then the process dies.
			if _, err := core.Append(ctx, txs[80:]...); err != nil {
				t.Fatal(err)
			}
			s.Close()

			s2 := openStore(t, dir)
			db2 := openDB(t, s2) // catches up on open
			core2, _ := s2.Get(ctx, core.Key())
			info, _ = db2.CoreInfo(ctx, core.Key())
			if info.Indexed != 120 {
				t.Fatalf("indexed %d of 120 after reopening", info.Indexed)
			}
			checkAgainstModel(t, db2, core2)
		})
	}
}

func TestTruncatedCoreIsReindexed(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	core, _ := s.Get(ctx, key)
	txs := randomTxs(t, 5, 60)
	core.Append(ctx, txs[:50]...)
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := core.Truncate(ctx, 30); err != nil {
		t.Fatal(err)
	}
	core.Append(ctx, txs[50:]...)
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	checkAgainstModel(t, db, core)
}

// syncReplica moves blocks [start, end) and the newest tree from owner to replica with proofs.
func syncReplica(t testing.TB, owner, replica *corestore.Core, start, end uint64) {
	t.Helper()
	ctx := context.Background()
	rt := replica.Tree()
	p, err := owner.Prove(ctx, corestore.ProofRequest{Start: start, End: end, Upgrade: rt.Length < owner.Length(), HaveFork: rt.Fork,
		HaveLength: rt.Length, NeedManifest: replica.Manifest() == nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaAnswersTheSameQueries(t *testing.T) {
	ctx := context.Background()
	dbA, sA, key := newDB(t)
	fx := loadContacts(t, dbA, key)
	owner, _ := sA.Get(ctx, key)

	sB := openStore(t, t.TempDir())
	rep, err := sB.Replica(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	dbB := openDB(t, sB)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dbB.Follow(fctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// Sparse first: blocks 2 and 3 only. Nothing can be indexed past the gap at 0.
	syncReplica(t, owner, rep, 2, 4)
	if err := dbB.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	if info, _ := dbB.CoreInfo(ctx, key); info.Indexed != 0 {
		t.Fatalf("sparse replica indexed %d blocks past a gap", info.Indexed)
	}
	// The rest arrives; Follow indexes it.
	syncReplica(t, owner, rep, 0, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := dbB.CoreInfo(ctx, key)
		if info.Indexed == owner.Length() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Follow indexed %d of %d blocks", info.Indexed, owner.Length())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tc := range fx.Queries {
		ra, errA := dbA.QueryJSON(ctx, tc.Query)
		rb, errB := dbB.QueryJSON(ctx, tc.Query)
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", tc.Name, errA, errB)
		}
		if !slices.Equal(rowsText(ra.Rows), rowsText(rb.Rows)) || !slices.Equal(ra.Notes, rb.Notes) {
			t.Errorf("%s: owner %q %q, replica %q %q", tc.Name, rowsText(ra.Rows), ra.Notes, rowsText(rb.Rows), rb.Notes)
		}
		for _, r := range rb.Rows {
			if r.Core != key {
				t.Errorf("%s: row from core %s", tc.Name, r.Core)
			}
		}
	}
	checkAgainstModel(t, dbB, rep)
	// A replica cannot be written.
	if _, err := dbB.Transact(ctx, key, []Datom{{E: "x/1", A: "x/a", V: Int(1), Added: true}}); !errors.Is(err, corestore.ErrReadOnly) {
		t.Fatalf("transact on replica: %v", err)
	}
}

func TestConcurrentTransactAndRead(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	core, _ := s.Get(ctx, key)
	fctx, cancel := context.WithCancel(ctx)
	followed := make(chan error, 1)
	go func() { followed <- db.Follow(fctx, key) }()
	done := make(chan error, 8)
	for g := range 4 {
		go func() {
			for i := range 20 {
				e := fmt.Sprintf("c/%d", i%5)
				_, err := db.Transact(ctx, key, []Datom{{E: e, A: "c/n", V: Int(int64(g*100 + i)), Added: true},
					{E: e, A: fmt.Sprintf("c/g%d", g), V: String("x"), Added: true}})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		go func() {
			for range 20 {
				if _, err := db.QueryJSON(ctx, []byte(`{"find":["?e","?n"],"where":[["?e","c/n","?n"]]}`)); err != nil {
					done <- err
					return
				}
				if _, err := db.Pull(ctx, key, "c/1"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-followed
	if core.Length() != 80 {
		t.Fatalf("length %d", core.Length())
	}
	checkAgainstModel(t, db, core)
	res, err := db.QueryJSON(ctx, []byte(`{"find":["?e","?n"],"where":[["?e","c/n","?n"]]}`))
	if err != nil || len(res.Rows) != 5 {
		t.Fatalf("cardinality one under concurrency: %d rows, %v", len(res.Rows), err)
	}
}

// TestOlderIndexFormatIsRebuilt: an index written by format 1, which had no entity keys, is
// rebuilt from the log when the database opens, so that later transactions see every entity.
func TestOlderIndexFormatIsRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	db := openDB(t, s)
	c, err := s.Create(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	key := c.Key()
	txs := randomTxs(t, 9, 40)
	if _, err := c.Append(ctx, txs[:30]...); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	// Turn the index into what format 1 wrote: no entity keys, state version 1.
	cid := func() uint32 { ci, _ := db.coreIndex(ctx, key); return ci.state.Load().cid }()
	if err := db.bdb.DropPrefix(corePrefix(subEntity, cid)); err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(coreStateKey(key))
		if err != nil {
			return err
		}
		st, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		st = st[:coreStateSizeV2] // formats 1 and 2 had no block fingerprint
		st[0] = 1
		return txn.Set(coreStateKey(key), st)
	}); err != nil {
		t.Fatal(err)
	}
	db2 := openDB(t, s) // a new process, in effect
	newCid := func() uint32 { ci, _ := db2.coreIndex(ctx, key); return ci.state.Load().cid }()
	if newCid == cid {
		t.Fatal("the rebuilt index kept the old core number")
	}
	if n := countKeys(t, s, corePrefix(subEntity, newCid)); n == 0 {
		t.Fatal("the format 1 index was not rebuilt: no entity keys")
	}
	for _, sub := range indexSubs {
		if n := countKeys(t, s, corePrefix(sub, cid)); n != 0 {
			t.Fatalf("%d keys of the old index (sub %#x) are left", n, sub)
		}
	}
	if _, err := c.Append(ctx, txs[30:]...); err != nil {
		t.Fatal(err)
	}
	if err := db2.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	checkAgainstModel(t, db2, c)
}

// TestIndexesInStoreDatabaseAreDropped: versions before the derived database kept the indexes in
// the store's own database. Opening drops them there and indexes every core again.
func TestIndexesInStoreDatabaseAreDropped(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, err := s.Create(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	txs := randomTxs(t, 3, 20)
	if _, err := c.Append(ctx, txs...); err != nil {
		t.Fatal(err)
	}
	// What the old layout left behind: index keys and a core state under 0x80 in the store.
	legacy := [][]byte{coreStateKey(c.Key()), indexKeyTo(nil, subEAVT, 1, "e", "a", String("v").key(nil), 0)}
	if err := s.DB().Update(func(txn *badger.Txn) error {
		for _, k := range legacy {
			if err := txn.Set(k, []byte("old")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, s)
	err = s.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{keyPrefix}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			t.Errorf("key %x of the old layout is still in the store's database", it.Item().Key())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstModel(t, db, c)
}

func countKeys(t testing.TB, s *corestore.Store, prefix []byte) int {
	t.Helper()
	n := 0
	bdb, err := s.Derived()
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIndexOfLostBlocksIsRebuilt: the derived database is never synced, and a power loss can
// also take appends that were not synced, so an index may come back describing blocks the log no
// longer has. Here the store's own database is rolled back, with real files, to an earlier copy
// while the derived database keeps the later index. Opening must rebuild the index, whether the
// log is now shorter than the index, or was written up to the same length again with other
// blocks before the index was opened.
func TestIndexOfLostBlocksIsRebuilt(t *testing.T) {
	for _, refill := range []bool{false, true} {
		t.Run(map[bool]string{false: "shorter", true: "same-length"}[refill], func(t *testing.T) {
			testIndexOfLostBlocks(t, refill)
		})
	}
}

func testIndexOfLostBlocks(t *testing.T, refill bool) {
	ctx := context.Background()
	dir, backup := t.TempDir(), t.TempDir()
	txs := randomTxs(t, 21, 160)
	openStore := func() *corestore.Store {
		s, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet()))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	open := func() (*corestore.Store, *DB) {
		s := openStore()
		db, err := Open(ctx, s, WithLogger(quiet()), WithClock(fixedClock()))
		if err != nil {
			t.Fatal(err)
		}
		return s, db
	}
	closeAll := func(s *corestore.Store, db *DB) {
		if db != nil {
			db.Close()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// copyFiles copies the regular files of from (the store's own Badger files, not the
	// derived subdirectory) into to, after deleting to's.
	copyFiles := func(from, to string) {
		old, _ := os.ReadDir(to)
		for _, e := range old {
			if e.Type().IsRegular() {
				os.Remove(filepath.Join(to, e.Name()))
			}
		}
		ents, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(from, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	s, db := open()
	c, err := s.Create(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	key := c.Key()
	if _, err := c.Append(ctx, txs[:40]...); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	closeAll(s, db)
	copyFiles(dir, backup) // the log at 40 blocks

	s, db = open()
	c, _ = s.Get(ctx, key)
	if _, err := c.Append(ctx, txs[40:80]...); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	if info, _ := db.CoreInfo(ctx, key); info.Indexed != 80 {
		t.Fatalf("indexed %d of 80", info.Indexed)
	}
	closeAll(s, db)
	copyFiles(backup, dir) // the log loses blocks 40..79; the index keeps them

	want := uint64(40)
	if refill {
		// Other blocks take positions 40..79 while no index is open.
		s = openStore()
		c, _ = s.Get(ctx, key)
		if _, err := c.Append(ctx, txs[120:160]...); err != nil {
			t.Fatal(err)
		}
		closeAll(s, nil)
		want = 80
	}

	s, db = open()
	defer closeAll(s, db)
	c, _ = s.Get(ctx, key)
	if c.Length() != want {
		t.Fatalf("log length %d, want %d", c.Length(), want)
	}
	if info, _ := db.CoreInfo(ctx, key); info.Indexed != want {
		t.Fatalf("indexed %d, want the log's %d", info.Indexed, want)
	}
	checkAgainstModel(t, db, c)
	if _, err := c.Append(ctx, txs[80:120]...); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	checkAgainstModel(t, db, c)
}

// indexedCore opens a store in dir and its datom database, and appends n random transactions to
// a core "main" and indexes them.
func indexedCore(t *testing.T, dir string, seed uint64, n int) (*corestore.Store, *DB, *corestore.Core) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, dir)
	db := openDB(t, s)
	c, err := s.Create(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, randomTxs(t, seed, n)...); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, c.Key()); err != nil {
		t.Fatal(err)
	}
	return s, db, c
}

// TestIndexKeptWhenLastBlockIsNotHeld: a block the index ended with that is no longer held here
// (cleared to save space, or a replica's block lost before it was synced) says nothing against
// the index, which is kept.
func TestIndexKeptWhenLastBlockIsNotHeld(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, db, c := indexedCore(t, dir, 8, 10)
	if err := c.Clear(ctx, 9, 10); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s.Close()

	s = openStore(t, dir)
	db = openDB(t, s)
	info, err := db.CoreInfo(ctx, c.Key())
	if err != nil {
		t.Fatal(err)
	}
	if info.Indexed != 10 {
		t.Fatalf("indexed %d of 10 after reopening with block 9 cleared", info.Indexed)
	}
}

// TestOrphanIndexesAreDropped: index keys under a core number no core state refers to (a crash
// between a reset's new state and the drop of the old keys leaves them) are deleted on open, and
// nothing else is.
func TestOrphanIndexesAreDropped(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, db, c := indexedCore(t, dir, 31, 30)
	const orphan = 77
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{
			indexKeyTo(nil, subEAVT, orphan, "e", "a", String("v").key(nil), 3),
			indexKeyTo(nil, subAVET, orphan, "e", "a", String("v").key(nil), 3),
			entityKey(orphan, "e"),
		} {
			if err := txn.Set(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s.Close()

	s = openStore(t, dir)
	db = openDB(t, s)
	for _, sub := range indexSubs {
		if n := countKeys(t, s, corePrefix(sub, orphan)); n != 0 {
			t.Errorf("%d orphan keys left under sub %#x", n, sub)
		}
	}
	c, _ = s.Get(ctx, c.Key())
	checkAgainstModel(t, db, c)
}
