package asset

import (
	"errors"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

func mustQuery(t *testing.T, s string) *datom.Query {
	t.Helper()
	q, err := datom.ParseQuery([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestRestrict(t *testing.T) {
	core := corestore.Key{1}
	compute := &Asset{Name: "stats", Level: Compute, Members: []Member{{Core: core}},
		Queries: []string{`[:find ?n :in {?city ["x"]} :where [?e :person/city ?city] [?e :person/name ?n]]`}}
	if _, err := Restrict(compute, core, mustQuery(t, `[:find ?n :where [?e :person/city ?city] [?e :person/name ?n]]`)); err != nil {
		t.Fatalf("an allowed query with other bindings: %v", err)
	}
	if _, err := Restrict(compute, core, mustQuery(t, `[:find ?n ?m :where [?e :person/name ?n] [?e :person/email ?m]]`)); !errors.Is(err, ErrQueryNotAllowed) {
		t.Fatalf("a query outside the allowed set: %v", err)
	}
	if _, err := Restrict(compute, corestore.Key{2}, mustQuery(t, `[:find ?n :where [?e :person/city ?city] [?e :person/name ?n]]`)); !errors.Is(err, ErrQueryNotAllowed) {
		t.Fatalf("another core: %v", err)
	}
	attrs := &Asset{Name: "emails", Level: Granted, Members: []Member{{Core: core, Attrs: []string{"person/email"}, Prefix: "person/"}}}
	q, err := Restrict(attrs, core, mustQuery(t, `[:find ?m :where [_ :person/email ?m]]`))
	if err != nil {
		t.Fatal(err)
	}
	if s := q.String(); !strings.Contains(s, `(prefix ?__e0 "person/")`) || !strings.Contains(s, core.String()) {
		t.Fatalf("rewritten: %s", s)
	}
	for _, bad := range []string{
		`[:find ?n :where [?e :person/name ?n]]`,
		`[:find ?a ?v :where [?e ?a ?v]]`,
		`[:find ?m :where ["robot/1" :person/email ?m]]`,
	} {
		if _, err := Restrict(attrs, core, mustQuery(t, bad)); !errors.Is(err, ErrQueryNotAllowed) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestQueryResultRoundTrip(t *testing.T) {
	r := &datom.Result{Columns: []string{"?n", "?t"}, Rows: []datom.Row{{Values: []datom.Value{datom.String("x"), datom.Int(3)}}}}
	b, err := EncodeQueryResult(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeQueryResult(b)
	if err != nil || len(back.Rows) != 1 || !back.Rows[0][1].Equal(datom.Int(3)) {
		t.Fatalf("%+v %v", back, err)
	}
	if _, err := DecodeQueryResult([]byte(`{"columns":["a"],"rows":[[1,2]]}`)); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a row of the wrong width: %v", err)
	}
}
