package datom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
)

func TestPullLookupRef(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	loadContacts(t, db, key)
	transactJSON(t, db, key, `[{"db/ident":"contact/handle","db/unique":"value"},{"db/id":"contact/3","contact/handle":"chen"},
		{"db/ident":"contact/badge","db/valueType":"int64","db/unique":"identity"},{"db/id":"contact/4","contact/badge":7}]`)
	for _, tc := range []struct {
		name, ref string
		asOf      *uint64
		want      string // the entity, or "" with err
		err       error
	}{
		{"json", `["contact/email", "bob@example.com"]`, nil, "contact/2", nil},
		{"edn", `[:contact/email "alice@example.com"]`, nil, "contact/1", nil},
		{"spaces", `  [ "contact/email" , "chen@example.com" ] `, nil, "contact/3", nil},
		{"unique value", `["contact/handle", "chen"]`, nil, "contact/3", nil},
		{"converted to the type", `["contact/badge", 7.0]`, nil, "contact/4", nil},
		{"typed value", `["contact/badge", {"int64": 7}]`, nil, "contact/4", nil},
		{"as of before the handle", `["contact/handle", "chen"]`, ptr(uint64(3)), "", ErrNoEntity},
		{"as of", `["contact/email", "bob@example.com"]`, ptr(uint64(1)), "contact/2", nil},
		{"no match", `["contact/email", "wang@example.cn"]`, nil, "", ErrNoEntity},
		{"wrong type", `["contact/badge", "seven"]`, nil, "", ErrNoEntity},
		{"not unique", `["contact/name", "Bob"]`, nil, "", ErrNotUnique},
		{"no schema", `["note/free", "schema-less"]`, nil, "", ErrNotUnique},
		{"one item", `["contact/email"]`, nil, "", ErrBadLookupRef},
		{"three items", `["contact/email", "a", "b"]`, nil, "", ErrBadLookupRef},
		{"attribute not a string", `[1, "a"]`, nil, "", ErrBadLookupRef},
		{"attribute not namespaced", `["email", "a"]`, nil, "", ErrBadLookupRef},
		{"null value", `["contact/email", null]`, nil, "", ErrBadLookupRef},
		{"unclosed", `["contact/email", "a"`, nil, "", ErrBadLookupRef},
		{"not a vector", `[:contact/email "a"] x`, nil, "", ErrBadLookupRef},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []ReadOption
			if tc.asOf != nil {
				opts = append(opts, AsOf(*tc.asOf))
			}
			ent, err := db.Pull(ctx, key, tc.ref, opts...)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				checkErrorText(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ent.ID != tc.want || len(ent.Attrs) == 0 {
				t.Fatalf("pulled %+v, want %s", ent, tc.want)
			}
			direct, err := db.Pull(ctx, key, tc.want, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(ent.Attrs, direct.Attrs, valuesEqual) {
				t.Errorf("by lookup ref %v, by id %v", ent.Attrs, direct.Attrs)
			}
			ref, _, _ := ParseLookupRef(tc.ref)
			id, err := db.Lookup(ctx, key, ref, opts...)
			if err != nil || id != tc.want {
				t.Errorf("Lookup: %q, %v", id, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseLookupRefIsOnlyForBrackets(t *testing.T) {
	for _, s := range []string{"contact/1", "", " x[1]", "_:a"} {
		if _, ok, err := ParseLookupRef(s); ok || err != nil {
			t.Errorf("%q: ok %t, err %v", s, ok, err)
		}
	}
}

// TestEntities: iterating every entity gives what pulling each gives, in id order, now and as
// of a transaction; stopping early stops.
func TestEntities(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	loadContacts(t, db, key)
	c, _ := s.Get(ctx, key)
	for _, asOf := range []*uint64{nil, ptr(uint64(0)), ptr(uint64(1)), ptr(uint64(2))} {
		var opts []ReadOption
		if asOf != nil {
			opts = append(opts, AsOf(*asOf))
		}
		m := newModel()
		end := c.Length()
		if asOf != nil {
			end = *asOf + 1
		}
		for i := range end {
			b, _ := c.Get(ctx, i)
			tx, _ := DecodeTxAt(b, i)
			m.apply(tx, i)
		}
		want := map[string]map[string][]string{}
		for _, en := range m.entries {
			if en.live {
				if want[en.e] == nil {
					want[en.e] = map[string][]string{}
				}
				want[en.e][en.a] = append(want[en.e][en.a], en.v.String())
			}
		}
		var ids []string
		for ent, err := range db.Entities(ctx, key, opts...) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ent.ID)
			p, err := db.Pull(ctx, key, ent.ID, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(ent.Attrs, p.Attrs, valuesEqual) {
				t.Errorf("as of %v: entity %s: %v, pull %v", asOf, ent.ID, ent.Attrs, p.Attrs)
			}
			for a, vs := range ent.Attrs {
				got := make([]string, len(vs))
				for i, v := range vs {
					got[i] = v.String()
				}
				slices.Sort(got)
				w := want[ent.ID][a]
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Errorf("as of %v: %s %s = %v, the log says %v", asOf, ent.ID, a, got, w)
				}
			}
		}
		if !slices.IsSorted(ids) || len(ids) != len(want) {
			t.Errorf("as of %v: entities %v, want %d in order", asOf, ids, len(want))
		}
	}
	n := 0
	for range db.Entities(ctx, key) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("stopped at %d", n)
	}
	// A core that is not there is one error.
	var errs int
	for ent, err := range db.Entities(ctx, [32]byte{9}) {
		if err == nil || ent != nil {
			t.Fatalf("entity %v, err %v", ent, err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("%d errors", errs)
	}
}

// TestEntitiesSnapshot: a transaction during the iteration is not seen by it.
func TestEntitiesSnapshot(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	var ds []Datom
	for i := range 3000 {
		ds = append(ds, Add(fmt.Sprintf("p/%05d", i), "p/n", Int(int64(i))))
	}
	if _, err := db.Transact(ctx, key, ds[:2000]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Transact(ctx, key, ds[2000:]); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ent, err := range db.Entities(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		if n == 10 {
			if _, err := db.Transact(ctx, key, []Datom{Add("p/99999", "p/n", Int(1)), Retract("p/02999", "p/n", Int(2999))}); err != nil {
				t.Fatal(err)
			}
		}
		if ent.ID == "p/99999" {
			t.Fatal("saw an entity transacted after the iteration began")
		}
		n++
	}
	if n != 3000 {
		t.Fatalf("%d entities, want 3000", n)
	}
}

// TestEntityMapsRebuildACore: the maps of every entity, transacted into a new core in one
// transaction, give the same entities: a dump can be loaded back.
func TestEntityMapsRebuildACore(t *testing.T) {
	ctx := context.Background()
	db, s, key := newDB(t)
	loadContacts(t, db, key)
	sch, err := db.Schema(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var maps_ []map[string]any
	var before []string
	for ent, err := range db.Entities(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		maps_ = append(maps_, ent.Map(sch))
		b, _ := json.Marshal(ent.Attrs)
		before = append(before, ent.ID+" "+string(b))
	}
	// Cardinality many is always an array; one value of cardinality one is bare.
	for _, m := range maps_ {
		if m["db/id"] == "contact/3" {
			if _, ok := m["contact/tag"].([]Value); !ok {
				t.Errorf("contact/3's tag is %v, want an array", m["contact/tag"])
			}
			if v, ok := m["contact/name"].(Value); !ok || v.Str != "Chen" {
				t.Errorf("contact/3's name is %v", m["contact/name"])
			}
		}
	}
	tx, err := json.Marshal(maps_)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.Create(ctx, "copy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransactJSON(ctx, c2.Key(), tx); err != nil {
		t.Fatalf("transact the dump: %v\n%s", err, tx)
	}
	var after []string
	for ent, err := range db.Entities(ctx, c2.Key()) {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ent.Attrs)
		after = append(after, ent.ID+" "+string(b))
	}
	if !slices.Equal(before, after) {
		t.Errorf("the copy differs: %s", firstDiff(after, before))
	}
	sch2, _ := db.Schema(ctx, c2.Key())
	for a, at := range sch {
		at2 := sch2[a]
		if at.Type != at2.Type || at.Cardinality != at2.Cardinality || at.Unique != at2.Unique {
			t.Errorf("schema of %s: %+v, copy %+v", a, at, at2)
		}
	}
}

func valuesEqual(a, b []Value) bool { return slices.EqualFunc(a, b, Value.Equal) }
