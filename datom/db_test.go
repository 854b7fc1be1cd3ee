package datom

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

type contactsFixture struct {
	Transactions []json.RawMessage `json:"transactions"`
	Queries      []struct {
		Name  string          `json:"name"`
		Query json.RawMessage `json:"query"`
		EDN   string          `json:"edn"` // the same query in EDN
		Want  []string        `json:"want"`
		Note  string          `json:"note"`
	} `json:"queries"`
	Rejections []struct {
		Name     string          `json:"name"`
		Tx       json.RawMessage `json:"tx"`
		Err      string          `json:"err"`
		Sentinel string          `json:"sentinel"`
	} `json:"rejections"`
	BadTxJSON []struct {
		JSON string `json:"json"`
		Err  string `json:"err"`
		Kind string `json:"kind"` // json: malformed JSON; rejected: JSON that is not a transaction
	} `json:"badTxJSON"`
}

func loadContacts(t testing.TB, db *DB, key [32]byte) contactsFixture {
	t.Helper()
	var fx contactsFixture
	readFixture(t, "contacts.json", &fx)
	for _, tx := range fx.Transactions {
		transactJSON(t, db, key, string(tx))
	}
	return fx
}

// runQueries runs the fixture's queries, in JSON and in EDN.
func runQueries(t *testing.T, db *DB, fx contactsFixture) {
	t.Helper()
	for _, tc := range fx.Queries {
		for _, form := range []struct {
			name string
			text []byte
		}{{"json", tc.Query}, {"edn", []byte(tc.EDN)}} {
			if len(form.text) == 0 {
				continue
			}
			t.Run(tc.Name+"/"+form.name, func(t *testing.T) {
				res, err := db.QueryJSON(context.Background(), form.text)
				if err != nil {
					t.Fatal(err)
				}
				if got := rowsText(res.Rows); !slices.Equal(got, tc.Want) {
					t.Errorf("rows %q, want %q (notes %q)", got, tc.Want, res.Notes)
				}
				if tc.Note != "" && !strings.Contains(strings.Join(res.Notes, "\n"), tc.Note) {
					t.Errorf("notes %q do not mention %q", res.Notes, tc.Note)
				}
			})
		}
	}
}

func TestQueries(t *testing.T) {
	db, _, key := newDB(t)
	fx := loadContacts(t, db, key)
	runQueries(t, db, fx)
}

func TestRejectedTransactionsAppendNothing(t *testing.T) {
	db, s, key := newDB(t)
	fx := loadContacts(t, db, key)
	core, _ := s.Get(context.Background(), key)
	for _, tc := range fx.Rejections {
		t.Run(tc.Name, func(t *testing.T) {
			before := core.Length()
			ds, err := ParseTxJSON(tc.Tx)
			if err == nil {
				_, err = db.Transact(context.Background(), key, ds)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.Err) {
				t.Errorf("error %q does not mention %q", err, tc.Err)
			}
			if !errors.Is(err, ErrRejected) || errors.Is(err, ErrBadJSON) {
				t.Errorf("error %v is not ErrRejected alone", err)
			}
			if got := errors.Is(err, ErrNothingToRetract); got != (tc.Sentinel == "retract") {
				t.Errorf("errors.Is(%v, ErrNothingToRetract) = %t", err, got)
			}
			if core.Length() != before {
				t.Errorf("core grew from %d to %d", before, core.Length())
			}
		})
	}
}

func TestParseTxJSONErrors(t *testing.T) {
	var fx contactsFixture
	readFixture(t, "contacts.json", &fx)
	for _, tc := range fx.BadTxJSON {
		t.Run(tc.JSON, func(t *testing.T) {
			_, err := ParseTxJSON([]byte(tc.JSON))
			if err == nil || !strings.Contains(err.Error(), tc.Err) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.Err)
			}
			if json, rejected := errors.Is(err, ErrBadJSON), errors.Is(err, ErrRejected); json != (tc.Kind == "json") || rejected != (tc.Kind == "rejected") {
				t.Errorf("error %v: ErrBadJSON %t, ErrRejected %t; want %s", err, json, rejected, tc.Kind)
			}
			if strings.Contains(err.Error(), "malformed JSON") != (tc.Kind == "json") {
				t.Errorf("error %q: says malformed JSON: %t, want %t", err, !(tc.Kind == "json"), tc.Kind == "json")
			}
		})
	}
}

func TestPullHistoryAsOf(t *testing.T) {
	db, _, key := newDB(t)
	loadContacts(t, db, key)
	ctx := context.Background()
	bob, err := db.Pull(ctx, key, "contact/2")
	if err != nil {
		t.Fatal(err)
	}
	if got := bob.Attrs["contact/city"]; len(got) != 1 || got[0].Str != "Paris" {
		t.Errorf("bob's city %v", got)
	}
	if got := bob.Attrs["contact/age"]; len(got) != 1 || got[0].Int != 26 {
		t.Errorf("bob's age %v", got)
	}
	old, err := db.Pull(ctx, key, "contact/2", AsOf(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := old.Attrs["contact/city"]; len(got) != 1 || got[0].Str != "Beijing" {
		t.Errorf("bob's city as of 1: %v", got)
	}
	none, err := db.Pull(ctx, key, "contact/2", AsOf(0))
	if err != nil || len(none.Attrs) != 0 {
		t.Errorf("bob as of 0: %v %v", none, err)
	}
	h, err := db.History(ctx, key, "contact/2", "contact/city")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range h {
		got = append(got, d.String())
	}
	want := []string{`[contact/2 contact/city "Beijing" 1 true]`, `[contact/2 contact/city "Beijing" 2 false]`, `[contact/2 contact/city "Paris" 2 true]`}
	if !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
	ah, err := db.History(ctx, key, "", "contact/tag")
	if err != nil || len(ah) != 4 {
		t.Errorf("attribute history %v %v", ah, err)
	}
	sch, err := db.Schema(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if at := sch["contact/email"]; at.Type != KindString || at.Unique != UniqueIdentity || at.Doc != "email address" {
		t.Errorf("schema of contact/email: %+v", at)
	}
	if at := sch["contact/tag"]; at.Cardinality != CardinalityMany {
		t.Errorf("schema of contact/tag: %+v", at)
	}
}

func TestSchemaSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openStore(t, dir)
	c, _ := s.Create(ctx, "main")
	db := openDB(t, s)
	fx := loadContacts(t, db, c.Key())
	s.Close()
	s2 := openStore(t, dir)
	db2 := openDB(t, s2)
	runQueries(t, db2, fx)
	// Schema from the indexes still validates: a wrong type is rejected.
	ds, _ := ParseTxJSON([]byte(`[{"db/id":"contact/1","contact/age":"x"}]`))
	if _, err := db2.Transact(ctx, c.Key(), ds); !errors.Is(err, ErrRejected) {
		t.Fatalf("after reopen, wrong type: %v", err)
	}
}

func TestRawCore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	raw, _ := s.Create(ctx, "raw")
	if _, err := raw.Append(ctx, []byte("hello"), []byte("world")); err != nil {
		t.Fatal(err)
	}
	main, _ := s.Create(ctx, "main")
	db := openDB(t, s)
	transactJSON(t, db, main.Key(), `[{"db/id":"a/1","a/name":"x"}]`)
	info, err := db.CoreInfo(ctx, raw.Key())
	if err != nil || !info.Raw || info.Datom {
		t.Fatalf("raw core info %+v %v", info, err)
	}
	if _, err := db.Transact(ctx, raw.Key(), []Datom{{E: "a/1", A: "a/b", V: Int(1), Added: true}}); !errors.Is(err, ErrRawCore) {
		t.Fatalf("transact on raw core: %v", err)
	}
	res, err := db.QueryJSON(ctx, []byte(`{"find":["?v"],"where":[["?e","a/name","?v"]]}`))
	if err != nil || len(res.Rows) != 1 || res.Rows[0].Core != main.Key() {
		t.Fatalf("query over all cores: %+v %v", res, err)
	}
	q := `{"find":["?v"],"where":[["?e","a/name","?v"]],"cores":["` + raw.Key().String() + `"]}`
	res, err = db.QueryJSON(ctx, []byte(q))
	if err != nil || len(res.Rows) != 0 || !strings.Contains(strings.Join(res.Notes, " "), "does not hold datom") {
		t.Fatalf("query of the raw core: %+v %v", res, err)
	}
	if IsTxBlock([]byte("hello")) {
		t.Fatal("raw block recognised as a transaction")
	}
}

func TestMultiCoreQuery(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	a, _ := s.Create(ctx, "a")
	b, _ := s.Create(ctx, "b")
	db := openDB(t, s)
	transactJSON(t, db, a.Key(), `[{"db/id":"p/1","p/name":"Ann"}]`)
	transactJSON(t, db, b.Key(), `[{"db/id":"p/1","p/name":"Ben"}]`)
	res, err := db.QueryJSON(ctx, []byte(`{"find":["?n"],"where":[["?e","p/name","?n"]]}`))
	if err != nil || len(res.Rows) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, r := range res.Rows {
		want := map[string][32]byte{"Ann": a.Key(), "Ben": b.Key()}[r.Values[0].Str]
		if r.Core != want {
			t.Errorf("row %v from core %s", r.Values, r.Core)
		}
	}
}

// TestCloseStopsFollow: Close stops Follow, even one started with a context that is never
// cancelled, and waits for it; Follow after Close refuses to start.
func TestCloseStopsFollow(t *testing.T) {
	db, _, _ := newDB(t)
	done := make(chan error, 1)
	go func() { done <- db.Follow(context.Background()) }()
	time.Sleep(20 * time.Millisecond) // let it start
	closed := make(chan struct{})
	go func() { db.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while Follow ran")
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Close returned before Follow did")
	}
	if err := db.Follow(context.Background()); !errors.Is(err, corestore.ErrClosed) {
		t.Fatalf("Follow after Close: %v, want ErrClosed", err)
	}
}
