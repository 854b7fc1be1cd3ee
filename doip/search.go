package doip

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip/query"
)

// MaxPageSize is the largest page a Search returns; a larger pageSize, or pageSize -1 (all)
// over more results, is answered with status 101.
const MaxPageSize = 10000

// SortField is one key of a search's order.
type SortField struct {
	Name string // "id", "type", "createdOn", "modifiedOn" (or metadata/...), or a JSON pointer
	Desc bool
}

// ParseSortFields reads Cordra's sortFields: "a,b DESC" (split on commas, then spaces; DESC in
// any case). BDWare's "field:ASC" form is read too.
func ParseSortFields(s string) ([]SortField, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []SortField
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		sf := SortField{Name: f[0]}
		dir := ""
		if len(f) > 1 {
			dir = f[1]
		} else if name, d, ok := strings.Cut(f[0], ":"); ok && (strings.EqualFold(d, "ASC") || strings.EqualFold(d, "DESC")) {
			sf.Name, dir = name, d
		}
		switch {
		case dir == "" || strings.EqualFold(dir, "ASC"):
		case strings.EqualFold(dir, "DESC"):
			sf.Desc = true
		default:
			return nil, fmt.Errorf("%w: sortFields: %q is neither ASC nor DESC", ErrInvalid, dir)
		}
		if len(f) > 2 {
			return nil, fmt.Errorf("%w: sortFields: %q has more than a field and a direction", ErrInvalid, part)
		}
		out = append(out, sf)
	}
	return out, nil
}

// SearchRequest is a Search's attributes.
type SearchRequest struct {
	Query    string
	PageNum  int // from 0
	PageSize int // -1: all; 0: only the count
	Sort     []SortField
	IDsOnly  bool // type "id" rather than "full"
}

// SearchResult is a Search's output: the number of matches and one page of them.
type SearchResult struct {
	Size    int
	IDs     []string         // for IDsOnly
	Objects []*DigitalObject // else
}

// MarshalJSON writes {"size":N,"results":[...]}.
func (r *SearchResult) MarshalJSON() ([]byte, error) {
	type out struct {
		Size    int `json:"size"`
		Results any `json:"results"`
	}
	if r.Objects != nil {
		res := make([]json.RawMessage, len(r.Objects))
		for i, do := range r.Objects {
			b, err := do.marshalOut()
			if err != nil {
				return nil, err
			}
			res[i] = b
		}
		return json.Marshal(out{r.Size, res})
	}
	ids := r.IDs
	if ids == nil {
		ids = []string{}
	}
	return json.Marshal(out{r.Size, ids})
}

// checkPage validates the paging attributes.
func (q *SearchRequest) checkPage() error {
	switch {
	case q.PageNum < 0:
		return fmt.Errorf("%w: pageNum %d is negative", ErrInvalid, q.PageNum)
	case q.PageSize < -1:
		return fmt.Errorf("%w: pageSize %d is below -1", ErrInvalid, q.PageSize)
	case q.PageSize > MaxPageSize:
		return fmt.Errorf("%w: pageSize %d exceeds %d", ErrInvalid, q.PageSize, MaxPageSize)
	}
	return nil
}

// page returns the bounds of the requested page within n results.
func (q *SearchRequest) page(n int) (int, int, error) {
	if q.PageSize == 0 {
		return 0, 0, nil
	}
	if q.PageSize < 0 {
		if n > MaxPageSize {
			return 0, 0, fmt.Errorf("%w: %d results exceed the largest page of %d; page through them with pageSize", ErrInvalid, n, MaxPageSize)
		}
		return 0, n, nil
	}
	lo := int64(q.PageNum) * int64(q.PageSize)
	if lo >= int64(n) {
		return n, n, nil
	}
	return int(lo), int(min(lo+int64(q.PageSize), int64(n))), nil
}

// Search answers a query over the repository's objects that p may read. The query is parsed
// (a SyntaxError is answered with 101 and its position) and compiled to Datalog queries over
// the core's indexes: each term is one data clause on the search datoms, the required terms
// of a boolean query are joined in one query, and optional and prohibited clauses combine the
// queries' entity sets.
func (r *Repository) Search(ctx context.Context, p Principal, q SearchRequest) (*SearchResult, error) {
	if err := q.checkPage(); err != nil {
		return nil, err
	}
	ids, err := r.SearchIDs(ctx, p, q.Query)
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Size: len(ids)}
	needObjects := !q.IDsOnly
	var objs map[string]*DigitalObject
	if len(q.Sort) > 0 && !(len(q.Sort) == 1 && q.Sort[0].Name == "id") {
		// Sorting by anything but id reads every matching object.
		objs = map[string]*DigitalObject{}
		for _, id := range ids {
			do, err := r.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			objs[id] = do
		}
		sortIDs(ids, q.Sort, func(id string) *DigitalObject { return objs[id] })
	} else if len(q.Sort) == 1 && q.Sort[0].Desc {
		slices.Reverse(ids)
	}
	lo, hi, err := q.page(len(ids))
	if err != nil {
		return nil, err
	}
	page := ids[lo:hi]
	if !needObjects {
		res.IDs = slices.Clone(page)
		return res, nil
	}
	res.Objects = make([]*DigitalObject, 0, len(page))
	for _, id := range page {
		do := objs[id]
		if do == nil {
			if do, err = r.Get(ctx, id); err != nil {
				return nil, err
			}
		}
		res.Objects = append(res.Objects, do)
	}
	return res, nil
}

// SearchIDs returns the ids of the objects a query matches that p may read, sorted.
func (r *Repository) SearchIDs(ctx context.Context, p Principal, q string) ([]string, error) {
	n, err := query.Parse(q)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) {
			return nil, &attrError{fmt.Errorf("%w: %w", ErrInvalid, err), map[string]any{"position": se.Pos}}
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ex := &executor{r: r, ctx: ctx}
	ents, err := ex.eval(n)
	if err != nil {
		return nil, err
	}
	if p.Kind != Owner && len(ents) > 0 {
		hidden, err := ex.hidden(p)
		if err != nil {
			return nil, err
		}
		ents = difference(ents, hidden)
	}
	ids := make([]string, len(ents))
	for i, e := range ents {
		ids[i] = strings.TrimPrefix(e, "ix:")
	}
	return ids, nil
}

// executor runs one query's Datalog.
type executor struct {
	r   *Repository
	ctx context.Context
}

var (
	varE = datom.Term{Var: "?e"}
	varV = datom.Term{Var: "?v"}
)

func constTerm(v datom.Value) datom.Term { return datom.Term{Value: v} }

func clause(a string, v datom.Term) datom.Clause {
	return datom.Clause{Terms: []datom.Term{varE, constTerm(datom.String(a)), v}}
}

// run runs a Datalog query that binds ?e and returns the distinct entities, sorted.
func (ex *executor) run(where []datom.Clause) ([]string, error) {
	q := &datom.Query{Find: []string{"?e"}, Where: where, Cores: []corestore.Key{ex.r.key}}
	res, err := ex.r.db.Query(ex.ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		out = append(out, row.Values[0].Str)
	}
	// Rows come sorted and distinct per core; one core is queried.
	return out, nil
}

// compileTerm turns a term into data clauses and, for a phrase, the words to check.
func compileTerm(t *query.Term) (where []datom.Clause, phrase []string, none bool) {
	field := normalizeField(t.Field)
	attr, pre := attrIxTerm, field+sep
	if field == "" {
		attr, pre = attrIxWord, ""
	}
	if field == "type" || field == "id" {
		if t.Prefix {
			return []datom.Clause{clause(attr, varV), prefixPred(pre + t.Text)}, nil, false
		}
		return []datom.Clause{clause(attr, constTerm(datom.String(pre+t.Text)))}, nil, false
	}
	words := tokenize(t.Text)
	if t.Prefix {
		if len(words) == 0 {
			if field == "" {
				return []datom.Clause{clause(attrIxOf, varV)}, nil, false // *
			}
			return []datom.Clause{clause(attr, varV), prefixPred(pre)}, nil, false // f:*
		}
		last := words[len(words)-1]
		words = words[:len(words)-1]
		for _, w := range words {
			where = append(where, clause(attr, constTerm(datom.String(pre+w))))
		}
		return append(where, clause(attr, varV), prefixPred(pre+last)), nil, false
	}
	if len(words) == 0 {
		return nil, nil, true
	}
	for _, w := range slices.Compact(slices.Sorted(slices.Values(words))) {
		where = append(where, clause(attr, constTerm(datom.String(pre+w))))
	}
	if len(words) > 1 {
		phrase = words
	}
	return where, phrase, false
}

func prefixPred(p string) datom.Clause {
	return datom.Clause{Pred: "prefix", Args: []datom.Term{varV, constTerm(datom.String(p))}}
}

// evalTerm returns the entities a term matches.
func (ex *executor) evalTerm(t *query.Term) ([]string, error) {
	where, phrase, none := compileTerm(t)
	if none {
		return nil, nil
	}
	ents, err := ex.run(where)
	if err != nil || phrase == nil {
		return ents, err
	}
	return ex.checkPhrase(ents, normalizeField(t.Field), phrase)
}

// checkPhrase keeps the entities whose field holds the words side by side.
func (ex *executor) checkPhrase(ents []string, field string, words []string) ([]string, error) {
	out := ents[:0:0]
	for _, e := range ents {
		s, err := ex.r.load(ex.ctx, strings.TrimPrefix(e, "ix:"))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if hasPhrase(fieldTexts(s.attrs, field), words) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (ex *executor) all() ([]string, error) {
	return ex.run([]datom.Clause{clause(attrIxOf, varV)})
}

func (ex *executor) eval(n query.Node) ([]string, error) {
	if err := ex.ctx.Err(); err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case query.All:
		return ex.all()
	case *query.Term:
		return ex.evalTerm(n)
	case *query.Bool:
		return ex.evalBool(n)
	}
	return nil, fmt.Errorf("%w: unknown query node %T", ErrInvalid, n)
}

func (ex *executor) evalBool(b *query.Bool) ([]string, error) {
	var must, should, not []query.Node
	for _, c := range b.Clauses {
		switch c.Occur {
		case query.Must:
			must = append(must, c.Node)
		case query.MustNot:
			not = append(not, c.Node)
		default:
			should = append(should, c.Node)
		}
	}
	var res []string
	switch {
	case len(must) > 0:
		// Each required term is one Datalog query, an index range read (or a cached column);
		// their sorted entity lists are intersected. (Joining them in one query costs a seek
		// per candidate entity instead.)
		for i, n := range must {
			if i > 0 && len(res) == 0 {
				break
			}
			ents, err := ex.eval(n)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				res = ents
			} else {
				res = intersect(res, ents)
			}
		}
	case len(should) > 0:
		for _, n := range should {
			ents, err := ex.eval(n)
			if err != nil {
				return nil, err
			}
			res = union(res, ents)
		}
	default:
		var err error
		if res, err = ex.all(); err != nil {
			return nil, err
		}
	}
	for _, n := range not {
		if len(res) == 0 {
			break
		}
		ents, err := ex.eval(n)
		if err != nil {
			return nil, err
		}
		res = difference(res, ents)
	}
	return res, nil
}

// hidden returns the private objects p may not read.
func (ex *executor) hidden(p Principal) ([]string, error) {
	private, err := ex.run([]datom.Clause{clause(attrIxPrivate, constTerm(datom.Bool(true)))})
	if err != nil || len(private) == 0 {
		return private, err
	}
	var allowed []string
	for _, name := range p.Names() {
		ents, err := ex.run([]datom.Clause{clause(attrIxReader, constTerm(datom.String(name)))})
		if err != nil {
			return nil, err
		}
		allowed = union(allowed, ents)
	}
	return difference(private, allowed), nil
}

// Set operations on sorted, distinct slices.

func intersect(a, b []string) []string {
	out := make([]string, 0, min(len(a), len(b)))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

func union(a, b []string) []string {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func difference(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := make([]string, 0, len(a))
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}

// sortKey returns an object's value for a sort field.
func sortKey(do *DigitalObject, f string) (any, bool) {
	switch f {
	case "id":
		return do.ID, true
	case "type":
		return do.Type, true
	}
	var attrs map[string]any
	dec := json.NewDecoder(strings.NewReader(string(do.Attributes)))
	dec.UseNumber()
	if dec.Decode(&attrs) != nil {
		return nil, false
	}
	switch f {
	case "createdOn", "modifiedOn", "createdBy", "modifiedBy", "txnId":
		f = "/metadata/" + f
	}
	if !strings.HasPrefix(f, "/") {
		f = "/" + f
	}
	for _, ptr := range []string{f, "/content" + f} {
		if v, ok := pointerGet(attrs, ptr); ok {
			return v, true
		}
	}
	return nil, false
}

// pointerGet follows a JSON pointer.
func pointerGet(v any, ptr string) (any, bool) {
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// compareKeys orders two sort values: missing last, numbers by value, the rest as text.
func compareKeys(a, b any, aok, bok bool) int {
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return 1
	case !bok:
		return -1
	}
	an, aIsNum := a.(json.Number)
	bn, bIsNum := b.(json.Number)
	if aIsNum && bIsNum {
		af, _ := an.Float64()
		bf, _ := bn.Float64()
		return cmp.Compare(af, bf)
	}
	as, _ := leafText(a)
	bs, _ := leafText(b)
	return strings.Compare(as, bs)
}

// sortIDs orders ids by the sort fields, then by id.
func sortIDs(ids []string, fields []SortField, get func(string) *DigitalObject) {
	slices.SortStableFunc(ids, func(x, y string) int {
		dx, dy := get(x), get(y)
		for _, f := range fields {
			kx, okx := sortKey(dx, f.Name)
			ky, oky := sortKey(dy, f.Name)
			c := compareKeys(kx, ky, okx, oky)
			if f.Desc && okx && oky {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(x, y)
	})
}
