package datom

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// ParseQueryEDN reads a query in its EDN text form, Datomic's notation for the query that Query
// documents in JSON:
//
//	[:find ?name ?city
//	 :in {?min 30}
//	 :where [?p :person/name ?name]
//	        [?p :person/city ?city]
//	        [?p :person/age ?age]
//	        [(> ?age ?min)]
//	 :as-of 12
//	 :cores ["<core key>"]]
//
// or the same as a map, {:find [?name ?city] :where [[?p :person/name ?name] ...]}. Variables
// are symbols that start with ?, and _ is the wildcard. Keywords and strings are constants: an
// attribute is written :person/name or "person/name", an entity id "contact/1" (or
// :contact/1), a value as a string, an integer, a float, true or false, #inst "<RFC 3339>" for
// a time, or a one-key map for the other kinds, as in JSON: {:ref "contact/1"}, {:bytes
// "<base64>"}. A predicate is a list inside a vector, [(op x y)]. :in takes a map from
// variables to values, or variables each followed by its value; a vector value binds each of
// its elements in turn, as an array does in JSON, and $ (the database) is skipped. Errors wrap
// ErrBadQuery and give the line and column of the form at fault.
func ParseQueryEDN(text []byte) (*Query, error) {
	n, err := readEDN(text)
	if err != nil {
		return nil, ednErr(text, err)
	}
	p := &ednQueryParser{src: text}
	q, err := p.query(n)
	if err != nil {
		return nil, ednErr(text, err)
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	return q, nil
}

// ednErr turns an error at a position into one that names the line and column.
func ednErr(text []byte, err error) error {
	var pe *ednError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %s", ErrBadQuery, textPos(text, pe.pos), pe.msg)
	}
	return fmt.Errorf("%w: %w", ErrBadQuery, err)
}

type ednQueryParser struct{ src []byte }

func (p *ednQueryParser) errAt(n ednNode, format string, args ...any) error {
	return &ednError{n.pos, fmt.Sprintf(format, args...)}
}

// ednSections are the keywords a query has, in the order they are listed in messages.
var ednSections = []string{"find", "in", "where", "as-of", "cores"}

func (p *ednQueryParser) query(n ednNode) (*Query, error) {
	sections := map[string][]ednNode{}
	var keys []ednNode
	switch n.kind {
	case ednVector:
		var cur string
		for _, it := range n.items {
			if it.kind == ednKeyword && slices.Contains(ednSections, it.str) {
				if _, dup := sections[it.str]; dup {
					return nil, p.errAt(it, ":%s appears twice", it.str)
				}
				cur = it.str
				sections[cur] = []ednNode{}
				keys = append(keys, it)
				continue
			}
			if it.kind == ednKeyword {
				return nil, p.errAt(it, "unknown query keyword :%s (a query has :%s)", it.str, strings.Join(ednSections, " :"))
			}
			if cur == "" {
				return nil, p.errAt(it, "a query starts with :find, not %s", it.describe())
			}
			sections[cur] = append(sections[cur], it)
		}
	case ednMap:
		for i := 0; i < len(n.items); i += 2 {
			k, v := n.items[i], n.items[i+1]
			if k.kind != ednKeyword || !slices.Contains(ednSections, k.str) {
				return nil, p.errAt(k, "unknown query key %s (a query has :%s)", k.describe(), strings.Join(ednSections, " :"))
			}
			if _, dup := sections[k.str]; dup {
				return nil, p.errAt(k, ":%s appears twice", k.str)
			}
			keys = append(keys, k)
			switch {
			case k.str == "as-of":
				sections[k.str] = []ednNode{v}
			case v.kind == ednVector || v.kind == ednList:
				sections[k.str] = v.items
			case k.str == "in" && v.kind == ednMap:
				sections[k.str] = []ednNode{v}
			default:
				return nil, p.errAt(v, ":%s takes a vector, not %s", k.str, v.describe())
			}
		}
	default:
		return nil, p.errAt(n, "a query is a vector [:find ... :where ...] or a map {:find [...] :where [...]}, not %s", n.describe())
	}
	q := &Query{In: map[string][]Value{}}
	if _, ok := sections["find"]; !ok {
		return nil, p.errAt(n, "the query has no :find: list the variables to return, as in [:find ?name :where ...]")
	}
	for _, k := range keys {
		items := sections[k.str]
		var err error
		switch k.str {
		case "find":
			err = p.find(q, k, items)
		case "where":
			for _, it := range items {
				c, cerr := p.clause(it)
				if cerr != nil {
					err = cerr
					break
				}
				q.Where = append(q.Where, c)
			}
		case "in":
			err = p.in(q, items)
		case "as-of":
			if len(items) != 1 || items[0].kind != ednInt || items[0].i < 0 {
				at := k
				if len(items) > 0 {
					at = items[0]
				}
				return nil, p.errAt(at, ":as-of takes one transaction number")
			}
			tx := uint64(items[0].i)
			q.AsOf = &tx
		case "cores":
			if len(items) == 1 && items[0].kind == ednVector {
				items = items[0].items
			}
			for _, it := range items {
				if it.kind != ednString {
					return nil, p.errAt(it, ":cores takes core keys as strings, not %s", it.describe())
				}
				key, kerr := corestore.ParseKey(it.str)
				if kerr != nil {
					return nil, p.errAt(it, "core %q: %v", it.str, kerr)
				}
				q.Cores = append(q.Cores, key)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

func (p *ednQueryParser) find(q *Query, k ednNode, items []ednNode) error {
	if len(items) == 0 {
		return p.errAt(k, ":find lists no variable")
	}
	for _, it := range items {
		switch {
		case it.kind == ednSymbol && isVar(it.str):
			q.Find = append(q.Find, it.str)
		case it.kind == ednList || it.kind == ednVector:
			return p.errAt(it, ":find takes variables only: aggregates, pull and collection forms are not supported")
		case it.kind == ednSymbol && (it.str == "." || it.str == "..."):
			return p.errAt(it, ":find takes variables only: find specs such as %s are not supported", it.str)
		default:
			return p.errAt(it, ":find takes variables like ?name, not %s", it.describe())
		}
	}
	return nil
}

// in reads :in: $ is skipped, a map binds its variables, and a variable binds the form after it.
func (p *ednQueryParser) in(q *Query, items []ednNode) error {
	bind := func(v ednNode, val ednNode) error {
		if _, dup := q.In[v.str]; dup {
			return p.errAt(v, "%s is bound twice in :in", v.str)
		}
		vals := []Value{}
		elems := []ednNode{val}
		if val.kind == ednVector || val.kind == ednList {
			elems = val.items
		}
		for _, e := range elems {
			x, err := p.value(e)
			if err != nil {
				return err
			}
			vals = append(vals, x)
		}
		q.In[v.str] = vals
		return nil
	}
	for i := 0; i < len(items); i++ {
		it := items[i]
		switch {
		case it.kind == ednSymbol && it.str == "$":
		case it.kind == ednMap:
			for k := 0; k < len(it.items); k += 2 {
				kv := it.items[k]
				if kv.kind != ednSymbol || !isVar(kv.str) {
					return p.errAt(kv, ":in binds variables like ?name, not %s", kv.describe())
				}
				if err := bind(kv, it.items[k+1]); err != nil {
					return err
				}
			}
		case it.kind == ednSymbol && isVar(it.str):
			if i+1 >= len(items) {
				return p.errAt(it, "%s in :in has no value: write :in %s \"value\" or :in %s [\"one\" \"two\"]", it.str, it.str, it.str)
			}
			i++
			if err := bind(it, items[i]); err != nil {
				return err
			}
		case it.kind == ednVector:
			return p.errAt(it, ":in takes values here, not binding forms: write :in ?x [\"one\" \"two\"] to bind ?x to each")
		default:
			return p.errAt(it, ":in takes variables and their values, not %s", it.describe())
		}
	}
	return nil
}

func (p *ednQueryParser) clause(n ednNode) (Clause, error) {
	switch n.kind {
	case ednVector:
	case ednList:
		if len(n.items) > 0 && n.items[0].kind == ednSymbol {
			switch n.items[0].str {
			case "not", "not-join", "or", "or-join", "and":
				return Clause{}, p.errAt(n, "(%s ...) clauses are not supported", n.items[0].str)
			}
			return Clause{}, p.errAt(n, "a predicate is written in a vector, [(%s ...)]; rules are not supported", n.items[0].str)
		}
		return Clause{}, p.errAt(n, "a clause is a vector such as [?e :person/name ?name] or [(> ?age 30)]")
	default:
		return Clause{}, p.errAt(n, "a clause is a vector such as [?e :person/name ?name] or [(> ?age 30)], not %s", n.describe())
	}
	items := n.items
	if len(items) > 0 && items[0].kind == ednList {
		if len(items) != 1 {
			return Clause{}, p.errAt(n, "a clause that starts with a call is a predicate [(> ?age 30)]; function bindings are not supported")
		}
		return p.predicate(items[0])
	}
	if len(items) > 0 && items[0].kind == ednSymbol && items[0].str == "$" {
		items = items[1:] // the only database
	}
	if len(items) > 0 && items[0].kind == ednSymbol {
		if _, ok := predicates[items[0].str]; ok {
			c := Clause{Terms: []Term{{Value: String(items[0].str)}}}
			for _, it := range items[1:] {
				t, err := p.term(it, 2)
				if err != nil {
					return Clause{}, err
				}
				c.Terms = append(c.Terms, t)
			}
			if err := looksLikePredicate(c, true); err != nil {
				return Clause{}, p.errAt(n, "%v", err)
			}
			return Clause{}, p.errAt(n, "symbol %s is not a variable; a predicate is written [(%s ...)]", items[0].str, items[0].str)
		}
	}
	if len(items) != 3 && len(items) != 4 {
		return Clause{}, p.errAt(n, "a data clause is [e a v] or [e a v tx], and a predicate [(> ?age 30)]; this one has %d terms", len(items))
	}
	var c Clause
	for pos, it := range items {
		t, err := p.term(it, pos)
		if err != nil {
			return Clause{}, err
		}
		t = dataTerm(pos, t)
		if t.Var == "" && !t.Wild {
			if err := checkConstant(pos, t); err != nil {
				return Clause{}, p.errAt(it, "%v", err)
			}
		}
		c.Terms = append(c.Terms, t)
	}
	return c, nil
}

func (p *ednQueryParser) predicate(call ednNode) (Clause, error) {
	if len(call.items) == 0 || call.items[0].kind != ednSymbol {
		return Clause{}, p.errAt(call, "a predicate is a list that starts with its name, as (> ?age 30)")
	}
	name := call.items[0]
	op, ok := predicates[name.str]
	if !ok {
		return Clause{}, p.errAt(name, "unknown predicate %s (want %s)", name.str, predicateNames)
	}
	if len(call.items) != 3 {
		return Clause{}, p.errAt(call, "predicate %s takes 2 arguments, not %d", name.str, len(call.items)-1)
	}
	c := Clause{Pred: op}
	for _, it := range call.items[1:] {
		t, err := p.term(it, 2)
		if err != nil {
			return Clause{}, err
		}
		if t.Wild {
			return Clause{}, p.errAt(it, "_ is not allowed in a predicate")
		}
		c.Args = append(c.Args, t)
	}
	return c, nil
}

// term reads a variable, the wildcard or a constant at position pos of a data clause (2, the
// value, for predicate arguments).
func (p *ednQueryParser) term(n ednNode, pos int) (Term, error) {
	if n.kind == ednSymbol {
		switch {
		case n.str == "_":
			return Term{Wild: true}, nil
		case isVar(n.str):
			return Term{Var: n.str}, nil
		case n.str == "?":
			return Term{}, p.errAt(n, "? alone is not a variable")
		}
		return Term{}, p.errAt(n, "symbol %s is not a variable (variables start with ?); write a constant as a string or a keyword", n.str)
	}
	if pos == 1 && n.kind != ednKeyword && n.kind != ednString {
		return Term{}, p.errAt(n, "an attribute is a keyword such as :person/name, not %s", n.describe())
	}
	v, err := p.value(n)
	if err != nil {
		return Term{}, err
	}
	return Term{Value: v}, nil
}

// value reads a constant value.
func (p *ednQueryParser) value(n ednNode) (Value, error) {
	switch n.kind {
	case ednString, ednKeyword:
		return String(n.str), nil
	case ednInt:
		return Int(n.i), nil
	case ednFloat:
		return Float(n.f), nil
	case ednBool:
		return Bool(n.b), nil
	case ednNil:
		return Value{}, p.errAt(n, "nil is not a value")
	case ednTagged:
		v := n.items[0]
		switch n.str {
		case "inst":
			if v.kind != ednString {
				return Value{}, p.errAt(v, "#inst takes a string, not %s", v.describe())
			}
			t, err := time.Parse(time.RFC3339Nano, v.str)
			if err != nil {
				return Value{}, p.errAt(v, "#inst %q is not an RFC 3339 time", v.str)
			}
			return Time(t), nil
		case "uuid":
			if v.kind != ednString {
				return Value{}, p.errAt(v, "#uuid takes a string, not %s", v.describe())
			}
			return String(v.str), nil
		}
		return Value{}, p.errAt(n, "unknown tag #%s (want #inst)", n.str)
	case ednMap:
		if len(n.items) >= 2 && n.items[0].kind == ednKeyword && n.items[0].str == "blob" {
			m, err := p.plain(n)
			if err != nil {
				return Value{}, err
			}
			v, err := blobFromJSON(m.(map[string]any))
			if err != nil {
				return Value{}, p.errAt(n, "%v", err)
			}
			return v, nil
		}
		if len(n.items) != 2 || n.items[0].kind != ednKeyword {
			return Value{}, p.errAt(n, "a typed value is a map with one keyword key, such as {:ref \"contact/1\"}")
		}
		payload, err := p.plain(n.items[1])
		if err != nil {
			return Value{}, err
		}
		v, err := typedValue(n.items[0].str, payload)
		if err != nil {
			return Value{}, p.errAt(n, "%v", err)
		}
		return v, nil
	}
	return Value{}, p.errAt(n, "%s is not a value", n.describe())
}

// plain converts a form to the JSON-decoded shape typedValue reads.
func (p *ednQueryParser) plain(n ednNode) (any, error) {
	switch n.kind {
	case ednString, ednKeyword:
		return n.str, nil
	case ednInt:
		return json.Number(strconv.FormatInt(n.i, 10)), nil
	case ednFloat:
		return json.Number(strconv.FormatFloat(n.f, 'g', -1, 64)), nil
	case ednBool:
		return n.b, nil
	case ednMap:
		m := map[string]any{}
		for k := 0; k < len(n.items); k += 2 {
			kn := n.items[k]
			if kn.kind != ednKeyword && kn.kind != ednString {
				return nil, p.errAt(kn, "a key here is a keyword, not %s", kn.describe())
			}
			v, err := p.plain(n.items[k+1])
			if err != nil {
				return nil, err
			}
			m[kn.str] = v
		}
		return m, nil
	}
	return nil, p.errAt(n, "%s is not a value here", n.describe())
}
