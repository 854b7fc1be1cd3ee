package datom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t testing.TB, dir string, opts ...corestore.Option) *corestore.Store {
	t.Helper()
	s, err := corestore.Open(context.Background(), dir, append([]corestore.Option{corestore.WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fixedClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func openDB(t testing.TB, s *corestore.Store, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), s, append([]Option{WithLogger(quiet()), WithClock(fixedClock())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // before the store's cleanup, which was registered first
	return db
}

// newDB returns a DB over a fresh store and the key of its writable core "main".
func newDB(t testing.TB, opts ...Option) (*DB, *corestore.Store, corestore.Key) {
	t.Helper()
	s := openStore(t, t.TempDir())
	c, err := s.Create(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return openDB(t, s, opts...), s, c.Key()
}

func transactJSON(t testing.TB, db *DB, key corestore.Key, js string) *TxReport {
	t.Helper()
	ds, err := ParseTxJSON([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	rep, err := db.Transact(context.Background(), key, ds)
	if err != nil {
		t.Fatalf("transact %s: %v", js, err)
	}
	return rep
}

func readFixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// rowsText renders result rows compactly for comparison: values only, in order.
func rowsText(rows []Row) []string {
	out := []string{}
	for _, r := range rows {
		parts := make([]string, len(r.Values))
		for i, v := range r.Values {
			parts[i] = v.String()
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// dumpIndex returns every index entry of a core, one line each, per index.
func dumpIndex(t testing.TB, db *DB, key corestore.Key) map[byte][]string {
	t.Helper()
	ci, err := db.coreIndex(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	cid := ci.state.Load().cid
	out := map[byte][]string{}
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, sub := range []byte{subEAVT, subAEVT, subAVET, subVAET} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: corePrefix(sub, cid)})
			for it.Rewind(); it.Valid(); it.Next() {
				item := it.Item()
				val, _ := item.ValueCopy(nil)
				en, err := decodeEntry(item.Key(), val)
				if err != nil {
					it.Close()
					return err
				}
				out[sub] = append(out[sub], entryLine(en.e, en.a, en.v, en.tx, en.live, en.retracted))
			}
			it.Close()
			sort.Strings(out[sub])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func entryLine(e, a string, v Value, tx uint64, live bool, retracted uint64) string {
	if live {
		return fmt.Sprintf("%s|%s|%x|%d|live", e, a, v.key(nil), tx)
	}
	return fmt.Sprintf("%s|%s|%x|%d|retracted@%d", e, a, v.key(nil), tx, retracted)
}

// model is a naive, in-memory reading of a log with the package's documented semantics.
type model struct {
	entries []*modelEntry
	live    map[string][]*modelEntry // e \x00 a → live assertions
	sch     *schema
}

type modelEntry struct {
	e, a      string
	v         Value
	tx        uint64
	live      bool
	retracted uint64
}

func newModel() *model {
	return &model{live: map[string][]*modelEntry{}, sch: newSchema()}
}

func (m *model) apply(tx Tx, n uint64) {
	// Schema datoms first, then the rest under the schema they leave.
	var touched []string
	for _, d := range tx.Datoms {
		if isSchemaAttr(d.A) {
			m.applyDatom(d, n)
			touched = append(touched, d.E)
		}
	}
	for _, e := range touched {
		str := func(a string) string {
			if cur := m.live[e+"\x00"+a]; len(cur) > 0 && cur[len(cur)-1].v.Kind == KindString {
				return cur[len(cur)-1].v.Str
			}
			return ""
		}
		m.sch = m.sch.clone()
		m.sch.set(e, schemaValues{str(AttrIdent), str(AttrValueType), str(AttrCardinality), str(AttrUnique), str(AttrDoc)})
	}
	for _, d := range tx.Datoms {
		if !isSchemaAttr(d.A) {
			m.applyDatom(d, n)
		}
	}
}

func (m *model) applyDatom(d Datom, n uint64) {
	at, _ := m.sch.attr(d.A)
	ea := d.E + "\x00" + d.A
	cur := m.live[ea]
	idx := slices.IndexFunc(cur, func(en *modelEntry) bool { return en.v.Equal(d.V) })
	switch {
	case d.Added && idx >= 0:
		// already live
	case d.Added:
		if at.Cardinality == CardinalityOne {
			for _, en := range cur {
				en.live, en.retracted = false, n
			}
			cur = nil
		}
		en := &modelEntry{e: d.E, a: d.A, v: d.V, tx: n, live: true}
		m.entries = append(m.entries, en)
		m.live[ea] = append(cur, en)
	case idx >= 0:
		cur[idx].live, cur[idx].retracted = false, n
		m.live[ea] = slices.Delete(slices.Clone(cur), idx, idx+1)
	}
}

func (m *model) lines(sub byte) []string {
	var out []string
	for _, en := range m.entries {
		if sub == subVAET && en.v.Kind != KindRef {
			continue
		}
		out = append(out, entryLine(en.e, en.a, en.v, en.tx, en.live, en.retracted))
	}
	sort.Strings(out)
	return out
}

// modelOfCore reads a core's log from block 0 to its contiguous length into a model.
func modelOfCore(t testing.TB, c *corestore.Core) *model {
	t.Helper()
	m := newModel()
	n := c.Contiguous()
	for i := uint64(0); i < n; i++ {
		b, err := c.Get(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := DecodeTxAt(b, i)
		if err != nil {
			continue
		}
		m.apply(tx, i)
	}
	return m
}

// checkAgainstModel compares all four indexes of a core with a naive scan of its log.
func checkAgainstModel(t testing.TB, db *DB, c *corestore.Core) {
	t.Helper()
	m := modelOfCore(t, c)
	got := dumpIndex(t, db, c.Key())
	for _, sub := range []byte{subEAVT, subAEVT, subAVET, subVAET} {
		want := m.lines(sub)
		if !slices.Equal(got[sub], want) {
			t.Fatalf("index %x differs from a naive scan of the log: got %d entries, want %d\n%s", sub, len(got[sub]), len(want), firstDiff(got[sub], want))
		}
	}
	// The current view, entity by entity.
	ents := map[string]bool{}
	for _, en := range m.entries {
		ents[en.e] = true
	}
	for e := range ents {
		p, err := db.Pull(context.Background(), c.Key(), e)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{}
		for _, en := range m.entries {
			if en.e == e && en.live {
				want[en.a] = append(want[en.a], en.v.String())
			}
		}
		gotm := map[string][]string{}
		for a, vs := range p.Attrs {
			for _, v := range vs {
				gotm[a] = append(gotm[a], v.String())
			}
		}
		for a := range want {
			sort.Strings(want[a])
			sort.Strings(gotm[a])
			if !slices.Equal(want[a], gotm[a]) {
				t.Fatalf("pull %s %s: got %v want %v", e, a, gotm[a], want[a])
			}
		}
		if len(gotm) != len(want) {
			t.Fatalf("pull %s: got %v want %v", e, gotm, want)
		}
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("first difference at %d:\n got  %s\n want %s", i, x, y)
		}
	}
	return ""
}
