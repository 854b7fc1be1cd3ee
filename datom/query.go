package datom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//	            {"pred": "<", "args": ["?age", 30]}],
//	  "in":    {"?city": ["Beijing", "Paris"]},
//	  "as-of": 42,
//	  "cores": ["<core key>", ...]
//	}
//
// A data clause is [e, a, v] or [e, a, v, tx]. A term is a variable ("?name"), the wildcard "_",
// or a constant: in e an entity id, in a an attribute, in v a value as ParseValueJSON reads it (a
// string that starts with ? is written {"string":"?..."}), in tx a transaction number.
// Clauses join on shared variables. A predicate clause {"pred": op, "args": [x, y]} filters
// rows; op is one of = != < <= > >= prefix, and its args are variables or constants. Values of
// different kinds are unequal and unordered, except that ints and floats compare as numbers;
// prefix holds for strings, refs and bytes.
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

// Clause is a data clause (Terms) or a predicate (Pred and Args).
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

var predicates = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true, "prefix": true}

// ParseQuery reads a query in the JSON form documented on Query. Errors name the clause and what
// is wrong with it.
func ParseQuery(b []byte) (*Query, error) {
	var qj struct {
		Find  []string                   `json:"find"`
		Where []json.RawMessage          `json:"where"`
		In    map[string]json.RawMessage `json:"in"`
		AsOf  *uint64                    `json:"as-of"`
		Cores []string                   `json:"cores"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&qj); err != nil {
		return nil, fmt.Errorf("%w: query: %w", ErrBadJSON, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: query: data after the query object", ErrBadJSON)
	}
	q := &Query{AsOf: qj.AsOf, In: map[string][]Value{}}
	for i, v := range qj.Find {
		if !isVar(v) {
			return nil, fmt.Errorf("%w: find %d: %q is not a variable like ?name", ErrBadJSON, i, v)
		}
		q.Find = append(q.Find, v)
	}
	for i, raw := range qj.Where {
		c, err := parseClause(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: where clause %d: %w", ErrBadJSON, i, err)
		}
		q.Where = append(q.Where, c)
	}
	for name, raw := range qj.In {
		if !isVar(name) {
			return nil, fmt.Errorf("%w: in: %q is not a variable like ?name", ErrBadJSON, name)
		}
		x, err := decodeJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: in %s: %w", ErrBadJSON, name, err)
		}
		xs, isArr := x.([]any)
		if !isArr {
			xs = []any{x}
		}
		vals := []Value{}
		for _, x := range xs {
			v, err := valueFromJSON(x)
			if err != nil {
				return nil, fmt.Errorf("%w: in %s: %w", ErrBadJSON, name, err)
			}
			vals = append(vals, v)
		}
		q.In[name] = vals
	}
	for i, s := range qj.Cores {
		k, err := corestore.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("%w: cores %d: %w", ErrBadJSON, i, err)
		}
		q.Cores = append(q.Cores, k)
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return q, nil
}

func isVar(s string) bool { return len(s) > 1 && s[0] == '?' }

func parseClause(raw json.RawMessage) (Clause, error) {
	x, err := decodeJSON(raw)
	if err != nil {
		return Clause{}, err
	}
	switch x := x.(type) {
	case []any:
		if len(x) != 3 && len(x) != 4 {
			return Clause{}, fmt.Errorf("a data clause is [e, a, v] or [e, a, v, tx], not %d terms", len(x))
		}
		var c Clause
		for pos, tx := range x {
			t, err := parseTerm(tx)
			if err != nil {
				return Clause{}, fmt.Errorf("term %d: %w", pos, err)
			}
			if t.Var == "" && !t.Wild {
				switch pos {
				case 0:
					if t.Value.Kind != KindString && t.Value.Kind != KindRef {
						return Clause{}, fmt.Errorf("entity %s is not an entity id string", t)
					}
					t.Value = Ref(t.Value.Str)
				case 1:
					if t.Value.Kind != KindString {
						return Clause{}, fmt.Errorf("attribute %s is not a string", t)
					}
				case 3:
					if t.Value.Kind != KindInt || t.Value.Int < 0 {
						return Clause{}, fmt.Errorf("tx %s is not a transaction number", t)
					}
				}
			}
			c.Terms = append(c.Terms, t)
		}
		return c, nil
	case map[string]any:
		op, ok := x["pred"].(string)
		args, ok2 := x["args"].([]any)
		if !ok || !ok2 || len(x) != 2 {
			return Clause{}, errors.New(`a predicate is {"pred": "<", "args": ["?x", 3]}`)
		}
		if !predicates[op] {
			return Clause{}, fmt.Errorf("unknown predicate %q (want = != < <= > >= prefix)", op)
		}
		if len(args) != 2 {
			return Clause{}, fmt.Errorf("predicate %s takes 2 args, not %d", op, len(args))
		}
		c := Clause{Pred: op}
		for i, a := range args {
			t, err := parseTerm(a)
			if err != nil {
				return Clause{}, fmt.Errorf("arg %d: %w", i, err)
			}
			if t.Wild {
				return Clause{}, fmt.Errorf("arg %d: _ is not allowed in a predicate", i)
			}
			c.Args = append(c.Args, t)
		}
		return c, nil
	}
	return Clause{}, errors.New("a clause is an array [e, a, v] or a predicate object")
}

func parseTerm(x any) (Term, error) {
	if s, ok := x.(string); ok {
		switch {
		case s == "_":
			return Term{Wild: true}, nil
		case isVar(s):
			return Term{Var: s}, nil
		case strings.HasPrefix(s, "?"):
			return Term{}, errors.New(`"?" alone is not a variable`)
		}
	}
	v, err := valueFromJSON(x)
	if err != nil {
		return Term{}, err
	}
	return Term{Value: v}, nil
}

// check verifies that the query can run: it has clauses, and every find and predicate variable is
// bound by a data clause or by in.
func (q *Query) check() error {
	if len(q.Find) == 0 {
		return errors.New("query: find lists no variable")
	}
	bound := map[string]bool{}
	for v := range q.In {
		bound[v] = true
	}
	data := 0
	for _, c := range q.Where {
		for _, t := range c.Terms {
			if t.Var != "" {
				bound[t.Var] = true
			}
		}
		if c.Pred == "" {
			data++
		}
	}
	if data == 0 && len(q.In) == 0 {
		return errors.New("query: where has no data clause")
	}
	for _, v := range q.Find {
		if !bound[v] {
			return fmt.Errorf("query: find variable %s is not bound by any clause or in", v)
		}
	}
	for i, c := range q.Where {
		for _, t := range c.Args {
			if t.Var != "" && !bound[t.Var] {
				return fmt.Errorf("query: where clause %d: predicate variable %s is not bound by any data clause or in", i, t.Var)
			}
		}
	}
	return nil
}

// QueryJSON parses and runs a query.
func (db *DB) QueryJSON(ctx context.Context, b []byte) (*Result, error) {
	q, err := ParseQuery(b)
	if err != nil {
		return nil, err
	}
	return db.Query(ctx, q)
}

// Query runs q over its cores, or every datom core of the store.
func (db *DB) Query(ctx context.Context, q *Query) (*Result, error) {
	if err := q.check(); err != nil {
		return nil, err
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
		rows, known, notes, err := db.queryCore(ctx, ci, q, unknown)
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
