package dwntest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// TestdataDir is dwn/testdata, where the reference vectors are.
func TestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

func readLines(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(TestdataDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t testing.TB, b []byte) any {
	t.Helper()
	v, err := jsv.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func field(v any, k string) any {
	o, _ := v.(*jsv.Object)
	x, _ := o.Get(k)
	return x
}

func toIndexes(v any) dwn.Indexes {
	o := v.(*jsv.Object)
	ix := dwn.Indexes{}
	for _, k := range o.Keys() {
		ix[k], _ = o.Get(k)
	}
	return ix
}

func toSort(v any) dwn.Sort {
	o, _ := v.(*jsv.Object)
	if o == nil || o.Len() == 0 {
		return dwn.Sort{Property: "messageTimestamp"}
	}
	k := o.Keys()[0]
	d, _ := o.Get(k)
	return dwn.Sort{Property: k, Descending: d == float64(-1)}
}

// TestMessageStore is the conformance suite of dwn.MessageStore: it replays testdata/store.jsonl,
// what dwn-sdk-js's MessageStoreLevel returned for the same puts, deletes and queries (equality,
// one-of, range and prefix filters on strings, numbers and arrays, both of IndexLevel's paging
// paths, cursors, fractional limits), and checks basic put, get and delete.
func TestMessageStore(t *testing.T, newStore func(t *testing.T) dwn.MessageStore) {
	ctx := context.Background()
	t.Run("reference", func(t *testing.T) {
		s := newStore(t)
		for _, line := range readLines(t, "store.jsonl") {
			op := parse(t, line)
			tenant, _ := field(op, "tenant").(string)
			switch field(op, "op") {
			case "put":
				m := field(op, "message").(*jsv.Object)
				if err := s.Put(ctx, tenant, m, toIndexes(field(op, "indexes"))); err != nil {
					t.Fatal(err)
				}
				if c, _ := dwn.MessageCID(m); c != field(op, "cid") {
					t.Fatalf("CID %s, reference %v", c, field(op, "cid"))
				}
			case "delete":
				if err := s.Delete(ctx, tenant, field(op, "cid").(string)); err != nil {
					t.Fatal(err)
				}
			case "query":
				var filters []dwn.Filter
				for _, f := range field(op, "filters").([]any) {
					filters = append(filters, f.(*jsv.Object))
				}
				sort := toSort(field(op, "sort"))
				var page *dwn.Pagination
				if p, ok := field(op, "pagination").(*jsv.Object); ok {
					page = &dwn.Pagination{}
					if l, ok := field(p, "limit").(float64); ok {
						page.Limit = &l
					}
				}
				for i, want := range field(op, "pages").([]any) {
					ms, cursor, err := s.Query(ctx, tenant, filters, sort, page)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, m := range ms {
						c, _ := dwn.MessageCID(m)
						got = append(got, c)
					}
					var wantCIDs []string
					for _, c := range field(want, "cids").([]any) {
						wantCIDs = append(wantCIDs, c.(string))
					}
					if !reflect.DeepEqual(got, wantCIDs) {
						t.Errorf("query %s sort %+v page %d:\n got %v\nwant %v", jsv.Stringify(field(op, "filters")), sort, i, got, wantCIDs)
					}
					wc, _ := field(want, "cursor").(*jsv.Object)
					if (wc == nil) != (cursor == nil) || (wc != nil && (field(wc, "messageCid") != cursor.MessageCID || !jsv.DeepEqual(field(wc, "value"), cursor.Value))) {
						t.Errorf("query %s page %d: cursor %+v, want %s", jsv.Stringify(field(op, "filters")), i, cursor, jsv.Stringify(wc))
					}
					if cursor == nil {
						break
					}
					np := *page
					np.Cursor = cursor
					page = &np
				}
			}
		}
	})
	t.Run("basics", func(t *testing.T) {
		s := newStore(t)
		m := Obj("descriptor", Obj("interface", "Records", "method", "Write", "messageTimestamp", "2025-01-01T00:00:00.000000Z"), "encodedData", "aGk")
		cid, _ := dwn.MessageCID(m)
		if _, err := s.Get(ctx, "t", cid); !errors.Is(err, dwn.ErrNotFound) {
			t.Fatalf("get before put: %v", err)
		}
		if err := s.Put(ctx, "t", m, dwn.Indexes{"messageTimestamp": "x", "schema": "s"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "t", cid)
		if err != nil || !jsv.DeepEqual(got, m) {
			t.Fatalf("get: %v %s", err, jsv.Stringify(got))
		}
		if _, err := s.Get(ctx, "other", cid); !errors.Is(err, dwn.ErrNotFound) {
			t.Fatalf("another tenant sees the message: %v", err)
		}
		// a put with new indexes replaces the old ones
		if err := s.Put(ctx, "t", m, dwn.Indexes{"messageTimestamp": "x", "schema": "s2"}); err != nil {
			t.Fatal(err)
		}
		for schema, want := range map[string]int{"s": 0, "s2": 1} {
			ms, _, err := s.Query(ctx, "t", []dwn.Filter{Obj("schema", schema)}, dwn.Sort{Property: "messageTimestamp"}, nil)
			if err != nil || len(ms) != want {
				t.Errorf("schema %s: %d results, want %d (%v)", schema, len(ms), want, err)
			}
		}
		if err := s.Delete(ctx, "t", cid); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "t", cid); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if ms, _, _ := s.Query(ctx, "t", nil, dwn.Sort{Property: "messageTimestamp"}, nil); len(ms) != 0 {
			t.Errorf("%d messages after delete", len(ms))
		}
	})
}

// TestEventLog is the conformance suite of dwn.EventLog.
func TestEventLog(t *testing.T, newLog func(t *testing.T) dwn.EventLog) {
	ctx := context.Background()
	l := newLog(t)
	cids := []string{"c1", "c2", "c3", "c4", "c5"}
	for i, c := range cids {
		ix := dwn.Indexes{"interface": "Records", "method": "Write", "messageTimestamp": jsv.NumberString(float64(i))}
		if i%2 == 1 {
			ix["interface"] = "Protocols"
		}
		if err := l.Append(ctx, "t", c, ix); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(ctx, "u", "u1", dwn.Indexes{"interface": "Records"}); err != nil {
		t.Fatal(err)
	}
	all, cursor, err := l.Query(ctx, "t", nil, nil)
	if err != nil || !reflect.DeepEqual(all, cids) || cursor == nil || cursor.MessageCID != "c5" {
		t.Fatalf("all events: %v %+v %v", all, cursor, err)
	}
	rec, _, _ := l.Query(ctx, "t", []dwn.Filter{Obj("interface", "Records")}, nil)
	if !reflect.DeepEqual(rec, []string{"c1", "c3", "c5"}) {
		t.Errorf("filtered: %v", rec)
	}
	_, c2, _ := l.Query(ctx, "t", []dwn.Filter{Obj("messageTimestamp", "1")}, nil)
	after, last, _ := l.Query(ctx, "t", nil, c2)
	if !reflect.DeepEqual(after, []string{"c3", "c4", "c5"}) || last.MessageCID != "c5" {
		t.Errorf("after cursor %+v: %v", c2, after)
	}
	if none, cur, _ := l.Query(ctx, "t", nil, last); len(none) != 0 || cur != nil {
		t.Errorf("after the last: %v %+v", none, cur)
	}
	if err := l.Delete(ctx, "t", []string{"c2", "c4", "missing"}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Query(ctx, "t", nil, nil); !reflect.DeepEqual(got, []string{"c1", "c3", "c5"}) {
		t.Errorf("after delete: %v", got)
	}
	if err := l.Append(ctx, "t", "c6", dwn.Indexes{"interface": "Records"}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Query(ctx, "t", nil, nil); !reflect.DeepEqual(got, []string{"c1", "c3", "c5", "c6"}) {
		t.Errorf("appends after a delete come last: %v", got)
	}
	if got, _, _ := l.Query(ctx, "u", nil, nil); !reflect.DeepEqual(got, []string{"u1"}) {
		t.Errorf("other tenant: %v", got)
	}
}

// TestDataStore is the conformance suite of dwn.DataStore: the DESIGN.md blob CIDs, data kept only
// when CID and size match, per-record references and deletion.
func TestDataStore(t *testing.T, newStore func(t *testing.T) dwn.DataStore) {
	ctx := context.Background()
	s := newStore(t)
	cases := []struct {
		data []byte
		cid  string
	}{
		{nil, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{[]byte(`{"hello":"world"}`), "bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra"},
		{make([]byte, 1<<20), "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"},
	}
	for _, c := range cases {
		got, n, err := s.Put(ctx, "t", "r1", c.cid, int64(len(c.data)), bytes.NewReader(c.data))
		if err != nil || got != c.cid || n != int64(len(c.data)) {
			t.Fatalf("put %d bytes: %s %d %v, want %s", len(c.data), got, n, err, c.cid)
		}
		rc, size, err := s.Get(ctx, "t", "r1", c.cid)
		if err != nil || size != int64(len(c.data)) {
			t.Fatalf("get %s: %d %v", c.cid, size, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, c.data) {
			t.Fatalf("read %s: %d bytes %v", c.cid, len(b), err)
		}
	}
	big := cases[2]
	// the wrong CID or size keeps nothing
	if got, _, err := s.Put(ctx, "t", "r2", cases[1].cid, int64(len(big.data)), bytes.NewReader(big.data)); err != nil || got != big.cid {
		t.Fatalf("mismatched put: %s %v", got, err)
	}
	if _, _, err := s.Get(ctx, "t", "r2", big.cid); !errors.Is(err, dwn.ErrNotFound) {
		t.Fatalf("a mismatched put was kept: %v", err)
	}
	if _, _, err := s.Put(ctx, "t", "r2", big.cid, 5, bytes.NewReader(big.data)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "t", "r2", big.cid); !errors.Is(err, dwn.ErrNotFound) {
		t.Fatalf("a put with the wrong size was kept: %v", err)
	}
	// the same data for another record, then deleted for one
	if _, _, err := s.Put(ctx, "t", "r3", big.cid, int64(len(big.data)), bytes.NewReader(big.data)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "t", "r1", big.cid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "t", "r1", big.cid); !errors.Is(err, dwn.ErrNotFound) {
		t.Fatalf("deleted data is still there: %v", err)
	}
	rc, _, err := s.Get(ctx, "t", "r3", big.cid)
	if err != nil {
		t.Fatalf("the other record's data went with the delete: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, big.data) {
		t.Fatal("the other record's data is damaged")
	}
	if _, _, err := s.Get(ctx, "u", "r3", big.cid); !errors.Is(err, dwn.ErrNotFound) {
		t.Fatal("another tenant reads the data")
	}
	if err := s.Delete(ctx, "t", "nope", big.cid); err != nil {
		t.Fatalf("deleting nothing: %v", err)
	}
}
