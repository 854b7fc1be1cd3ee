package datom

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/corestore"
)

// parseQueryJSON reads the JSON form of a query, documented on Query.
func parseQueryJSON(b []byte) (*Query, error) {
	x, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	q, err := queryFromJSON(x)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	return q, nil
}

var queryKeys = []string{"find", "where", "in", "as-of", "cores"}

func queryFromJSON(x any) (*Query, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`a query is a JSON object {"find": [...], "where": [...]}, not %s`, jsonKind(x))
	}
	for _, k := range slices.Sorted(mapKeys(m)) {
		if !slices.Contains(queryKeys, k) {
			return nil, fmt.Errorf("unknown key %q (a query has %s)", k, strings.Join(queryKeys, ", "))
		}
	}
	q := &Query{In: map[string][]Value{}}
	find, ok := m["find"].([]any)
	if !ok {
		if _, has := m["find"]; !has {
			return nil, errors.New(`"find" is missing: list the variables to return, as in "find": ["?name"]`)
		}
		return nil, fmt.Errorf(`"find" is %s; want an array of variables such as ["?name"]`, jsonKind(m["find"]))
	}
	for i, v := range find {
		s, ok := v.(string)
		if !ok || !isVar(s) {
			return nil, fmt.Errorf("find %d: %s is not a variable like ?name", i, jsonText(v))
		}
		q.Find = append(q.Find, s)
	}
	if w, has := m["where"]; has {
		where, ok := w.([]any)
		if !ok {
			return nil, fmt.Errorf(`"where" is %s; want an array of clauses`, jsonKind(w))
		}
		for i, cx := range where {
			c, err := clauseFromJSON(cx)
			if err != nil {
				return nil, fmt.Errorf("where clause %d: %w", i, err)
			}
			q.Where = append(q.Where, c)
		}
	}
	if in, has := m["in"]; has {
		im, ok := in.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`"in" is %s; want an object of variables and values such as {"?city": ["Paris", "Oslo"]}`, jsonKind(in))
		}
		for _, name := range slices.Sorted(mapKeys(im)) {
			if !isVar(name) {
				return nil, fmt.Errorf("in: %q is not a variable like ?name", name)
			}
			xs, isArr := im[name].([]any)
			if !isArr {
				xs = []any{im[name]}
			}
			vals := []Value{}
			for _, x := range xs {
				v, err := valueFromJSON(x)
				if err != nil {
					return nil, fmt.Errorf("in %s: %w", name, err)
				}
				vals = append(vals, v)
			}
			q.In[name] = vals
		}
	}
	if a, has := m["as-of"]; has {
		n, ok := a.(json.Number)
		tx, err := strconv.ParseUint(string(n), 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf(`"as-of" is %s; want a transaction number`, jsonText(a))
		}
		q.AsOf = &tx
	}
	if c, has := m["cores"]; has {
		cores, ok := c.([]any)
		if !ok {
			return nil, fmt.Errorf(`"cores" is %s; want an array of core keys`, jsonKind(c))
		}
		for i, cx := range cores {
			s, ok := cx.(string)
			if !ok {
				return nil, fmt.Errorf("cores %d: %s is not a core key", i, jsonText(cx))
			}
			k, err := corestore.ParseKey(s)
			if err != nil {
				return nil, fmt.Errorf("cores %d: %w", i, err)
			}
			q.Cores = append(q.Cores, k)
		}
	}
	if err := q.check(); err != nil {
		return nil, err
	}
	return q, nil
}

// jsonText renders a decoded JSON value as JSON, for error messages.
func jsonText(x any) string {
	b, err := json.Marshal(x)
	if err != nil || len(b) > 80 {
		return jsonKind(x)
	}
	return string(b)
}

func clauseFromJSON(x any) (Clause, error) {
	switch x := x.(type) {
	case []any:
		if len(x) >= 1 {
			if call, ok := x[0].([]any); ok {
				if len(x) != 1 {
					return Clause{}, errors.New(`a clause that starts with a call is a predicate [["<", "?x", 3]]; function bindings are not supported`)
				}
				return predFromJSON(call)
			}
		}
		if len(x) != 3 && len(x) != 4 {
			return Clause{}, fmt.Errorf(`a data clause is [e, a, v] or [e, a, v, tx], and a predicate [["<", "?x", 3]]; this one has %d terms`, len(x))
		}
		var c Clause
		for pos, tx := range x {
			t, err := termFromJSON(tx)
			if err != nil {
				return Clause{}, fmt.Errorf("term %d: %w", pos, err)
			}
			c.Terms = append(c.Terms, dataTerm(pos, t))
		}
		if err := looksLikePredicate(c, false); err != nil {
			return Clause{}, err
		}
		for pos, t := range c.Terms {
			if t.Var == "" && !t.Wild {
				if err := checkConstant(pos, t); err != nil {
					return Clause{}, err
				}
			}
		}
		return c, nil
	case map[string]any:
		op, ok := x["pred"].(string)
		args, ok2 := x["args"].([]any)
		if !ok || !ok2 || len(x) != 2 {
			return Clause{}, errors.New(`a predicate object is {"pred": "<", "args": ["?x", 3]}`)
		}
		return predFromJSON(append([]any{op}, args...))
	}
	return Clause{}, fmt.Errorf(`a clause is an array: a data clause [e, a, v] or a predicate [["<", "?x", 3]], not %s`, jsonKind(x))
}

// predFromJSON reads a predicate call [op, x, y].
func predFromJSON(call []any) (Clause, error) {
	if len(call) == 0 {
		return Clause{}, errors.New(`a predicate is [["<", "?x", 3]]; this call is empty`)
	}
	name, ok := call[0].(string)
	if !ok {
		return Clause{}, fmt.Errorf("a predicate starts with its name, not %s", jsonText(call[0]))
	}
	op, ok := predicates[name]
	if !ok {
		return Clause{}, fmt.Errorf("unknown predicate %q (want %s)", name, predicateNames)
	}
	if len(call) != 3 {
		return Clause{}, fmt.Errorf("predicate %s takes 2 arguments, not %d", name, len(call)-1)
	}
	c := Clause{Pred: op}
	for i, a := range call[1:] {
		t, err := termFromJSON(a)
		if err != nil {
			return Clause{}, fmt.Errorf("argument %d: %w", i, err)
		}
		if t.Wild {
			return Clause{}, fmt.Errorf("argument %d: _ is not allowed in a predicate", i)
		}
		c.Args = append(c.Args, t)
	}
	return c, nil
}

func termFromJSON(x any) (Term, error) {
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
