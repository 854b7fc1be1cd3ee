package datom

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	badger "github.com/dgraph-io/badger/v4"
)

// maxRows bounds the rows a query may build, so that a query with a huge cross product fails
// early even when the memory budget is large.
const maxRows = MaxQueryRows

// tooManyRows is the error of a query that builds more than maxRows rows.
func tooManyRows(what string) error {
	return fmt.Errorf("%w: %w: it %s more than %d rows in one core; bind more variables or narrow it", ErrQueryTooLarge, ErrTooManyRows, what, maxRows)
}

// estimateCap bounds how many index entries the planner counts to estimate a clause's size.
const estimateCap = 2048

// evaluation is the state of one query in one core: the rows bound so far.
type evaluation struct {
	ctx   context.Context
	v     *view
	sch   *schema
	slots map[string]int
	bound []bool
	rows  [][]Value
	cols  *columnCache
	slab  []Value // new rows are carved from here

	// mem accounts the query's memory: rowBytes for the rows being built and those they share
	// memory with, memoBytes for the index entries looked up by the join in progress.
	mem       *queryMem
	rowBytes  int64
	memoBytes int64
}

// chargeRows accounts n bytes of rows.
func (ev *evaluation) chargeRows(n int64) error {
	if err := ev.mem.grow(n); err != nil {
		return err
	}
	ev.rowBytes += n
	return nil
}

// chargeMemo accounts n bytes of looked-up index entries.
func (ev *evaluation) chargeMemo(n int64) error {
	if err := ev.mem.grow(n); err != nil {
		return err
	}
	ev.memoBytes += n
	return nil
}

// newRow returns a copy of row, carved from a slab so that a join of many rows allocates rarely.
func (ev *evaluation) newRow(row []Value) ([]Value, error) {
	if len(ev.slab) < len(row) {
		n := max(len(row)*1024, len(row))
		if err := ev.chargeRows(int64(n) * valueBytes); err != nil {
			return nil, err
		}
		ev.slab = make([]Value, n)
	}
	nr := ev.slab[:len(row):len(row)]
	ev.slab = ev.slab[len(row):]
	copy(nr, row)
	return nr, nil
}

// appendRow appends nr to next, accounting next's growth.
func (ev *evaluation) appendRow(next [][]Value, nr []Value) ([][]Value, error) {
	c0 := cap(next)
	next = append(next, nr)
	if c := cap(next); c != c0 {
		if err := ev.chargeRows(int64(c-c0) * rowHeader); err != nil {
			return nil, err
		}
	}
	if len(next) > maxRows {
		return nil, tooManyRows("builds")
	}
	return next, nil
}

// queryCore runs q on one core. known lists the attributes of attrs this core knows.
//
// The rows it returns stay accounted in mem; the memory of its evaluation is given back.
func (db *DB) queryCore(ctx context.Context, ci *coreIndex, q *Query, attrs map[string]bool, mem *queryMem) ([]Row, map[string]bool, []string, error) {
	v := &view{txn: db.bdb.NewTransaction(false), key: ci.key, cid: ci.state.Load().cid, asOf: q.AsOf, its: map[byte]*badger.Iterator{}}
	defer v.close()
	ev := &evaluation{ctx: ctx, v: v, sch: ci.sch.Load(), slots: map[string]int{}, cols: db.cols, mem: mem}
	defer func() { mem.shrink(ev.rowBytes + ev.memoBytes) }()
	known := map[string]bool{}
	for a := range attrs {
		if _, ok := ev.sch.attrs[a]; ok {
			known[a] = true
			continue
		}
		n, err := ev.count(subAEVT, appendKeyString(corePrefix(subAEVT, v.cid), a), 1)
		if err != nil {
			return nil, nil, nil, err
		}
		if n > 0 {
			known[a] = true
		}
	}
	var notes []string
	slot := func(name string) {
		if _, ok := ev.slots[name]; !ok {
			ev.slots[name] = len(ev.slots)
		}
	}
	var data, preds []Clause
	for _, c := range q.Where {
		if c.Pred != "" {
			preds = append(preds, c)
			continue
		}
		c.Terms = slices.Clone(c.Terms)
		for _, t := range c.Terms {
			if t.Var != "" {
				slot(t.Var)
			}
		}
		// Constants take the attribute's type, as in transactions.
		if a := c.Terms[1]; a.Var == "" && !a.Wild && c.Terms[2].Var == "" && !c.Terms[2].Wild {
			if at, ok := ev.sch.attrs[a.Value.Str]; ok && at.Type != 0 {
				cv, err := coerce(c.Terms[2].Value, at.Type)
				if err != nil {
					notes = append(notes, fmt.Sprintf("core %s: %s: %v: no match", ci.key, a.Value.Str, err))
					return nil, known, notes, nil
				}
				c.Terms[2].Value = cv
			}
		}
		data = append(data, c)
	}
	for name := range q.In {
		slot(name)
	}
	for _, c := range preds {
		for _, t := range c.Args {
			if t.Var != "" {
				slot(t.Var)
			}
		}
	}
	ev.bound = make([]bool, len(ev.slots))
	ev.rows = [][]Value{make([]Value, len(ev.slots))}
	for _, name := range slices.Sorted(mapKeys(q.In)) {
		s := ev.slots[name]
		if len(ev.rows)*len(q.In[name]) > maxRows {
			return nil, nil, nil, tooManyRows("binds in")
		}
		next := make([][]Value, 0, len(ev.rows)*len(q.In[name]))
		if err := ev.chargeRows(int64(cap(next)) * (rowHeader + int64(len(ev.slots))*valueBytes)); err != nil {
			return nil, nil, nil, err
		}
		for _, r := range ev.rows {
			for _, val := range q.In[name] {
				nr := slices.Clone(r)
				nr[s] = val
				next = append(next, nr)
			}
		}
		ev.rows, ev.bound[s] = next, true
	}
	preds = ev.filter(preds)
	for len(data) > 0 && len(ev.rows) > 0 {
		best, bestCost, bestFree := 0, int64(-1), 0
		for i, c := range data {
			cost, err := ev.cost(c)
			if err != nil {
				return nil, nil, nil, err
			}
			free := ev.free(c)
			if bestCost < 0 || cost < bestCost || (cost == bestCost && free < bestFree) {
				best, bestCost, bestFree = i, cost, free
			}
		}
		if err := ev.join(data[best]); err != nil {
			return nil, nil, nil, err
		}
		data = slices.Delete(data, best, best+1)
		preds = ev.filter(preds)
	}
	if len(data) > 0 {
		ev.rows = nil
	}
	// Project, sort, dedupe. The result stays accounted until the query returns.
	if err := mem.grow(int64(len(ev.rows)) * (resultRow + int64(len(q.Find))*valueBytes)); err != nil {
		return nil, nil, nil, err
	}
	out := make([]Row, 0, len(ev.rows))
	for _, r := range ev.rows {
		vals := make([]Value, len(q.Find))
		for i, name := range q.Find {
			vals[i] = r[ev.slots[name]]
		}
		out = append(out, Row{Core: ci.key, Values: vals})
	}
	cmpRows := func(a, b Row) int {
		for i := range a.Values {
			if c := Compare(a.Values[i], b.Values[i]); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Values[i].Kind, b.Values[i].Kind); c != 0 {
				return c // 1 and 1.0 compare equal but are two values
			}
		}
		return 0
	}
	slices.SortFunc(out, cmpRows)
	out = slices.CompactFunc(out, func(a, b Row) bool { return cmpRows(a, b) == 0 })
	return out, known, notes, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (ev *evaluation) known(t Term) bool {
	return t.Var == "" && !t.Wild || t.Var != "" && ev.bound[ev.slots[t.Var]]
}

func (ev *evaluation) free(c Clause) int {
	n := 0
	for _, t := range c.Terms {
		if !ev.known(t) {
			n++
		}
	}
	return n
}

// cost estimates the index entries a clause reads given the variables bound so far.
func (ev *evaluation) cost(c Clause) (int64, error) {
	e, a, v := c.Terms[0], c.Terms[1], c.Terms[2]
	usesBound := false
	for _, t := range c.Terms {
		if t.Var != "" && ev.bound[ev.slots[t.Var]] {
			usesBound = true
		}
	}
	var per int64
	cid := ev.v.cid
	switch {
	case ev.known(e):
		per = 1
	case ev.known(a) && ev.known(v):
		if v.Var == "" && a.Var == "" {
			n, err := ev.count(subAVET, v.Value.key(appendKeyString(corePrefix(subAVET, cid), a.Value.Str)), estimateCap)
			if err != nil {
				return 0, err
			}
			per = int64(n)
		} else {
			per = 4
		}
	case ev.known(v):
		per = 16
	case ev.known(a):
		if a.Var == "" {
			n, err := ev.count(subAEVT, appendKeyString(corePrefix(subAEVT, cid), a.Value.Str), estimateCap)
			if err != nil {
				return 0, err
			}
			per = int64(n)
		} else {
			per = estimateCap
		}
	default:
		per = 1 << 40
	}
	if usesBound {
		per *= int64(len(ev.rows))
	}
	return per, nil
}

// count counts the index keys under prefix, up to limit.
func (ev *evaluation) count(sub byte, prefix []byte, limit int) (int, error) {
	it := ev.v.iter(sub)
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix) && n < limit; it.Next() {
		n++
	}
	return n, ev.ctx.Err()
}

// pattern is a clause with the current row's values substituted.
type pattern struct {
	e, a   string
	v      Value
	tx     uint64
	hasE   bool
	hasA   bool
	hasV   bool
	hasTx  bool
	noHits bool // a bound value can never match (wrong kind)
}

func (ev *evaluation) pattern(c Clause, row []Value) pattern {
	var p pattern
	val := func(t Term) (Value, bool) {
		if t.Wild {
			return Value{}, false
		}
		if t.Var == "" {
			return t.Value, true
		}
		if s := ev.slots[t.Var]; ev.bound[s] {
			return row[s], true
		}
		return Value{}, false
	}
	if x, ok := val(c.Terms[0]); ok {
		if x.Kind != KindRef && x.Kind != KindString {
			p.noHits = true
		}
		p.e, p.hasE = x.Str, true
	}
	if x, ok := val(c.Terms[1]); ok {
		if x.Kind != KindString {
			p.noHits = true
		}
		p.a, p.hasA = x.Str, true
	}
	if x, ok := val(c.Terms[2]); ok {
		p.v, p.hasV = x, true
		if p.hasA {
			if at, ok := ev.sch.attrs[p.a]; ok && at.Type != 0 && x.Kind != at.Type {
				cv, err := coerce(x, at.Type)
				if err != nil {
					p.noHits = true
				}
				p.v = cv
			}
		}
	}
	if len(c.Terms) == 4 {
		if x, ok := val(c.Terms[3]); ok {
			if x.Kind != KindInt || x.Int < 0 {
				p.noHits = true
			}
			p.tx, p.hasTx = uint64(x.Int), true
		}
	}
	return p
}

// memoKey identifies a pattern, for reusing one lookup across rows that give the same pattern.
func (p *pattern) memoKey(b []byte) []byte {
	b = append(b, boolByte(p.hasE), boolByte(p.hasA), boolByte(p.hasV), boolByte(p.hasTx), boolByte(p.noHits))
	b = appendKeyString(appendKeyString(b, p.e), p.a)
	if p.hasV {
		b = p.v.key(b)
	}
	return binary.BigEndian.AppendUint64(b, p.tx)
}

// lookup returns the visible entries that match p, using the most specific index.
func (ev *evaluation) lookup(p pattern) ([]entry, error) {
	if p.noHits {
		return nil, nil
	}
	cid := ev.v.cid
	var sub byte
	var prefix []byte
	switch {
	case p.hasE:
		sub, prefix = subEAVT, appendKeyString(corePrefix(subEAVT, cid), p.e)
		if p.hasA {
			prefix = appendKeyString(prefix, p.a)
			if p.hasV {
				prefix = p.v.key(prefix)
			}
		}
	case p.hasA && p.hasV:
		sub, prefix = subAVET, p.v.key(appendKeyString(corePrefix(subAVET, cid), p.a))
	case p.hasV && p.v.Kind == KindRef:
		sub, prefix = subVAET, p.v.key(corePrefix(subVAET, cid))
	case p.hasA:
		sub, prefix = subAEVT, appendKeyString(corePrefix(subAEVT, cid), p.a)
	default:
		sub, prefix = subEAVT, corePrefix(subEAVT, cid)
	}
	// A value lookup in the current view is answered from the attribute's cached column, and a
	// large one (estimateCap entries or more) caches the column for the next query.
	valueLookup := sub == subAVET && !p.hasTx && ev.v.asOf == nil
	if valueLookup {
		if col, err := ev.v.column(ev.cols, p.a, false); err != nil || col != nil {
			if err != nil {
				return nil, err
			}
			hits := col.withValue(p.v.key(nil))
			// The entries' strings belong to the cached column.
			return hits, ev.chargeMemo(int64(len(hits)) * entryBytes)
		}
	}
	var out []entry
	var merr error
	err := ev.v.scan(ev.ctx, sub, prefix, func(en *entry) bool {
		if !en.visible(ev.v.asOf) ||
			p.hasE && en.e != p.e || p.hasA && en.a != p.a || p.hasTx && en.tx != p.tx ||
			p.hasV && !valueEq(en.v, p.v) {
			return true
		}
		if merr = ev.chargeMemo(en.memBytes()); merr != nil {
			return false
		}
		out = append(out, *en)
		return true
	})
	if err == nil {
		err = merr
	}
	if err == nil && valueLookup && len(out) >= estimateCap {
		_, err = ev.v.column(ev.cols, p.a, true)
	}
	return out, err
}

// mergeMin is the number of distinct entities from which join reads a cardinality lookup as one
// ordered pass over AEVT instead of one seek per entity.
const mergeMin = 64

// prefetch fills memo for clauses whose entity comes from bound rows and whose attribute is a
// constant: the patterns are sorted by entity and read in one forward pass over the attribute's
// AEVT range, stepping with Next where the next entity is near and seeking where it is not.
func (ev *evaluation) prefetch(c Clause, memo map[string][]entry) error {
	e, a := c.Terms[0], c.Terms[1]
	if e.Var == "" || !ev.bound[ev.slots[e.Var]] || a.Var != "" || a.Wild || len(ev.rows) < mergeMin {
		return nil
	}
	type pat struct {
		p   pattern
		key string
	}
	seen := map[string]bool{}
	var pats []pat
	var mk []byte
	for _, row := range ev.rows {
		p := ev.pattern(c, row)
		if p.noHits {
			continue
		}
		mk = p.memoKey(mk[:0])
		if !seen[string(mk)] {
			if err := ev.chargeMemo(int64(unsafe.Sizeof(pat{})) + memoEntry + 2*int64(len(mk))); err != nil {
				return err
			}
			seen[string(mk)] = true
			pats = append(pats, pat{p, string(mk)})
		}
	}
	if len(pats) < mergeMin {
		return nil
	}
	slices.SortFunc(pats, func(x, y pat) int { return strings.Compare(x.p.e, y.p.e) })
	it := ev.v.iter(subAEVT)
	attrPrefix := appendKeyString(corePrefix(subAEVT, ev.v.cid), a.Value.Str)
	var prefix []byte
	first := true
	for i, pt := range pats {
		if i%1024 == 0 {
			if err := ev.ctx.Err(); err != nil {
				return err
			}
		}
		p := pt.p
		prefix = appendKeyString(append(prefix[:0], attrPrefix...), p.e)
		if first {
			it.Seek(prefix)
			first = false
		} else {
			for steps := 0; it.Valid() && bytes.Compare(it.Item().Key(), prefix) < 0; steps++ {
				if steps == 16 {
					it.Seek(prefix)
					break
				}
				it.Next()
			}
		}
		var hits []entry
		for ; it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			if ev.v.asOf == nil && item.ValueSize() != 0 {
				continue // retracted: not in the current view
			}
			en, err := itemEntry(item)
			if err != nil {
				return err
			}
			if !en.visible(ev.v.asOf) || en.e != p.e || p.hasTx && en.tx != p.tx || p.hasV && !valueEq(en.v, p.v) {
				continue
			}
			if err := ev.chargeMemo(en.memBytes()); err != nil {
				return err
			}
			hits = append(hits, en)
		}
		if err := ev.chargeMemo(memoEntry + int64(len(pt.key))); err != nil {
			return err
		}
		memo[pt.key] = hits
	}
	return nil
}

// join extends every row with the matches of clause c.
func (ev *evaluation) join(c Clause) error {
	// A clause that binds a new variable copies every row it extends, so the rows before it are
	// garbage afterwards; one that binds none keeps some of them, and their memory.
	bindsNew := false
	for _, t := range c.Terms {
		if t.Var != "" && !ev.bound[ev.slots[t.Var]] {
			bindsNew = true
		}
	}
	before := ev.rowBytes
	ev.rowBytes = 0
	if bindsNew {
		ev.slab = nil // its rest was accounted with the rows before
	}
	defer func() {
		ev.mem.shrink(ev.memoBytes)
		ev.memoBytes = 0
		if bindsNew {
			ev.mem.shrink(before)
		} else {
			ev.rowBytes += before
		}
	}()
	next, used, err := ev.joinColumn(c)
	if err != nil {
		return err
	}
	if !used {
		memo := map[string][]entry{}
		if err := ev.prefetch(c, memo); err != nil {
			return err
		}
		var mk []byte
		for i, row := range ev.rows {
			if i%1024 == 0 {
				if err := ev.ctx.Err(); err != nil {
					return err
				}
			}
			p := ev.pattern(c, row)
			mk = p.memoKey(mk[:0])
			hits, ok := memo[string(mk)]
			if !ok {
				if hits, err = ev.lookup(p); err != nil {
					return err
				}
				if err := ev.chargeMemo(memoEntry + int64(len(mk))); err != nil {
					return err
				}
				memo[string(mk)] = hits
			}
			for k := range hits {
				if next, err = ev.extend(c, row, &hits[k], next); err != nil {
					return err
				}
			}
		}
	}
	for _, t := range c.Terms {
		if t.Var != "" {
			ev.bound[ev.slots[t.Var]] = true
		}
	}
	ev.rows = next
	return nil
}

// joinColumn joins c through the cached column of its attribute when c's entity is a bound
// variable, its attribute a constant, the rows many and the view current: one map lookup per
// row. used is false when c does not qualify.
func (ev *evaluation) joinColumn(c Clause) (next [][]Value, used bool, err error) {
	e, a := c.Terms[0], c.Terms[1]
	if e.Var == "" || !ev.bound[ev.slots[e.Var]] || a.Var != "" || a.Wild || len(ev.rows) < mergeMin {
		return nil, false, nil
	}
	col, err := ev.v.column(ev.cols, a.Value.Str, true)
	if err != nil || col == nil {
		return nil, false, err
	}
	es := ev.slots[e.Var]
	if err := ev.chargeRows(int64(len(ev.rows)) * rowHeader); err != nil {
		return nil, false, err
	}
	next = make([][]Value, 0, len(ev.rows))
	for i, row := range ev.rows {
		if i%4096 == 0 {
			if err := ev.ctx.Err(); err != nil {
				return nil, false, err
			}
		}
		if x := row[es]; x.Kind == KindRef || x.Kind == KindString {
			hits := col.byE[x.Str]
			for k := range hits {
				if next, err = ev.extend(c, row, &hits[k], next); err != nil {
					return nil, false, err
				}
			}
		}
	}
	return next, true, nil
}

// extend appends to next the row extended by the index entry en, a match of clause c's
// constants, unless en contradicts a variable the row or c itself already binds.
func (ev *evaluation) extend(c Clause, row []Value, en *entry, next [][]Value) ([][]Value, error) {
	nr := row
	cloned := false
	for pos, t := range c.Terms {
		if t.Var == "" {
			if pos == 2 && !t.Wild && !valueEq(en.v, t.Value) || pos == 3 && !t.Wild && !termEq(t.Value, Int(int64(en.tx))) {
				return next, nil
			}
			continue
		}
		var x Value
		switch pos {
		case 0:
			x = Ref(en.e)
		case 1:
			x = String(en.a)
		case 2:
			x = en.v
		case 3:
			x = Int(int64(en.tx))
		}
		s := ev.slots[t.Var]
		if ev.bound[s] || boundEarlier(c, pos, t.Var) {
			if !termEq(nr[s], x) {
				return next, nil
			}
			continue
		}
		if !cloned {
			var err error
			if nr, err = ev.newRow(row); err != nil {
				return nil, err
			}
			cloned = true
		}
		nr[s] = x
	}
	return ev.appendRow(next, nr)
}

// boundEarlier reports whether variable name occurs in c before position pos.
func boundEarlier(c Clause, pos int, name string) bool {
	for i := 0; i < pos; i++ {
		if c.Terms[i].Var == name {
			return true
		}
	}
	return false
}

// termEq compares a bound value with an index value; an entity id given as a string matches the
// entity.
func termEq(bound, x Value) bool {
	if x.Kind == KindRef && bound.Kind == KindString {
		return bound.Str == x.Str
	}
	return valueEq(bound, x)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// filter applies the predicates whose variables are all bound and returns the rest.
func (ev *evaluation) filter(preds []Clause) []Clause {
	var rest []Clause
	for _, c := range preds {
		ready := true
		for _, t := range c.Args {
			if t.Var != "" && !ev.bound[ev.slots[t.Var]] {
				ready = false
			}
		}
		if !ready {
			rest = append(rest, c)
			continue
		}
		kept := ev.rows[:0]
		for _, r := range ev.rows {
			arg := func(t Term) Value {
				if t.Var != "" {
					return r[ev.slots[t.Var]]
				}
				return t.Value
			}
			if evalPred(c.Pred, arg(c.Args[0]), arg(c.Args[1])) {
				kept = append(kept, r)
			}
		}
		ev.rows = kept
	}
	return rest
}

func evalPred(op string, x, y Value) bool {
	numEq := isNum(x) && isNum(y) && num(x) == num(y)
	switch op {
	case "=":
		return termEq(x, y) || termEq(y, x) || numEq
	case "!=":
		return !(termEq(x, y) || termEq(y, x) || numEq)
	case "prefix":
		switch {
		case (x.Kind == KindString || x.Kind == KindRef) && (y.Kind == KindString || y.Kind == KindRef):
			return strings.HasPrefix(x.Str, y.Str)
		case x.Kind == KindBytes && y.Kind == KindBytes:
			return bytes.HasPrefix(x.Bytes, y.Bytes)
		}
		return false
	}
	if x.Kind != y.Kind && !(isNum(x) && isNum(y)) || x.Kind == KindBool || x.Kind == KindCoreRef || x.Kind == KindBlob {
		return false
	}
	c := Compare(x, y)
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// valueEq is Value.Equal without encoding.
func valueEq(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindString, KindRef:
		return a.Str == b.Str
	case KindInt:
		return a.Int == b.Int
	case KindFloat:
		return a.Float == b.Float
	case KindBool:
		return a.Bool == b.Bool
	case KindBytes:
		return bytes.Equal(a.Bytes, b.Bytes)
	case KindTime:
		return a.Time.Equal(b.Time)
	case KindCoreRef:
		return a.Core == b.Core && a.Str == b.Str
	case KindBlob:
		return a.Blob.CID.Equals(b.Blob.CID) && a.Blob.Size == b.Blob.Size && a.BlobOf == b.BlobOf
	}
	return true
}
