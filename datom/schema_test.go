package datom

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseKindNames(t *testing.T) {
	for _, tc := range []struct {
		names []string
		kind  Kind
	}{
		{[]string{"string", "db.type/string", ":db.type/string"}, KindString},
		{[]string{"int64", "int", "db.type/long", ":db.type/long"}, KindInt},
		{[]string{"float64", "float", "db.type/double", ":db.type/double"}, KindFloat},
		{[]string{"bool", "db.type/boolean"}, KindBool},
		{[]string{"bytes", "db.type/bytes"}, KindBytes},
		{[]string{"time", "db.type/instant"}, KindTime},
		{[]string{"ref", "db.type/ref"}, KindRef},
		{[]string{"core-ref", "coreref"}, KindCoreRef},
	} {
		for _, n := range tc.names {
			k, err := ParseKind(n)
			if err != nil || k != tc.kind {
				t.Errorf("ParseKind(%q) = %v, %v; want %v", n, k, err, tc.kind)
			}
		}
		if got := tc.kind.String(); got != tc.names[0] {
			t.Errorf("%d.String() = %q, want %q", tc.kind, got, tc.names[0])
		}
	}
	for _, n := range []string{"", "integer", "long", "db.type/uuid", "db.type/keyword", "INT64", "db.type/"} {
		if _, err := ParseKind(n); !errors.Is(err, ErrUnknownType) {
			t.Errorf("ParseKind(%q): %v, want ErrUnknownType", n, err)
		}
	}
}

// schemaOf returns the schema of key, failing the test on error.
func schemaOf(t *testing.T, db *DB, key [32]byte) map[string]Attribute {
	t.Helper()
	sch, err := db.Schema(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestSchemaSpellings: every spelling of a type, cardinality and uniqueness installs the same
// schema, and Transact stores the canonical names.
func TestSchemaSpellings(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, typ, card, unique string
		want                    Attribute
		stored                  [3]string
	}{
		{"canonical", "int64", "many", "value", Attribute{Type: KindInt, Cardinality: CardinalityMany, Unique: UniqueValue}, [3]string{"int64", "many", "value"}},
		{"old names", "int", "one", "identity", Attribute{Type: KindInt, Unique: UniqueIdentity}, [3]string{"int64", "one", "identity"}},
		{"datomic", "db.type/long", "db.cardinality/many", "db.unique/identity", Attribute{Type: KindInt, Cardinality: CardinalityMany, Unique: UniqueIdentity}, [3]string{"int64", "many", "identity"}},
		{"datomic keywords", ":db.type/double", ":db.cardinality/one", ":db.unique/value", Attribute{Type: KindFloat, Unique: UniqueValue}, [3]string{"float64", "one", "value"}},
		{"datomic instant", "db.type/instant", "db.cardinality/one", "", Attribute{Type: KindTime}, [3]string{"time", "one", ""}},
		{"old coreref", "coreref", "", "", Attribute{Type: KindCoreRef}, [3]string{"core-ref", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _, key := newDB(t)
			ds := []Datom{Add("s/x", AttrIdent, String("x/a")), Add("s/x", AttrValueType, String(tc.typ))}
			if tc.card != "" {
				ds = append(ds, Add("s/x", AttrCardinality, String(tc.card)))
			}
			if tc.unique != "" {
				ds = append(ds, Add("s/x", AttrUnique, String(tc.unique)))
			}
			if _, err := db.Transact(ctx, key, ds); err != nil {
				t.Fatal(err)
			}
			at := schemaOf(t, db, key)["x/a"]
			if at.Type != tc.want.Type || at.Cardinality != tc.want.Cardinality || at.Unique != tc.want.Unique {
				t.Errorf("schema %+v, want %+v", at, tc.want)
			}
			ent, err := db.Pull(ctx, key, "s/x")
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range []string{AttrValueType, AttrCardinality, AttrUnique} {
				var got string
				if vs := ent.Attrs[a]; len(vs) == 1 {
					got = vs[0].Str
				}
				if got != tc.stored[i] {
					t.Errorf("%s stored as %q, want %q", a, got, tc.stored[i])
				}
			}
		})
	}
}

// TestOldSpellingsInALog: a log whose schema says int, float and coreref, as earlier versions
// wrote, reads as int64, float64 and core-ref; retracting a type by its new name retracts the
// old spelling.
func TestOldSpellingsInALog(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	c, _ := s.Get(ctx, key)
	block, err := EncodeTx(Tx{Time: time.UnixMilli(1), Datoms: []Datom{
		Add("s/age", AttrIdent, String("p/age")), Add("s/age", AttrValueType, String("int")),
		Add("s/score", AttrIdent, String("p/score")), Add("s/score", AttrValueType, String("float")),
		Add("s/peer", AttrIdent, String("p/peer")), Add("s/peer", AttrValueType, String("coreref")),
		Add("s/tag", AttrIdent, String("p/tag")), Add("s/tag", AttrCardinality, String("db.cardinality/many")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, block); err != nil {
		t.Fatal(err)
	}
	if err := db.CatchUpCore(ctx, key); err != nil {
		t.Fatal(err)
	}
	sch := schemaOf(t, db, key)
	if sch["p/age"].Type != KindInt || sch["p/score"].Type != KindFloat || sch["p/peer"].Type != KindCoreRef || sch["p/tag"].Cardinality != CardinalityMany {
		t.Fatalf("schema %+v", sch)
	}
	// The attribute still coerces: 2 is a float64 for p/score.
	rep := transactJSON(t, db, key, `[{"db/id":"p/1","p/score":2,"p/age":3.0,"p/tag":["a","b"]}]`)
	for _, d := range rep.Datoms {
		if d.A == "p/score" && d.V.Kind != KindFloat || d.A == "p/age" && d.V.Kind != KindInt {
			t.Errorf("datom %s was not converted to its attribute's type", d)
		}
	}
	// p/peer has no values: its type may be dropped, by its new name.
	if _, err := db.Transact(ctx, key, []Datom{Retract("s/peer", AttrValueType, String("core-ref"))}); err != nil {
		t.Fatal(err)
	}
	if at := schemaOf(t, db, key)["p/peer"]; at.Type != 0 {
		t.Errorf("p/peer still has type %s", at.Type)
	}
	checkAgainstModel(t, db, c)
}

// TestSchemaAndUseInOneTransaction: a transaction may install attributes and use them; the
// values are checked and indexed under the new schema.
func TestSchemaAndUseInOneTransaction(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		tx    string
		query string
		want  []string
	}{
		{"int64 value",
			`[{"db/ident":"x/n","db/valueType":"int64"},{"db/id":"c/1","x/n":1.0}]`,
			`[:find ?n :where [_ :x/n ?n]]`, []string{"1"}},
		{"cardinality many, values first",
			`[{"e":"c/1","a":"x/tag","v":"a"},{"e":"c/1","a":"x/tag","v":"b"},{"db/ident":"x/tag","db/cardinality":"db.cardinality/many"}]`,
			`[:find ?t :where ["c/1" :x/tag ?t]]`, []string{`"a"`, `"b"`}},
		{"entity map array",
			`[{"db/ident":"x/tag","db/valueType":"db.type/string","db/cardinality":"many"},{"db/id":"c/1","x/tag":["a","b","c"]}]`,
			`[:find ?t :where ["c/1" :x/tag ?t]]`, []string{`"a"`, `"b"`, `"c"`}},
		{"ref conversion",
			`[{"db/ident":"x/friend","db/valueType":"ref"},{"db/id":"c/1","x/friend":"c/2"},{"db/id":"c/2","x/name":"Bo"}]`,
			`[:find ?n :where ["c/1" :x/friend ?f] [?f :x/name ?n]]`, []string{`"Bo"`}},
		{"time conversion",
			`[{"db/ident":"x/born","db/valueType":"db.type/instant"},{"db/id":"c/1","x/born":"2001-02-03T04:05:06Z"}]`,
			`[:find ?e :where [?e :x/born #inst "2001-02-03T04:05:06Z"]]`, []string{"c/1"}},
		{"unique identity",
			`[{"db/ident":"x/email","db/valueType":"string","db/unique":"db.unique/identity"},{"db/id":"c/1","x/email":"a@b"}]`,
			`[:find ?e :where [?e :x/email "a@b"]]`, []string{"c/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, s, key := newDB(t)
			transactJSON(t, db, key, tc.tx)
			q, err := ParseQuery([]byte(tc.query))
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsText(res.Rows); !slices.Equal(got, tc.want) {
				t.Errorf("rows %q, want %q", got, tc.want)
			}
			c, _ := s.Get(ctx, key)
			checkAgainstModel(t, db, c)
			// A reopened database reads the same from the log.
			db2 := openDB(t, s)
			res2, err := db2.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsText(res2.Rows); !slices.Equal(got, tc.want) {
				t.Errorf("after reopening: rows %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUniqueInstalledAndUsedRefusesASecondOwner: a unique attribute installed in a
// transaction is enforced from that transaction on.
func TestUniqueInstalledAndUsedRefusesASecondOwner(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	transactJSON(t, db, key, `[{"db/ident":"x/email","db/unique":"value"},{"db/id":"c/1","x/email":"a@b"}]`)
	_, err := db.TransactJSON(ctx, key, []byte(`[{"db/id":"c/2","x/email":"a@b"}]`))
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "already belongs to entity c/1") {
		t.Errorf("second owner: %v", err)
	}
}

func TestAddRetractConstructors(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	if d := Add("c/1", "p/name", String("Ann")); !d.Added || d.E != "c/1" || d.A != "p/name" || d.V.Str != "Ann" {
		t.Fatalf("Add gave %s", d)
	}
	if d := Retract("c/1", "p/name", String("Ann")); d.Added {
		t.Fatalf("Retract gave %s", d)
	}
	if _, err := db.Transact(ctx, key, []Datom{Add("c/1", "p/name", String("Ann")), Add("c/1", "p/city", String("Oslo"))}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Get(ctx, key)
	before := c.Length()
	for _, tc := range []struct {
		name string
		d    Datom
	}{
		{"another value", Retract("c/1", "p/name", String("Bob"))},
		{"another kind", Retract("c/1", "p/name", Int(1))},
		{"another entity", Retract("c/2", "p/name", String("Ann"))},
		{"a literal without Added", Datom{E: "c/1", A: "p/city", V: String("Paris")}},
	} {
		_, err := db.Transact(ctx, key, []Datom{tc.d})
		if !errors.Is(err, ErrNothingToRetract) || !errors.Is(err, ErrRejected) {
			t.Errorf("%s: %v, want ErrNothingToRetract", tc.name, err)
		}
	}
	if c.Length() != before {
		t.Fatalf("refused retractions appended: length %d, was %d", c.Length(), before)
	}
	if _, err := db.Transact(ctx, key, []Datom{Retract("c/1", "p/name", String("Ann"))}); err != nil {
		t.Fatal(err)
	}
	// Retracted now: a second retraction has nothing to retract.
	if _, err := db.Transact(ctx, key, []Datom{Retract("c/1", "p/name", String("Ann"))}); !errors.Is(err, ErrNothingToRetract) {
		t.Errorf("second retraction: %v", err)
	}
	// Replacing a cardinality-one value and retracting the old one in one transaction is fine.
	if _, err := db.Transact(ctx, key, []Datom{Add("c/1", "p/city", String("Rome")), Retract("c/1", "p/city", String("Oslo"))}); err != nil {
		t.Errorf("replace and retract: %v", err)
	}
	checkAgainstModel(t, db, c)
}

// TestRetractionSeesThePipeline: the check that a retracted value is there sees transactions
// whose index commits are still in flight.
func TestRetractionSeesThePipeline(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	for i := range 200 {
		e := "c/" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if _, err := db.Transact(ctx, key, []Datom{Add(e, "p/n", Int(int64(i)))}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Transact(ctx, key, []Datom{Retract(e, "p/n", Int(int64(i)))}); err != nil {
			t.Fatalf("retract right after the assertion: %v", err)
		}
	}
}

// TestRejectedTransactionLeavesNothing: a refused transaction appends nothing and changes no
// index key, and the next transaction goes through.
func TestRejectedTransactionLeavesNothing(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	fx := loadContacts(t, db, key)
	c, _ := s.Get(ctx, key)
	before := dumpIndex(t, db, key)
	schema := schemaOf(t, db, key)
	length := c.Length()
	for _, r := range fx.Rejections {
		ds, err := ParseTxJSON(r.Tx)
		if err != nil {
			continue
		}
		if _, err := db.Transact(ctx, key, ds); err == nil {
			t.Fatalf("%s: accepted", r.Name)
		}
	}
	if c.Length() != length {
		t.Fatalf("length %d, was %d", c.Length(), length)
	}
	after := dumpIndex(t, db, key)
	for sub, lines := range before {
		if !slices.Equal(lines, after[sub]) {
			t.Fatalf("index %x changed: %s", sub, firstDiff(after[sub], lines))
		}
	}
	if got := schemaOf(t, db, key); len(got) != len(schema) {
		t.Fatalf("schema changed: %v, was %v", got, schema)
	}
	transactJSON(t, db, key, `[{"db/id":"contact/1","contact/city":"Oslo"}]`)
	checkAgainstModel(t, db, c)
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	loadContacts(t, db, key)
	c, _ := s.Get(ctx, key)
	length := c.Length()
	ds, _ := ParseTxJSON([]byte(`[{"contact/email":"bob@example.com","contact/age":27},{"db/ident":"x/n","db/valueType":"int64"},{"db/id":"_:n","x/n":1}]`))
	rep, err := db.Validate(ctx, key, ds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Length() != length {
		t.Fatal("Validate appended")
	}
	if rep.Tx != length || rep.TempIDs["_:item0"] != "contact/2" || rep.Datoms[0].E != "contact/2" {
		t.Errorf("report %+v", rep)
	}
	got, err := db.Transact(ctx, key, ds)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tx != rep.Tx || !slices.EqualFunc(got.Datoms, rep.Datoms, func(a, b Datom) bool { return a.String() == b.String() }) {
		t.Errorf("Transact gave %v, Validate %v", got.Datoms, rep.Datoms)
	}
	bad, _ := ParseTxJSON([]byte(`[{"db/id":"contact/1","contact/age":"old"}]`))
	if _, err := db.Validate(ctx, key, bad); !errors.Is(err, ErrRejected) {
		t.Errorf("Validate of a bad transaction: %v", err)
	}
}

func TestValidateNew(t *testing.T) {
	for _, tc := range []struct {
		name, tx string
		err      string // "" for valid
	}{
		{"data", `[{"db/id":"c/1","p/name":"Ann"}]`, ""},
		{"schema and use", `[{"db/ident":"p/age","db/valueType":"db.type/long"},{"db/id":"c/1","p/age":3}]`, ""},
		{"schema and wrong use", `[{"db/ident":"p/age","db/valueType":"int64"},{"db/id":"c/1","p/age":"three"}]`, "the attribute's type is int64"},
		{"cardinality one twice", `[{"e":"c/1","a":"p/x","v":1},{"e":"c/1","a":"p/x","v":2}]`, "cardinality-one"},
		{"retraction", `[{"e":"c/1","a":"p/x","v":1,"op":"retract"}]`, "retraction of a value that is not there"},
		{"bad type", `[{"db/ident":"p/age","db/valueType":"number"}]`, "unknown value type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := ParseTxJSON([]byte(tc.tx))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ValidateNew(ds)
			if tc.err == "" {
				if err != nil || len(rep.Datoms) != len(ds) {
					t.Fatalf("%v, %+v", err, rep)
				}
				// What ValidateNew accepts, the first transaction of a new core accepts.
				db, _, key := newDB(t)
				if _, err := db.Transact(context.Background(), key, ds); err != nil {
					t.Fatalf("ValidateNew accepted what Transact refuses: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want ErrRejected mentioning %q", err, tc.err)
			}
		})
	}
}
