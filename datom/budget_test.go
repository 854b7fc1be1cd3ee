package datom

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDefaultQueryMemory(t *testing.T) {
	for _, tc := range []struct{ physical, want int64 }{
		{0, 1 << 30},
		{64 << 30, 1 << 30},
		{4 << 30, 1 << 30},
		{2 << 30, 512 << 20},
		{128 << 20, 64 << 20},
	} {
		if got := defaultQueryMemory(tc.physical); got != tc.want {
			t.Errorf("defaultQueryMemory(%d) = %d, want %d", tc.physical, got, tc.want)
		}
	}
	if runtime.GOOS == "linux" && physicalMemory() <= 0 {
		t.Error("the machine's memory was not read")
	}
	db, _, _ := newDB(t)
	if b := db.QueryMemory().Budget; b != defaultQueryMemory(physicalMemory()) {
		t.Errorf("default budget %d", b)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, opt := range []Option{WithQueryMemory(0), WithQueryMemory(-1), WithColumnCache(-1), WithLogger(nil), WithClock(nil), WithPollInterval(0)} {
		db, err := Open(context.Background(), s, opt)
		if err == nil {
			db.Close()
			t.Errorf("an invalid option was accepted")
		}
	}
}

// peopleDB returns a database with n entities that each have a p/name.
func peopleDB(t *testing.T, n int, opts ...Option) (*DB, [32]byte) {
	t.Helper()
	db, _, key := newDB(t, opts...)
	var ds []Datom
	for i := range n {
		ds = append(ds, Add(fmt.Sprintf("p/%d", i), "p/name", String(fmt.Sprintf("name-%d", i))))
		if len(ds) == MaxDatomsPerTx || i == n-1 {
			if _, err := db.Transact(context.Background(), key, ds); err != nil {
				t.Fatal(err)
			}
			ds = ds[:0]
		}
	}
	return db, key
}

func query(t *testing.T, db *DB, text string) (*Result, error) {
	t.Helper()
	q, err := ParseQuery([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return db.Query(context.Background(), q)
}

// TestQueryMemoryIsAccounted: a query that succeeds held, at its peak, at least its result.
func TestQueryMemoryIsAccounted(t *testing.T) {
	db, _ := peopleDB(t, 3000)
	res, err := query(t, db, `[:find ?e ?n :where [?e :p/name ?n]]`)
	if err != nil || len(res.Rows) != 3000 {
		t.Fatalf("%d rows, %v", len(res.Rows), err)
	}
	st := db.QueryMemory()
	if least := int64(3000) * (resultRow + 2*valueBytes); st.Peak < least {
		t.Errorf("peak %d bytes, less than the result's %d", st.Peak, least)
	}
	if st.InUse != 0 || st.Running != 0 {
		t.Errorf("after the query: %+v", st)
	}
}

func TestTooManyRows(t *testing.T) {
	db, _ := peopleDB(t, 10)
	var a, b []string
	for i := range 1500 {
		a = append(a, fmt.Sprint(i))
		b = append(b, fmt.Sprintf(`"%d"`, i))
	}
	_, err := query(t, db, fmt.Sprintf(`{"find":["?a","?b"],"in":{"?a":[%s],"?b":[%s]}}`, joinComma(a), joinComma(b)))
	if !errors.Is(err, ErrTooManyRows) || !errors.Is(err, ErrQueryTooLarge) {
		t.Fatalf("error %v, want ErrTooManyRows and ErrQueryTooLarge", err)
	}
}

func joinComma(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

// TestConcurrentQueriesStayInTheBudget: four cross products that would each build two million
// rows (a gigabyte) run at once under a 32 MiB budget. Each fails with ErrQueryTooLarge, the
// accounted memory never passes the budget, the heap grows by a small multiple of it, and all
// of it is given back.
func TestConcurrentQueriesStayInTheBudget(t *testing.T) {
	const budget = 32 << 20
	db, _ := peopleDB(t, 3000, WithQueryMemory(budget), WithColumnCache(0))
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	heap := func(name string) int64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64())
	}
	runtime.GC()
	base := heap("/gc/heap/live:bytes")

	var peakHeap, peakUse atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			if h := heap("/memory/classes/heap/objects:bytes"); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			if u := db.QueryMemory().InUse; u > peakUse.Load() {
				peakUse.Store(u)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = query(t, db, `[:find ?a ?b :where [?a :p/name ?x] [?b :p/name ?y]]`)
		})
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrQueryTooLarge) || errors.Is(err, ErrTooManyRows) {
			t.Errorf("query %d: %v, want ErrQueryTooLarge from the budget", i, err)
		}
	}
	st := db.QueryMemory()
	t.Logf("budget %s; accounted peak %s (sampled %s); heap peak %s over a live heap of %s",
		byteSize(budget), byteSize(st.Peak), byteSize(peakUse.Load()), byteSize(peakHeap.Load()-base), byteSize(base))
	if st.Peak > budget || peakUse.Load() > budget {
		t.Errorf("accounted %d bytes, over the budget of %d", max(st.Peak, peakUse.Load()), budget)
	}
	if st.Peak < budget/2 {
		t.Errorf("accounted peak %d: the queries did not use the budget", st.Peak)
	}
	if grew := peakHeap.Load() - base; grew > 8*budget {
		t.Errorf("the heap grew by %s under a budget of %s", byteSize(grew), byteSize(budget))
	}
	if st.InUse != 0 || st.Running != 0 {
		t.Errorf("after the queries: %+v", st)
	}
	runtime.GC()
	if live := heap("/gc/heap/live:bytes"); live > base+budget/4 {
		t.Errorf("live heap %s after the queries, %s before: memory was not given back", byteSize(live), byteSize(base))
	}
	// The budget is free again for a query that fits.
	if res, err := query(t, db, `[:find ?n :where ["p/7" :p/name ?n]]`); err != nil || len(res.Rows) != 1 {
		t.Errorf("a small query afterwards: %v, %v", res, err)
	}
}
