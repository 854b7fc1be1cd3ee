package datom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/corestore"
)

// Query is a parsed Datalog query. Its JSON form, read by ParseQuery, is
//
//	{
//	  "find":  ["?e", "?name"],
//	  "where": [["?e", "contact/name", "?name"],
//	            ["?e", "contact/city", "?city"],
//	            ["?e", "contact/age", "?age", "?tx"],
//	            [["<", "?age", 30]]],
//	  "in":    {"?city": ["Beijing", "Paris"]},
//	  "as-of": 42,
//	  "cores": ["<core key>", ...]
//	}
//
// and its EDN form, read by ParseQueryEDN, the same query in Datomic's notation:
//
//	[:find ?e ?name
//	 :in {?city ["Beijing" "Paris"]}
//	 :where [?e :contact/name ?name] [?e :contact/city ?city] [?e :contact/age ?age ?tx]
//	        [(< ?age 30)]
//	 :as-of 42]
//
// A data clause is [e, a, v] or [e, a, v, tx]. A term is a variable ("?name"), the wildcard "_",
// or a constant: in e an entity id, in a an attribute, in v a value as ParseValueJSON reads it (a
// string that starts with ? is written {"string":"?..."}), in tx a transaction number.
// Clauses join on shared variables. A predicate clause filters rows: [[op, x, y]], the JSON
// for Datomic's [(op x y)], or the object {"pred": op, "args": [x, y]}; op is one of = != < <= >
// >= prefix (not= stands for !=, starts-with? for prefix), and its arguments are variables or
// constants. Values of different kinds are unequal and unordered, except that int64s and
// float64s compare as numbers; prefix holds for strings, refs and bytes.
//
// "in" binds variables before the clauses run: a value binds one, an array binds each of its
// elements in turn. "as-of" reads every core as it was right after that transaction (a tx number
// is per core). "cores" limits the query to those cores; without it the query runs over every
// datom core the peer holds. The query runs in each core separately and every result row names
// its core; rows are distinct and sorted.
type Query struct {
	Find  []string
	Where []Clause
	In    map[string][]Value
	AsOf  *uint64
	Cores []corestore.Key
}

// Clause is a data clause (Terms) or a predicate (Pred, one of = != < <= > >= prefix, and its two
// Args).
type Clause struct {
	Terms []Term // e, a, v and optionally tx
	Pred  string
	Args  []Term
}

// Term is a variable, the wildcard, or a constant.
type Term struct {
	Var   string // "?x"; empty for a constant or the wildcard
	Wild  bool
	Value Value
}

// String renders the term as it is written in a query.
func (t Term) String() string {
	switch {
	case t.Var != "":
		return t.Var
	case t.Wild:
		return "_"
	}
	return t.Value.String()
}

// Result is a query's answer: one row per distinct binding of the find variables, in Columns
// order, with the core it came from. Notes explain an empty or partial answer, such as an
// attribute no queried core knows.
type Result struct {
	Columns []string
	Rows    []Row
	Notes   []string
}

// Row is one result row.
type Row struct {
	Core   corestore.Key
	Values []Value
}

// ErrBadQuery marks a query that is well-formed JSON or EDN but not a valid query; its error says
// which part is wrong and why.
var ErrBadQuery = errors.New("bad query")

// predicates maps every predicate name a query accepts to the operator it stands for.
var predicates = map[string]string{"=": "=", "!=": "!=", "not=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
	"prefix": "prefix", "starts-with?": "prefix", "clojure.string/starts-with?": "prefix"}

// predicateNames lists the predicates for error messages.
const predicateNames = "one of = != < <= > >= prefix not= starts-with?"

// ParseQuery reads a query in either of its text forms, told apart by the first character that
// is not white space: JSON, documented on Query, starts with {; EDN, documented on
// ParseQueryEDN, starts with [ (or with { followed by a keyword, or with a ; comment). A JSON string holding the EDN
// form is read as that form, so that the text form can travel inside JSON. Errors wrap
// ErrBadJSON for malformed JSON and ErrBadQuery for anything else, and say where.
func ParseQuery(b []byte) (*Query, error) {
	t := bytes.TrimLeft(b, " \t\r\n,")
	switch {
	case len(t) > 0 && (t[0] == '[' || t[0] == ';') || isEDNMap(t):
		return ParseQueryEDN(b)
	case len(t) > 0 && t[0] == '"':
		x, err := decodeJSON(b)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		return ParseQueryEDN([]byte(x.(string)))
	}
	return parseQueryJSON(b)
}

// isEDNMap reports whether t starts an EDN map with a keyword key, {:find ...}.
func isEDNMap(t []byte) bool {
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	t = bytes.TrimLeft(t[1:], " \t\r\n,")
	return len(t) > 0 && t[0] == ':'
}

func isVar(s string) bool { return len(s) > 1 && s[0] == '?' }

// looksLikePredicate returns the message for a data clause that is a predicate written without
// its brackets: its entity is a predicate name and its attribute a variable.
func looksLikePredicate(c Clause, ednForm bool) error {
	if len(c.Terms) < 2 || c.Terms[0].Var != "" || c.Terms[0].Wild || c.Terms[1].Var == "" {
		return nil
	}
	if _, ok := predicates[c.Terms[0].Value.Str]; !ok {
		return nil
	}
	op := c.Terms[0].Value.Str
	var args []string
	for _, t := range c.Terms[1:] {
		if ednForm {
			args = append(args, ednTerm(t, 2))
		} else {
			args = append(args, t.jsonString())
		}
	}
	if ednForm {
		return fmt.Errorf("[%s %s] looks like a predicate; write a predicate as [(%s %s)]", op, strings.Join(args, " "), op, strings.Join(args, " "))
	}
	return fmt.Errorf(`[%q, %s] looks like a predicate; write a predicate as [[%q, %s]] or {"pred": %q, "args": [%s]}`,
		op, strings.Join(args, ", "), op, strings.Join(args, ", "), op, strings.Join(args, ", "))
}

// jsonString renders the term as the JSON form writes it.
func (t Term) jsonString() string {
	switch {
	case t.Var != "":
		return strconv.Quote(t.Var)
	case t.Wild:
		return `"_"`
	}
	b, _ := json.Marshal(t.Value)
	return string(b)
}

// check verifies that the query can run: its clauses are well formed, it has a data clause, and
// every find and predicate variable is bound by a data clause or by in. Its errors say what is
// wrong, without the ErrBadQuery that callers add.
func (q *Query) check() error {
	if len(q.Find) == 0 {
		return errors.New("find lists no variable")
	}
	for i, v := range q.Find {
		if !isVar(v) {
			return fmt.Errorf("find %d: %q is not a variable like ?name", i, v)
		}
	}
	bound := map[string]bool{}
	for v := range q.In {
		if !isVar(v) {
			return fmt.Errorf("in: %q is not a variable like ?name", v)
		}
		bound[v] = true
	}
	data := 0
	for i, c := range q.Where {
		switch {
		case c.Pred != "":
			if len(c.Terms) != 0 {
				return fmt.Errorf("where clause %d: a clause is a data clause or a predicate, not both", i)
			}
			if op, ok := predicates[c.Pred]; !ok || op != c.Pred {
				return fmt.Errorf("where clause %d: unknown predicate %q (want %s)", i, c.Pred, predicateNames)
			}
			if len(c.Args) != 2 {
				return fmt.Errorf("where clause %d: predicate %s takes 2 arguments, not %d", i, c.Pred, len(c.Args))
			}
			for k, t := range c.Args {
				if t.Wild {
					return fmt.Errorf("where clause %d: argument %d: _ is not allowed in a predicate", i, k)
				}
			}
		case len(c.Terms) != 3 && len(c.Terms) != 4:
			return fmt.Errorf("where clause %d: a data clause is [e a v] or [e a v tx], not %d terms", i, len(c.Terms))
		default:
			data++
			for pos, t := range c.Terms {
				if t.Var != "" {
					bound[t.Var] = true
					continue
				}
				if t.Wild {
					continue
				}
				if err := checkConstant(pos, t); err != nil {
					return fmt.Errorf("where clause %d: %w", i, err)
				}
			}
		}
	}
	if data == 0 && len(q.In) == 0 {
		return errors.New("where has no data clause")
	}
	for _, v := range q.Find {
		if !bound[v] {
			return fmt.Errorf("find variable %s is not bound by any clause or in", v)
		}
	}
	for i, c := range q.Where {
		for _, t := range c.Args {
			if t.Var != "" && !bound[t.Var] {
				return fmt.Errorf("where clause %d: predicate variable %s is not bound by any data clause or in", i, t.Var)
			}
		}
	}
	return nil
}

// checkConstant reports why constant t cannot stand at position pos of a data clause.
func checkConstant(pos int, t Term) error {
	switch pos {
	case 0:
		if t.Value.Kind != KindRef && t.Value.Kind != KindString {
			return fmt.Errorf("entity %s is not an entity id string", t)
		}
	case 1:
		if t.Value.Kind != KindString {
			return fmt.Errorf("attribute %s is not a string", t)
		}
	case 3:
		if t.Value.Kind != KindInt || t.Value.Int < 0 {
			return fmt.Errorf("tx %s is not a transaction number", t)
		}
	}
	return nil
}

// dataTerm makes a parsed constant fit its position in a data clause: an entity id is a ref.
func dataTerm(pos int, t Term) Term {
	if pos == 0 && t.Var == "" && !t.Wild && t.Value.Kind == KindString {
		t.Value = Ref(t.Value.Str)
	}
	return t
}

// QueryJSON parses a query with ParseQuery, in JSON or EDN, and runs it.
func (db *DB) QueryJSON(ctx context.Context, b []byte) (*Result, error) {
	q, err := ParseQuery(b)
	if err != nil {
		return nil, err
	}
	return db.Query(ctx, q)
}

// Query runs q over its cores, or every datom core of the store. A query that is not valid is
// an error wrapping ErrBadQuery; one that needs more memory than the database's query budget
// has left, or more rows than a query may build, one wrapping ErrQueryTooLarge.
func (db *DB) Query(ctx context.Context, q *Query) (*Result, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	keys := q.Cores
	explicit := len(keys) > 0
	if !explicit {
		var err error
		if keys, err = db.store.Keys(ctx); err != nil {
			return nil, err
		}
	}
	res := &Result{Columns: slices.Clone(q.Find), Rows: []Row{}}
	// Attributes named in the query that no queried core knows.
	unknown := map[string]bool{}
	for _, c := range q.Where {
		if len(c.Terms) > 1 && c.Terms[1].Var == "" && !c.Terms[1].Wild {
			unknown[c.Terms[1].Value.Str] = true
		}
	}
	mem := db.qmem.start()
	defer mem.done()
	queried := 0
	for _, k := range keys {
		ci, err := db.coreIndex(ctx, k)
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("query core %s: %w", k, err)
			}
			continue
		}
		if st := ci.applied(); st.kind != kindDatom {
			if explicit {
				if st.kind == kindRaw {
					res.Notes = append(res.Notes, fmt.Sprintf("core %s does not hold datom transactions", k))
				} else {
					res.Notes = append(res.Notes, fmt.Sprintf("core %s has no indexed transactions", k))
				}
			}
			continue
		}
		queried++
		rows, known, notes, err := db.queryCore(ctx, ci, q, unknown, mem)
		if err != nil {
			return nil, fmt.Errorf("query core %s: %w", k, err)
		}
		for a := range known {
			delete(unknown, a)
		}
		res.Notes = append(res.Notes, notes...)
		res.Rows = append(res.Rows, rows...)
	}
	if queried == 0 {
		res.Notes = append(res.Notes, "no datom core to query")
	}
	for _, a := range slices.Sorted(func(yield func(string) bool) {
		for a := range unknown {
			if !yield(a) {
				return
			}
		}
	}) {
		if queried > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("unknown attribute %s: no queried core has schema or datoms for it", a))
		}
	}
	return res, nil
}
