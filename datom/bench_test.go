package datom

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// The benchmark data set: benchEntities contacts with benchAttrs attributes each, 1,000,000
// datoms in 1,000 transactions of 1,000 datoms, plus one schema transaction.
const (
	benchEntities = 100_000
	benchAttrs    = 10
	benchTxSize   = 1000
)

// benchStoreOpts are the store options of the benchmarks.
var benchStoreOpts = []corestore.Option{corestore.WithCacheSize(512 << 20)}

var benchCities = []string{"Beijing", "Paris", "Lagos", "Lima", "Oslo", "Pune", "Quito", "Riga", "Seoul", "Tunis"}

func benchSchema() []Datom {
	var ds []Datom
	add := func(ident, typ string, unique bool) {
		e := "schema/" + ident
		ds = append(ds, Datom{E: e, A: AttrIdent, V: String(ident), Added: true},
			Datom{E: e, A: AttrValueType, V: String(typ), Added: true})
		if unique {
			ds = append(ds, Datom{E: e, A: AttrUnique, V: String("identity"), Added: true})
		}
	}
	add("contact/name", "string", false)
	add("contact/email", "string", true)
	add("contact/city", "string", false)
	add("contact/age", "int", false)
	for i := range benchAttrs - 4 {
		add(fmt.Sprintf("contact/f%d", i), "int", false)
	}
	return ds
}

// benchTx returns transaction i of the data set: 100 whole entities.
func benchTx(i int) []Datom {
	ds := make([]Datom, 0, benchTxSize)
	for k := range benchTxSize / benchAttrs {
		n := i*(benchTxSize/benchAttrs) + k
		e := fmt.Sprintf("contact/%d", n)
		ds = append(ds,
			Datom{E: e, A: "contact/name", V: String(fmt.Sprintf("name-%d", n)), Added: true},
			Datom{E: e, A: "contact/email", V: String(fmt.Sprintf("c%d@example.com", n)), Added: true},
			Datom{E: e, A: "contact/city", V: String(benchCities[n%len(benchCities)]), Added: true},
			Datom{E: e, A: "contact/age", V: Int(int64(n % 100)), Added: true})
		for f := range benchAttrs - 4 {
			ds = append(ds, Datom{E: e, A: fmt.Sprintf("contact/f%d", f), V: Int(int64(n * f)), Added: true})
		}
	}
	return ds
}

// buildMillion transacts the data set into a fresh durable store and returns the datoms per
// second it took.
func buildMillion(b *testing.B, dir string, opts ...corestore.Option) (*DB, corestore.Key, float64) {
	ctx := context.Background()
	s := openStore(b, dir, append(slices.Clone(benchStoreOpts), opts...)...)
	c, err := s.Create(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(ctx, s, WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Transact(ctx, c.Key(), benchSchema()); err != nil {
		b.Fatal(err)
	}
	txs := make([][]Datom, benchEntities*benchAttrs/benchTxSize)
	for i := range txs {
		txs[i] = benchTx(i)
	}
	start := time.Now()
	for _, tx := range txs {
		if _, err := db.Transact(ctx, c.Key(), tx); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(len(txs)*benchTxSize) / time.Since(start).Seconds()
	return db, c.Key(), rate
}

// BenchmarkTransact transacts 1,000,000 datoms in 1,000-datom transactions into a durable store,
// validated and indexed, and reports datoms/s.
func BenchmarkTransact(b *testing.B) {
	b.Run("durable", func(b *testing.B) {
		for b.Loop() {
			_, _, rate := buildMillion(b, b.TempDir())
			b.ReportMetric(rate, "datoms/s")
		}
	})
	// The same with corestore.WithDurability(false): appends are atomic but not synced, as for a
	// bulk import.
	b.Run("nondurable", func(b *testing.B) {
		for b.Loop() {
			_, _, rate := buildMillion(b, b.TempDir(), corestore.WithDurability(false))
			b.ReportMetric(rate, "datoms/s")
		}
	})
}

// BenchmarkMillion runs reads against one 1,000,000-datom database built once.
func BenchmarkMillion(b *testing.B) {
	ctx := context.Background()
	db, key, rate := buildMillion(b, b.TempDir())
	b.Logf("built 1M datoms at %.0f datoms/s", rate)
	// Let Badger finish compacting the bulk load, as it would have in a peer that has been running.
	time.Sleep(5 * time.Second)
	core, _ := db.store.Get(ctx, key)

	b.Run("pull", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		// A fixed 10,000 pulls per iteration, so that -benchtime 1x still gives a real p50.
		const perIter = 10_000
		lat := make([]time.Duration, 0, perIter)
		for b.Loop() {
			for k := 0; k < perIter; k++ {
				e := fmt.Sprintf("contact/%d", r.IntN(benchEntities))
				t0 := time.Now()
				p, err := db.Pull(ctx, key, e)
				lat = append(lat, time.Since(t0))
				if err != nil || len(p.Attrs) != benchAttrs {
					b.Fatalf("pull %s: %v %v", e, p, err)
				}
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	})

	query := []byte(`{"find":["?e","?name"],"where":[["?e","contact/name","?name"],["?e","contact/city","Beijing"]]}`)
	want := benchEntities / len(benchCities)
	// A fixed 20 queries per iteration, so that -benchtime 1x gives a steady figure. The first two
	// queries read the indexes (first-ms, second-ms); the second also starts building the two
	// attributes' columns in the background, and the third runs while they are built (third-ms).
	// The rest are answered from the columns until a transaction changes the core: ms/query is
	// their mean, and max-ms the slowest of all twenty.
	b.Run("join", func(b *testing.B) {
		const perIter = 20
		var lat []time.Duration
		for b.Loop() {
			for k := 0; k < perIter; k++ {
				t0 := time.Now()
				res, err := db.QueryJSON(ctx, query)
				lat = append(lat, time.Since(t0))
				if err != nil || len(res.Rows) != want {
					b.Fatalf("%d rows, %v", len(res.Rows), err)
				}
			}
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		var warm time.Duration
		for _, d := range lat[perIter/2:] {
			warm += d
		}
		b.ReportMetric(ms(warm)/float64(len(lat)-perIter/2), "ms/query")
		b.ReportMetric(ms(lat[0]), "first-ms")
		b.ReportMetric(ms(lat[1]), "second-ms")
		b.ReportMetric(ms(lat[2]), "third-ms")
		b.ReportMetric(ms(slices.Max(lat)), "max-ms")
	})

	// The same join with the column cache off: every query reads the name attribute from AEVT,
	// as the first query after a transaction does.
	uncached, err := Open(ctx, db.store, WithLogger(quiet()), WithColumnCache(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("join-uncached", func(b *testing.B) {
		for b.Loop() {
			res, err := uncached.QueryJSON(ctx, query)
			if err != nil || len(res.Rows) != want {
				b.Fatalf("%d rows, %v", len(res.Rows), err)
			}
		}
	})

	// The same join answered by reading and decoding the whole log, as a reader without indexes
	// would.
	b.Run("join-naive-log-scan", func(b *testing.B) {
		for b.Loop() {
			names := map[string]string{}
			city := map[string]string{}
			n := core.Length()
			for start := uint64(0); start < n; start += 64 {
				blocks, err := core.GetRange(ctx, start, min(n, start+64))
				if err != nil {
					b.Fatal(err)
				}
				for _, blk := range blocks {
					tx, err := DecodeTx(blk)
					if err != nil {
						b.Fatal(err)
					}
					for _, d := range tx.Datoms {
						switch {
						case d.A == "contact/name" && d.Added:
							names[d.E] = d.V.Str
						case d.A == "contact/city" && d.Added:
							city[d.E] = d.V.Str
						case d.A == "contact/name" && names[d.E] == d.V.Str:
							delete(names, d.E)
						case d.A == "contact/city" && city[d.E] == d.V.Str:
							delete(city, d.E)
						}
					}
				}
			}
			var rows []string
			for e, c := range city {
				if name, ok := names[e]; ok && c == "Beijing" {
					rows = append(rows, e+" "+name)
				}
			}
			sort.Strings(rows)
			if len(rows) != want {
				b.Fatalf("%d rows", len(rows))
			}
		}
	})
}

// BenchmarkIndexWritesOnly writes the index keys of the 1,000,000-datom data set straight into the
// derived Badger database, as Transact's commits would, with no validation, log, or reads: the
// floor that Badger puts under BenchmarkTransact on this machine.
func BenchmarkIndexWritesOnly(b *testing.B) {
	for b.Loop() {
		s := openStore(b, b.TempDir(), benchStoreOpts...)
		bdb, err := s.Derived()
		if err != nil {
			b.Fatal(err)
		}
		txs := make([][]Datom, benchEntities*benchAttrs/benchTxSize)
		for i := range txs {
			txs[i] = benchTx(i)
		}
		start := time.Now()
		var last chan error
		for tx, ds := range txs {
			txn := bdb.NewTransaction(true)
			seen := map[string]bool{}
			for _, d := range ds {
				vk := d.V.key(nil)
				for _, sub := range indexSubs[:3] {
					if err := txn.Set(indexKeyTo(nil, sub, 1, d.E, d.A, vk, uint64(tx)), nil); err != nil {
						b.Fatal(err)
					}
				}
				if !seen[d.E] {
					seen[d.E] = true
					if err := txn.Set(entityKey(1, d.E), nil); err != nil {
						b.Fatal(err)
					}
				}
				if d.A == "contact/email" {
					if err := txn.Set(uniqueKey(1, d.A, vk), []byte(d.E)); err != nil {
						b.Fatal(err)
					}
				}
			}
			last = make(chan error, 1)
			ch := last
			txn.CommitWith(func(err error) { ch <- err })
		}
		if err := <-last; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(txs)*benchTxSize)/time.Since(start).Seconds(), "datoms/s")
	}
}
