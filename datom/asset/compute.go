package asset

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// Queries on the owner's peer: a grantee with ActQuery sends a Datalog query for one core of an
// asset and receives only the result rows. For a compute asset the query must be one of the
// asset's allowed queries (the same clauses; only the :in bindings may differ). For an asset
// whose member is part of a core (some attributes, an entity prefix), the query may only name
// those attributes, as constants, and every entity it binds is held to the prefix.

// QueryProtocol is the libp2p protocol of queries on an owner's peer.
const QueryProtocol = "/datomspace/asset/query/1.0.0"

// QueryRequest is a query for one core.
type QueryRequest struct {
	Core       corestore.Key
	Query      string // JSON or EDN (datom.ParseQuery)
	Credential []byte
}

type wireQueryRequest struct {
	_          struct{} `cbor:",toarray"`
	V          uint64
	Core       []byte
	Query      string
	Credential []byte
}

// MaxQueryRequestSize bounds an encoded query request.
const MaxQueryRequestSize = 64 << 10

// MaxQueryResultSize bounds an encoded query result.
const MaxQueryResultSize = 16 << 20

// Encode returns the request's bytes.
func (r *QueryRequest) Encode() []byte {
	cred := r.Credential
	if cred == nil {
		cred = []byte{}
	}
	return marshal(&wireQueryRequest{V: 1, Core: r.Core[:], Query: r.Query, Credential: cred})
}

// DecodeQueryRequest decodes a query request received from a peer.
func DecodeQueryRequest(b []byte) (*QueryRequest, error) {
	if len(b) > MaxQueryRequestSize {
		return nil, fmt.Errorf("%w: a query request of %d bytes", ErrBadMessage, len(b))
	}
	var w wireQueryRequest
	if err := unmarshalCanonical(b, &w, "query request", ErrBadMessage); err != nil {
		return nil, err
	}
	if w.V != 1 || len(w.Credential) > MaxCredentialSize || w.Query == "" {
		return nil, fmt.Errorf("%w: query request version %d", ErrBadMessage, w.V)
	}
	k, err := key32(w.Core, "query request core", ErrBadMessage)
	if err != nil {
		return nil, err
	}
	return &QueryRequest{Core: k, Query: w.Query, Credential: w.Credential}, nil
}

// templateOf returns the query's clauses as a canonical text, without its bindings and cores.
func templateOf(q *datom.Query) string {
	t := *q
	t.In, t.AsOf, t.Cores = nil, nil, nil
	return t.String()
}

// Restrict checks q against what the grant covers and rewrites it to fit: it runs on core only;
// for a compute asset it must be an allowed query; for members that are parts of core, every
// attribute must be a constant among theirs and every entity is held to their prefix. It
// returns the query to run.
func Restrict(a *Asset, core corestore.Key, q *datom.Query) (*datom.Query, error) {
	out := *q
	out.Where = slices.Clone(q.Where)
	out.Cores = []corestore.Key{core}
	if a.Level == Compute {
		tmpl := templateOf(q)
		ok := false
		for _, allowed := range a.Queries {
			aq, err := datom.ParseQuery([]byte(allowed))
			if err == nil && templateOf(aq) == tmpl {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: asset %q allows %d queries, and this is not one of them", ErrQueryNotAllowed, a.Name, len(a.Queries))
		}
	}
	members := a.MembersOf(core)
	if len(members) == 0 {
		return nil, fmt.Errorf("%w: core %s is not a member of asset %q", ErrQueryNotAllowed, core, a.Name)
	}
	for _, m := range members {
		if m.WholeCore() {
			return &out, nil // the whole core is granted: nothing to hold back
		}
	}
	// Union of the members' attributes and prefixes: a datom is covered when one member covers
	// it. With several partial members that differ in both, hold to the first one's scope.
	m := members[0]
	var extra []datom.Clause
	vars := map[string]bool{}
	for i, c := range out.Where {
		if c.Pred != "" {
			continue
		}
		if len(m.Attrs) > 0 {
			at := c.Terms[1]
			if at.Var != "" || at.Wild || !slices.Contains(m.Attrs, at.Value.Str) {
				return nil, fmt.Errorf("%w: clause %d reaches attribute %s; the grant covers %s only", ErrQueryNotAllowed, i+1, termText(at), strings.Join(m.Attrs, ", "))
			}
		}
		if m.Prefix != "" {
			e := c.Terms[0]
			switch {
			case e.Wild:
				v := fmt.Sprintf("?__e%d", i)
				c.Terms = slices.Clone(c.Terms)
				c.Terms[0] = datom.Term{Var: v}
				out.Where[i] = c
				vars[v] = true
			case e.Var != "":
				vars[e.Var] = true
			case !strings.HasPrefix(e.Value.Str, m.Prefix):
				return nil, fmt.Errorf("%w: clause %d names entity %q outside %q", ErrQueryNotAllowed, i+1, e.Value.Str, m.Prefix)
			}
		}
	}
	names := mapKeys(vars)
	slices.Sort(names)
	for _, v := range names {
		extra = append(extra, datom.Clause{Pred: "prefix", Args: []datom.Term{{Var: v}, {Value: datom.String(m.Prefix)}}})
	}
	out.Where = append(out.Where, extra...)
	return &out, nil
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func termText(t datom.Term) string {
	switch {
	case t.Var != "":
		return t.Var
	case t.Wild:
		return "_"
	}
	return t.Value.Str
}

// QueryResult is what a query answered: its columns and rows.
type QueryResult struct {
	Columns []string
	Rows    [][]datom.Value
}

// EncodeQueryResult returns r's rows as the query protocol carries them: JSON
// {"columns": [...], "rows": [[value, ...], ...]}.
func EncodeQueryResult(r *datom.Result) ([]byte, error) {
	out := struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}{Columns: r.Columns, Rows: [][]any{}}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	for _, row := range r.Rows {
		vs := make([]any, len(row.Values))
		for i, v := range row.Values {
			vs[i] = v.JSON()
		}
		out.Rows = append(out.Rows, vs)
	}
	return json.Marshal(out)
}

// DecodeQueryResult decodes a query answer received from a peer.
func DecodeQueryResult(b []byte) (*QueryResult, error) {
	if len(b) > MaxQueryResultSize {
		return nil, fmt.Errorf("%w: a query result of %d bytes", ErrBadMessage, len(b))
	}
	var w struct {
		Columns []string            `json:"columns"`
		Rows    [][]json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: query result: %v", ErrBadMessage, err)
	}
	r := &QueryResult{Columns: w.Columns}
	for i, row := range w.Rows {
		if len(row) != len(w.Columns) {
			return nil, fmt.Errorf("%w: row %d has %d values for %d columns", ErrBadMessage, i, len(row), len(w.Columns))
		}
		vs := make([]datom.Value, len(row))
		for k, raw := range row {
			v, err := datom.ParseValueJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: row %d: %v", ErrBadMessage, i, err)
			}
			vs[k] = v
		}
		r.Rows = append(r.Rows, vs)
	}
	return r, nil
}
