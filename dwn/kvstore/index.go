package kvstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// index is dwn-sdk-js's IndexLevel over a Backend, under a key namespace.
//
//	ns 'x' tenant cid                  -> the item's indexes (CBOR)
//	ns 'i' tenant prop value 0x00 cid  -> empty
//
// tenant and prop are length-prefixed; value is dwn.EncodeIndexValue, which never holds a NUL.
type index struct {
	ns byte
}

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (ix index) itemKey(tenant, cid string) []byte {
	b := []byte{ix.ns, 'x'}
	b = appendLP(b, tenant)
	return append(b, cid...)
}

func (ix index) partition(tenant, prop string) []byte {
	b := []byte{ix.ns, 'i'}
	b = appendLP(b, tenant)
	return appendLP(b, prop)
}

func (ix index) entryKey(tenant, prop, enc, cid string) []byte {
	b := ix.partition(tenant, prop)
	b = append(b, enc...)
	b = append(b, 0)
	return append(b, cid...)
}

// item is an IndexedItem.
type item struct {
	cid string
	ix  dwn.Indexes
}

func encodeIndexes(ix dwn.Indexes) ([]byte, error) {
	o := jsv.NewObject()
	keys := make([]string, 0, len(ix))
	for k := range ix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.Set(k, ix[k])
	}
	return jsv.EncodeCBOR(o)
}

func decodeIndexes(b []byte) (dwn.Indexes, error) {
	v, err := jsv.DecodeCBOR(b)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		return nil, fmt.Errorf("%w: indexes are not a map", jsv.ErrCBOR)
	}
	ix := make(dwn.Indexes, o.Len())
	for _, k := range o.Keys() {
		ix[k], _ = o.Get(k)
	}
	return ix, nil
}

func (ix index) put(tx Tx, tenant, cid string, indexes dwn.Indexes) error {
	if err := ix.del(tx, tenant, cid); err != nil {
		return err
	}
	if len(indexes) == 0 {
		return &dwn.Error{Code: dwn.CodeIndexMissingIndexableProperty, Message: "Index must include at least one valid indexable property"}
	}
	v, err := encodeIndexes(indexes)
	if err != nil {
		return err
	}
	for prop, val := range indexes {
		if arr, ok := val.([]any); ok {
			for _, e := range arr {
				if err := tx.Set(ix.entryKey(tenant, prop, dwn.EncodeIndexValue(e), cid), nil); err != nil {
					return err
				}
			}
			continue
		}
		if err := tx.Set(ix.entryKey(tenant, prop, dwn.EncodeIndexValue(val), cid), nil); err != nil {
			return err
		}
	}
	return tx.Set(ix.itemKey(tenant, cid), v)
}

func (ix index) get(tx Tx, tenant, cid string) (dwn.Indexes, error) {
	b, ok, err := tx.Get(ix.itemKey(tenant, cid))
	if err != nil || !ok {
		return nil, err
	}
	return decodeIndexes(b)
}

func (ix index) del(tx Tx, tenant, cid string) error {
	old, err := ix.get(tx, tenant, cid)
	if err != nil || old == nil {
		return err
	}
	for prop, val := range old {
		if arr, ok := val.([]any); ok {
			for _, e := range arr {
				if err := tx.Delete(ix.entryKey(tenant, prop, dwn.EncodeIndexValue(e), cid)); err != nil {
					return err
				}
			}
			continue
		}
		if err := tx.Delete(ix.entryKey(tenant, prop, dwn.EncodeIndexValue(val), cid)); err != nil {
			return err
		}
	}
	return tx.Delete(ix.itemKey(tenant, cid))
}

// queryOptions are IndexLevel's QueryOptions. limit is pagination.limit + 1 (any number).
type queryOptions struct {
	sortProperty string
	descending   bool
	limit        *float64
	cursor       *dwn.Cursor
}

func cursorKey(c *dwn.Cursor) string {
	return dwn.EncodeIndexValue(c.Value) + "\x00" + c.MessageCID
}

// query is IndexLevel.query.
func (ix index) query(tx Tx, tenant string, filters []dwn.Filter, o queryOptions) ([]item, error) {
	inMemory := true
	for _, f := range filters {
		if !dwn.IsFilterConcise(f, o.cursor != nil) {
			inMemory = false
			break
		}
	}
	if inMemory {
		return ix.queryInMemory(tx, tenant, filters, o)
	}
	return ix.queryByIterator(tx, tenant, filters, o)
}

// cidOfEntry returns the CID at the end of an index entry key within its partition.
func cidOfEntry(rest []byte) string {
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return ""
	}
	return string(rest[i+1:])
}

func (ix index) queryByIterator(tx Tx, tenant string, filters []dwn.Filter, o queryOptions) ([]item, error) {
	part := ix.partition(tenant, o.sortProperty)
	var start []byte
	var startKey []byte
	if o.cursor != nil {
		startKey = append(append([]byte(nil), part...), cursorKey(o.cursor)...)
		start = startKey
	}
	var out []item
	err := tx.Iterate(part, start, o.descending, func(k, _ []byte) (bool, error) {
		if startKey != nil && bytes.Equal(k, startKey) {
			return true, nil // gt / lt: the cursor's own key is excluded
		}
		if o.limit != nil && float64(len(out)) == *o.limit {
			return false, nil
		}
		cid := cidOfEntry(k[len(part):])
		ixs, err := ix.get(tx, tenant, cid)
		if err != nil {
			return false, err
		}
		if ixs != nil && dwn.MatchAnyFilter(ixs, filters) {
			out = append(out, item{cid: cid, ix: ixs})
		}
		return true, nil
	})
	return out, err
}

func (ix index) queryInMemory(tx Tx, tenant string, filters []dwn.Filter, o queryOptions) ([]item, error) {
	if len(filters) == 0 {
		filters = []dwn.Filter{jsv.NewObject()}
	}
	matches := map[string]item{}
	for _, f := range filters {
		ok, err := ix.singleFilter(tx, tenant, f, o.sortProperty, matches)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil // a match without the sort property fails the whole query
		}
	}
	sorted := make([]item, 0, len(matches))
	for _, it := range matches {
		sorted = append(sorted, it)
	}
	sortKey := func(it item) string { return dwn.EncodeIndexValue(it.ix[o.sortProperty]) + it.cid }
	keys := make(map[string]string, len(sorted))
	for _, it := range sorted {
		keys[it.cid] = sortKey(it)
	}
	sort.Slice(sorted, func(i, j int) bool {
		c := jsv.CompareStrings(keys[sorted[i].cid], keys[sorted[j].cid])
		if o.descending {
			return c > 0
		}
		return c < 0
	})
	start := 0
	if o.cursor != nil {
		ck := cursorKey(o.cursor)
		start = -1
		for i, it := range sorted {
			k := dwn.EncodeIndexValue(it.ix[o.sortProperty]) + "\x00" + it.cid
			c := jsv.CompareStrings(k, ck)
			if (!o.descending && c > 0) || (o.descending && c < 0) {
				start = i
				break
			}
		}
		if start < 0 {
			return nil, nil
		}
	}
	end := len(sorted)
	if o.limit != nil {
		e := math.Trunc(float64(start) + *o.limit)
		if e < float64(end) {
			end = max(int(e), start)
		}
	}
	return sorted[start:end], nil
}

// singleFilter is executeSingleFilterQuery; it returns false when a match lacks the sort property.
func (ix index) singleFilter(tx Tx, tenant string, f dwn.Filter, sortProp string, matches map[string]item) (bool, error) {
	var cids []string
	seen := map[string]bool{}
	add := func(cid string) {
		if !seen[cid] {
			seen[cid] = true
			cids = append(cids, cid)
		}
	}
	if f.Len() == 0 {
		part := ix.partition(tenant, sortProp)
		if err := tx.Iterate(part, nil, false, func(k, _ []byte) (bool, error) {
			add(cidOfEntry(k[len(part):]))
			return true, nil
		}); err != nil {
			return false, err
		}
	} else {
		prop, val := dwn.ReduceFilter(f)
		if f.Len() <= 1 {
			// reduceFilter returns the filter itself: every property is searched
			for _, p := range f.Keys() {
				v, _ := f.Get(p)
				if err := ix.scanProperty(tx, tenant, p, v, add); err != nil {
					return false, err
				}
			}
		} else if prop != "" {
			if err := ix.scanProperty(tx, tenant, prop, val, add); err != nil {
				return false, err
			}
		}
	}
	for _, cid := range cids {
		if _, ok := matches[cid]; ok {
			continue
		}
		ixs, err := ix.get(tx, tenant, cid)
		if err != nil {
			return false, err
		}
		if ixs == nil || !dwn.MatchFilter(ixs, f) {
			continue
		}
		if _, ok := ixs[sortProp]; !ok {
			return false, nil
		}
		matches[cid] = item{cid: cid, ix: ixs}
	}
	return true, nil
}

func (ix index) scanProperty(tx Tx, tenant, prop string, fv any, add func(string)) error {
	switch {
	case dwn.IsEqualFilter(fv):
		return ix.exactMatches(tx, tenant, prop, fv, add)
	case isOneOf(fv):
		seen := map[string]bool{}
		for _, v := range fv.([]any) {
			k := jsv.TypeOf(v) + ":" + dwn.EncodeIndexValue(v)
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := ix.exactMatches(tx, tenant, prop, v, add); err != nil {
				return err
			}
		}
		return nil
	case dwn.IsRangeFilter(fv):
		return ix.rangeMatches(tx, tenant, prop, fv.(*jsv.Object), add)
	}
	return nil
}

func isOneOf(v any) bool { _, ok := v.([]any); return ok }

// exactMatches is filterExactMatches: every key after the encoded value that starts with it.
func (ix index) exactMatches(tx Tx, tenant, prop string, v any, add func(string)) error {
	part := ix.partition(tenant, prop)
	prefix := append(append([]byte(nil), part...), dwn.EncodeIndexValue(v)...)
	return tx.Iterate(prefix, prefix, false, func(k, _ []byte) (bool, error) {
		if bytes.Equal(k, prefix) {
			return true, nil
		}
		add(cidOfEntry(k[len(part):]))
		return true, nil
	})
}

// rangeMatches is filterRangeMatches: the keys within the encoded bounds (compared bytewise with
// the CID suffix, as LevelDB compares them), without those whose value is the gt bound, plus for
// lte the exact matches of its bound.
func (ix index) rangeMatches(tx Tx, tenant, prop string, r *jsv.Object, add func(string)) error {
	part := ix.partition(tenant, prop)
	bound := func(name string) ([]byte, bool) {
		v, ok := r.Get(name)
		if !ok {
			return nil, false
		}
		return []byte(dwn.EncodeIndexValue(v)), true
	}
	gt, hasGT := bound("gt")
	gte, hasGTE := bound("gte")
	lt, hasLT := bound("lt")
	lte, hasLTE := bound("lte")
	var start []byte
	switch {
	case hasGTE:
		start = append(append([]byte(nil), part...), gte...)
	case hasGT:
		start = append(append([]byte(nil), part...), gt...)
	}
	err := tx.Iterate(part, start, false, func(k, _ []byte) (bool, error) {
		rest := k[len(part):]
		if hasGT && bytes.Compare(rest, gt) <= 0 {
			return true, nil
		}
		if hasGTE && bytes.Compare(rest, gte) < 0 {
			return true, nil
		}
		if hasLT && bytes.Compare(rest, lt) >= 0 {
			return false, nil
		}
		if hasLTE && bytes.Compare(rest, lte) > 0 {
			return false, nil
		}
		if hasGT {
			if i := bytes.IndexByte(rest, 0); i >= 0 && bytes.Equal(rest[:i], gt) {
				return true, nil
			}
		}
		add(cidOfEntry(rest))
		return true, nil
	})
	if err != nil || !hasLTE {
		return err
	}
	v, _ := r.Get("lte")
	return ix.exactMatches(tx, tenant, prop, v, add)
}
