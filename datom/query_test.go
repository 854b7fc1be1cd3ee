package datom

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestEDNMatchesJSON: the EDN form of every fixture query parses to the same query as its JSON
// form.
func TestEDNMatchesJSON(t *testing.T) {
	var fx contactsFixture
	readFixture(t, "contacts.json", &fx)
	for _, tc := range fx.Queries {
		if tc.EDN == "" {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			jq, err := ParseQuery(tc.Query)
			if err != nil {
				t.Fatal(err)
			}
			eq, err := ParseQueryEDN([]byte(tc.EDN))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(jq, eq) {
				t.Errorf("EDN parses to\n%+v\nJSON to\n%+v", eq, jq)
			}
			// The query renders as EDN that reads back the same.
			if back, err := ParseQueryEDN([]byte(jq.String())); err != nil || !reflect.DeepEqual(back, jq) {
				t.Errorf("%s reads back as %+v, %v", jq, back, err)
			}
			// ParseQuery tells the forms apart, and reads EDN carried in a JSON string.
			for _, text := range []string{tc.EDN, jsonQuote(tc.EDN)} {
				q, err := ParseQuery([]byte(text))
				if err != nil || !reflect.DeepEqual(q, jq) {
					t.Errorf("ParseQuery(%s) = %+v, %v", text, q, err)
				}
			}
		})
	}
}

func jsonQuote(s string) string { return Term{Value: String(s)}.jsonString() }

func TestPredicateForms(t *testing.T) {
	want, err := ParseQuery([]byte(`{"find":["?a"],"where":[["?e","p/age","?a"],{"pred":">","args":["?a",30]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`{"find":["?a"],"where":[["?e","p/age","?a"],[[">","?a",30]]]}`,
		`[:find ?a :where [?e :p/age ?a] [(> ?a 30)]]`,
		`[:find ?a :where [$ ?e :p/age ?a] [(> ?a 30)]]`,
		`{:find [?a], :where [[?e "p/age" ?a], [(> ?a 30)]]}`,
	} {
		got, err := ParseQuery([]byte(q))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s parses to %+v, %v; want %+v", q, got, err, want)
		}
	}
	for alias, op := range map[string]string{"not=": "!=", "starts-with?": "prefix", "clojure.string/starts-with?": "prefix", "<=": "<="} {
		q, err := ParseQuery([]byte(`[:find ?a :where [?e :p/n ?a] [(` + alias + ` ?a "x")]]`))
		if err != nil || q.Where[1].Pred != op {
			t.Errorf("%s: %+v, %v; want predicate %s", alias, q, err, op)
		}
	}
}

func TestBadQueries(t *testing.T) {
	var cases []struct {
		Q    string `json:"q"`
		Kind string `json:"kind"`
		Err  string `json:"err"`
	}
	readFixture(t, "bad_queries.json", &cases)
	for _, tc := range cases {
		t.Run(tc.Q, func(t *testing.T) {
			_, err := ParseQuery([]byte(tc.Q))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.Err) {
				t.Errorf("error %q does not say %q", err, tc.Err)
			}
			isJSON, isQuery := errors.Is(err, ErrBadJSON), errors.Is(err, ErrBadQuery)
			if isJSON != (tc.Kind == "json") || isQuery != (tc.Kind == "query") {
				t.Errorf("error %q: ErrBadJSON %t, ErrBadQuery %t; want %s", err, isJSON, isQuery, tc.Kind)
			}
			if strings.Contains(err.Error(), "malformed JSON") != isJSON {
				t.Errorf("error %q: only malformed JSON may say so", err)
			}
			checkErrorText(t, err)
		})
	}
}

// TestQueryOfGoValuesIsChecked: a Query built in Go is checked as a parsed one is, so that a
// malformed one is an error, not a panic.
func TestQueryOfGoValuesIsChecked(t *testing.T) {
	db, _, key := newDB(t)
	loadContacts(t, db, key)
	v := func(s string) Term { return Term{Var: s} }
	for _, q := range []*Query{
		{Find: []string{"?e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: String("contact/name")}}}}},
		{Find: []string{"?e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: String("contact/name")}, v("?n")}}, {Pred: "~", Args: []Term{v("?n"), v("?n")}}}},
		{Find: []string{"?e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: String("contact/name")}, v("?n")}}, {Pred: "<", Args: []Term{v("?n")}}}},
		{Find: []string{"?e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: Int(3)}, v("?n")}}}},
		{Find: []string{"e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: String("contact/name")}, v("?n")}}}},
		{Find: []string{"?e"}, Where: []Clause{{Terms: []Term{v("?e"), {Value: String("contact/name")}, v("?n")}, Pred: "<"}}},
	} {
		if _, err := db.Query(context.Background(), q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", q, err)
		}
	}
	// An entity constant may be a string or a ref.
	for _, e := range []Value{String("contact/1"), Ref("contact/1")} {
		res, err := db.Query(context.Background(), &Query{Find: []string{"?n"}, Where: []Clause{{Terms: []Term{{Value: e}, {Value: String("contact/name")}, v("?n")}}}})
		if err != nil || len(res.Rows) != 1 {
			t.Errorf("entity %s: %v, %v", e, res, err)
		}
	}
}
