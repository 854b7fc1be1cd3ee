// Package jsv holds JSON values as JavaScript sees them, so that Go code can judge DWN messages
// the way dwn-sdk-js does: objects keep JavaScript's property order (array-index keys first in
// numeric order, then the others in insertion order), numbers are float64, and strings compare by
// UTF-16 code units.
//
// A value is one of: nil (null), bool, float64, string, []any, *Object. CBOR byte strings decode
// to []byte, which JSON cannot carry.
//
// Parse is JSON.parse (with V8's error messages, which dwn-sdk-js lets into reply details) and
// Stringify is JSON.stringify. EncodeCBOR and DecodeCBOR are strict DAG-CBOR as @ipld/dag-cbor
// writes it, over which message and descriptor CIDs are computed. CompareStrings, Less,
// StrictEqual, Truthy and ToNumber are JavaScript's comparisons and conversions; DeepEqual is
// the structural equality AJV uses.
package jsv

import (
	"math"
	"strconv"
)

// Object is a JSON object with JavaScript's own-property order. Small objects are searched
// linearly; an index map is kept from indexThreshold properties on.
type Object struct {
	keys []string
	vals []any
	idx  map[string]int
}

const indexThreshold = 16

// NewObject returns an empty object.
func NewObject() *Object { return &Object{} }

// Len returns the number of properties.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Keys returns the property names in JavaScript order. The slice must not be modified.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

func (o *Object) find(key string) int {
	if o.idx != nil {
		if i, ok := o.idx[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range o.keys {
		if k == key {
			return i
		}
	}
	return -1
}

func (o *Object) reindex() {
	if len(o.keys) < indexThreshold {
		o.idx = nil
		return
	}
	o.idx = make(map[string]int, len(o.keys))
	for i, k := range o.keys {
		o.idx[k] = i
	}
}

// Get returns the value of key and whether it is present.
func (o *Object) Get(key string) (any, bool) {
	if o == nil {
		return nil, false
	}
	if i := o.find(key); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// Has reports whether key is present.
func (o *Object) Has(key string) bool {
	if o == nil {
		return false
	}
	return o.find(key) >= 0
}

// Set sets key to v; a new key takes its JavaScript position, an existing one keeps its place.
func (o *Object) Set(key string, v any) {
	if i := o.find(key); i >= 0 {
		o.vals[i] = v
		return
	}
	if n, ok := arrayIndex(key); ok {
		// array-index keys come first, in ascending numeric order
		i := 0
		for ; i < len(o.keys); i++ {
			m, isIdx := arrayIndex(o.keys[i])
			if !isIdx || m > n {
				break
			}
		}
		o.keys = append(o.keys, "")
		copy(o.keys[i+1:], o.keys[i:])
		o.keys[i] = key
		o.vals = append(o.vals, nil)
		copy(o.vals[i+1:], o.vals[i:])
		o.vals[i] = v
		o.reindex()
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	if o.idx != nil {
		o.idx[key] = len(o.keys) - 1
	} else if len(o.keys) == indexThreshold {
		o.reindex()
	}
}

// Delete removes key.
func (o *Object) Delete(key string) {
	i := o.find(key)
	if i < 0 {
		return
	}
	o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	if o.idx != nil {
		o.reindex()
	}
}

// Clone returns a shallow copy.
func (o *Object) Clone() *Object {
	c := &Object{keys: append([]string(nil), o.keys...), vals: append([]any(nil), o.vals...)}
	if o.idx != nil {
		c.reindex()
	}
	return c
}

// arrayIndex reports whether key is a canonical array index (0 to 2^32-2) and its value.
func arrayIndex(key string) (uint64, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n < math.MaxUint32
}

// DeepClone copies a value tree, so that later edits do not reach the original.
func DeepClone(v any) any {
	switch x := v.(type) {
	case *Object:
		c := &Object{keys: append([]string(nil), x.keys...), vals: make([]any, len(x.vals))}
		for i, e := range x.vals {
			c.vals[i] = DeepClone(e)
		}
		if x.idx != nil {
			c.reindex()
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = DeepClone(e)
		}
		return c
	case []byte:
		return append([]byte(nil), x...)
	default:
		return v
	}
}

// TypeOf returns the JavaScript typeof of a value, with "array" and "null" told apart.
func TypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *Object:
		return "object"
	case []byte:
		return "bytes"
	}
	return "undefined"
}

// StrictEqual is JavaScript's === for primitives; objects and arrays are never equal to each other
// unless they are the same value, which cannot be told for Go slices, so they compare unequal.
func StrictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case *Object:
		y, ok := b.(*Object)
		return ok && x == y
	}
	return false
}

// DeepEqual compares JSON values structurally (the way AJV's enum, const and uniqueItems do).
func DeepEqual(a, b any) bool {
	switch x := a.(type) {
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			yv, ok := y.Get(k)
			if !ok || !DeepEqual(x.vals[i], yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !DeepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return StrictEqual(a, b)
}

// Truthy is JavaScript's truthiness.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// ToNumber is JavaScript's Number(v) for primitives.
func ToNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return x
	case string:
		return stringToNumber(x)
	}
	return math.NaN()
}

func stringToNumber(s string) float64 {
	// trim JavaScript whitespace
	i, j := 0, len(s)
	for i < j && isJSSpace(s[i]) {
		i++
	}
	for j > i && isJSSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	if s == "" {
		return 0
	}
	switch s {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' || s[1] == 'b' || s[1] == 'B') {
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]]
		n, err := strconv.ParseUint(s[2:], base, 64)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	}
	for k := 0; k < len(s); k++ {
		c := s[k]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return math.NaN()
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f
		}
		return math.NaN()
	}
	return f
}

func isJSSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Less is JavaScript's a < b for two primitive values (strings by UTF-16 code units, otherwise
// numerically, with NaN comparing false).
func Less(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return CompareStrings(as, bs) < 0
	}
	x, y := ToNumber(a), ToNumber(b)
	return x < y
}

// LessOrEqual is JavaScript's a <= b for primitives.
func LessOrEqual(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return CompareStrings(as, bs) <= 0
	}
	x, y := ToNumber(a), ToNumber(b)
	return x <= y
}
