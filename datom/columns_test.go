package datom

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestColumnCacheAgreesWithIndexes runs joins that take the cached-column paths (many bound
// entities, and value lookups of estimateCap entries or more) on a database with the cache and
// on one without, across transactions that change the attributes the columns hold, and as of an
// earlier tx, which the cache must not serve.
func TestColumnCacheAgreesWithIndexes(t *testing.T) {
	ctx := context.Background()
	cached, s, key := newDB(t)
	plain, err := Open(ctx, s, WithLogger(quiet()), WithClock(fixedClock()), WithColumnCache(0))
	if err != nil {
		t.Fatal(err)
	}
	transactJSON(t, cached, key, `[
		{"db/id":"s1","db/ident":"p/name","db/valueType":"string"},
		{"db/id":"s2","db/ident":"p/city","db/valueType":"string"},
		{"db/id":"s3","db/ident":"p/tag","db/valueType":"string","db/cardinality":"many"}]`)
	const people = 5000
	cities := []string{"Beijing", "Paris"}
	var ds []Datom
	for i := range people {
		e := fmt.Sprintf("p/%d", i)
		ds = append(ds, Datom{E: e, A: "p/name", V: String(fmt.Sprintf("n%d", i)), Added: true},
			Datom{E: e, A: "p/city", V: String(cities[i%2]), Added: true},
			Datom{E: e, A: "p/tag", V: String(fmt.Sprintf("t%d", i%3)), Added: true},
			Datom{E: e, A: "p/tag", V: String(fmt.Sprintf("u%d", i%5)), Added: true})
	}
	var first *TxReport
	for len(ds) > 0 {
		n := min(len(ds), 4000)
		rep, err := cached.Transact(ctx, key, ds[:n])
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = rep
		}
		ds = ds[n:]
	}
	queries := []string{
		`{"find":["?e","?name"],"where":[["?e","p/name","?name"],["?e","p/city","Beijing"]]}`,
		`{"find":["?e","?t"],"where":[["?e","p/city","Paris"],["?e","p/tag","?t"]]}`,
		`{"find":["?e"],"where":[["?e","p/city","Paris"],["?e","p/tag","t1"]]}`,
		`{"find":["?name"],"where":[["?e","p/city","Beijing"],["?e","p/name","?name"],["?e","p/tag","u2"]]}`,
		fmt.Sprintf(`{"find":["?e","?name"],"where":[["?e","p/name","?name"],["?e","p/city","Beijing"]],"as-of":%d}`, first.Tx),
	}
	check := func(round int) {
		t.Helper()
		for _, qs := range queries {
			for pass := range 3 { // the second pass starts building columns; the third reads them
				if pass == 2 {
					cached.cols.wait()
				}
				q, err := ParseQuery([]byte(qs))
				if err != nil {
					t.Fatal(err)
				}
				got, err := cached.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := plain.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := rowsText(got.Rows), rowsText(want.Rows); !slices.Equal(g, w) || len(w) == 0 {
					t.Fatalf("round %d pass %d, %s: cached %d rows, indexes %d: %s", round, pass, qs, len(g), len(w), firstDiff(g, w))
				}
			}
		}
	}
	if err := plain.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	check(0)
	if n := len(cached.cols.cols); n == 0 {
		t.Fatal("no column was cached: the test does not reach the cache")
	}
	r := rand.New(rand.NewPCG(3, 4))
	tagGone := map[int]bool{}
	for round := 1; round <= 3; round++ {
		ds = ds[:0]
		for _, n := range r.Perm(people)[:200] { // one datom per entity: no two values in one tx
			e := fmt.Sprintf("p/%d", n)
			switch r.IntN(3) {
			case 0:
				ds = append(ds, Datom{E: e, A: "p/city", V: String(cities[r.IntN(2)]), Added: true})
			case 1:
				ds = append(ds, Datom{E: e, A: "p/name", V: String(fmt.Sprintf("r%d-%d", round, r.IntN(100))), Added: true})
			default: // retract the entity's t tag, or assert it again once retracted
				ds = append(ds, Datom{E: e, A: "p/tag", V: String(fmt.Sprintf("t%d", n%3)), Added: tagGone[n]})
				tagGone[n] = !tagGone[n]
			}
		}
		if _, err := cached.Transact(ctx, key, ds); err != nil {
			t.Fatal(err)
		}
		if err := plain.CatchUpCore(ctx, key); err != nil {
			t.Fatal(err)
		}
		check(round)
	}
}

// TestColumnBuildsStopWithClose: Close waits for the builds in flight, and no query starts one
// afterwards; queries still answer from the indexes.
func TestColumnBuildsStopWithClose(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	var ds []Datom
	for i := range 3000 {
		e := fmt.Sprintf("p/%d", i)
		ds = append(ds, Datom{E: e, A: "p/name", V: String(fmt.Sprintf("n%d", i)), Added: true},
			Datom{E: e, A: "p/city", V: String("Oslo"), Added: true})
	}
	for len(ds) > 0 {
		n := min(len(ds), 4000)
		if _, err := db.Transact(ctx, key, ds[:n]); err != nil {
			t.Fatal(err)
		}
		ds = ds[n:]
	}
	q := []byte(`{"find":["?e","?name"],"where":[["?e","p/city","Oslo"],["?e","p/name","?name"]]}`)
	query := func() {
		t.Helper()
		res, err := db.QueryJSON(ctx, q)
		if err != nil || len(res.Rows) != 3000 {
			t.Fatalf("%d rows, %v", len(res.Rows), err)
		}
	}
	query()
	query() // the second ask starts the builds
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db.cols.mu.Lock()
	started := db.cols.started
	db.cols.mu.Unlock()
	if started == 0 {
		t.Fatal("no column build was started: the test does not reach the cache")
	}
	// A transaction makes the columns stale: a query now would start building them again.
	if _, err := db.Transact(ctx, key, []Datom{{E: "p/x", A: "p/name", V: String("x"), Added: true}}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := db.QueryJSON(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.cols.mu.Lock()
	defer db.cols.mu.Unlock()
	if db.cols.started != started || len(db.cols.building) != 0 {
		t.Fatalf("after Close: %d builds started (%d before), %d in flight", db.cols.started, started, len(db.cols.building))
	}
}
