package dwn

import (
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Indexes are the indexed properties of a stored message (dwn-sdk-js's KeyValues): each value is
// a string, a float64, a bool, or a []any of strings or numbers (tags).
type Indexes map[string]any

// Filter is a query filter (dwn-sdk-js's Filter): each property holds an equality value (string,
// float64, bool), a one-of list ([]any), or a range (*jsv.Object with gt, gte, lt, lte). Its
// property order is kept because store implementations choose the property to scan by it.
type Filter = *jsv.Object

// MatchFilter is FilterUtility.matchFilter: every filter property must match the indexed value
// (any element of an indexed array).
func MatchFilter(ix Indexes, f Filter) bool {
	for _, k := range f.Keys() {
		fv, _ := f.Get(k)
		iv, ok := ix[k]
		if !ok {
			return false
		}
		if arr, isArr := iv.([]any); isArr {
			matched := false
			for _, e := range arr {
				if matchIndexValue(fv, e) {
					matched = true
					break
				}
			}
			if !matched {
				return false
			}
		} else if !matchIndexValue(fv, iv) {
			return false
		}
	}
	return true
}

// MatchAnyFilter is FilterUtility.matchAnyFilter: no filters match everything.
func MatchAnyFilter(ix Indexes, fs []Filter) bool {
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		if MatchFilter(ix, f) {
			return true
		}
	}
	return false
}

func matchIndexValue(fv, iv any) bool {
	switch x := fv.(type) {
	case []any:
		for _, e := range x {
			if jsv.StrictEqual(iv, e) {
				return true
			}
		}
		return false
	case *jsv.Object:
		return matchRange(x, iv)
	}
	return jsv.StrictEqual(iv, fv)
}

func matchRange(r *jsv.Object, iv any) bool {
	if b, ok := r.Get("lt"); ok && !jsv.Less(iv, b) {
		return false
	}
	if b, ok := r.Get("lte"); ok && !jsv.LessOrEqual(iv, b) {
		return false
	}
	if b, ok := r.Get("gt"); ok && !jsv.Less(b, iv) {
		return false
	}
	if b, ok := r.Get("gte"); ok && !jsv.LessOrEqual(b, iv) {
		return false
	}
	return true
}

// IsRangeFilter is FilterUtility.isRangeFilter.
func IsRangeFilter(fv any) bool {
	o, ok := fv.(*jsv.Object)
	return ok && (o.Has("gt") || o.Has("lt") || o.Has("lte") || o.Has("gte"))
}

// IsEqualFilter is FilterUtility.isEqualFilter (anything that is not an object or array).
func IsEqualFilter(fv any) bool {
	switch fv.(type) {
	case *jsv.Object, []any, nil:
		return false
	}
	return true
}

// EncodeIndexValue is IndexLevel.encodeValue: numbers zero-padded to 16 characters (negatives
// offset and prefixed with '!'), everything else JSON.stringify'd. Index keys sort by it bytewise.
func EncodeIndexValue(v any) string {
	if f, ok := v.(float64); ok {
		prefix := ""
		if f < 0 {
			prefix = "!"
			f += maxSafeInteger
		}
		s := jsv.NumberString(f)
		if len(s) < 16 {
			s = strings.Repeat("0", 16-len(s)) + s
		}
		return prefix + s
	}
	return jsv.Stringify(v)
}

const maxSafeInteger = 1<<53 - 1

// ReduceFilter is FilterSelector.reduceFilter: the single property an index scan starts from.
func ReduceFilter(f Filter) (string, any) {
	keys := f.Keys()
	if len(keys) == 0 {
		return "", nil
	}
	if len(keys) == 1 {
		v, _ := f.Get(keys[0])
		return keys[0], v
	}
	for _, k := range []string{"recordId", "attester", "parentId", "recipient", "contextId", "protocolPath", "schema", "protocol"} {
		if v, ok := f.Get(k); ok {
			return k, v
		}
	}
	preferred := map[string]bool{"recordId": true, "attester": true, "parentId": true, "recipient": true, "contextId": true, "author": true, "protocolPath": true, "schema": true, "protocol": true}
	for _, k := range keys {
		if !preferred[k] {
			v, _ := f.Get(k)
			return k, v
		}
	}
	// only "author" is left among the destructured names: dwn-sdk-js then picks undefined
	return "", nil
}

// IsFilterConcise is IndexLevel.isFilterConcise, which decides between paging in memory and
// paging by iterating the sort index.
func IsFilterConcise(f Filter, hasCursor bool) bool {
	if f.Has("recordId") {
		return true
	}
	if hasCursor {
		return false
	}
	return f.Has("protocolPath") || f.Has("contextId") || f.Has("parentId") || f.Has("schema")
}

// prefixRange is FilterUtility.constructPrefixFilterAsRangeFilter.
func prefixRange(prefix string) *jsv.Object {
	r := jsv.NewObject()
	r.Set("gte", prefix)
	r.Set("lt", prefix+"\uffff")
	return r
}

// rangeCriterion is FilterUtility.convertRangeCriterion ({from, to} to {gte, lt}).
func rangeCriterion(c *jsv.Object) *jsv.Object {
	from, hasFrom := c.Get("from")
	to, hasTo := c.Get("to")
	if !hasFrom && !hasTo {
		return nil
	}
	r := jsv.NewObject()
	if hasFrom {
		r.Set("gte", from)
	}
	if hasTo {
		r.Set("lt", to)
	}
	return r
}
