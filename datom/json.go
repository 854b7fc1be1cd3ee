package datom

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// ErrBadJSON marks malformed transaction or query JSON.
var ErrBadJSON = errors.New("malformed JSON")

// ParseValueJSON reads one value. JSON strings, numbers (int64 when integral, else float64) and
// bools are taken as themselves; other kinds, or a kind stated explicitly, are one-key objects:
//
//	{"string":"x"} {"int":5} {"float":1.5} {"bool":true} {"bytes":"<base64>"}
//	{"time":"2024-01-02T03:04:05Z"} {"ref":"contact/1"} {"coreref":{"core":"<key>","e":"contact/1"}}
//
// When an attribute has a type, Transact and Query convert a plain string to time, ref or bytes,
// and an integral number between int and float.
func ParseValueJSON(b []byte) (Value, error) {
	x, err := decodeJSON(b)
	if err != nil {
		return Value{}, fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return valueFromJSON(x)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return x, nil
}

func numberValue(n json.Number) (Value, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return Int(i), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("number %s is out of range", n)
	}
	return Float(f), nil
}

func valueFromJSON(x any) (Value, error) {
	switch x := x.(type) {
	case string:
		return String(x), nil
	case json.Number:
		return numberValue(x)
	case bool:
		return Bool(x), nil
	case nil:
		return Value{}, errors.New("null is not a value (to remove a value, retract it)")
	case []any:
		return Value{}, errors.New("an array is not one value")
	case map[string]any:
		if len(x) != 1 {
			return Value{}, errors.New(`a typed value is an object with one key, such as {"time":"2024-01-02T03:04:05Z"}`)
		}
		for k, p := range x {
			return typedValue(k, p)
		}
	}
	return Value{}, fmt.Errorf("unsupported JSON value %T", x)
}

func typedValue(kind string, p any) (Value, error) {
	str := func() (string, error) {
		s, ok := p.(string)
		if !ok {
			return "", fmt.Errorf("a %s value is written as a JSON string", kind)
		}
		return s, nil
	}
	switch kind {
	case "string":
		s, err := str()
		return String(s), err
	case "ref":
		s, err := str()
		return Ref(s), err
	case "int":
		switch p := p.(type) {
		case json.Number:
			i, err := strconv.ParseInt(string(p), 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("int %s is not a 64-bit integer", p)
			}
			return Int(i), nil
		case string:
			i, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("int %q is not a 64-bit integer", p)
			}
			return Int(i), nil
		}
		return Value{}, errors.New("an int value is a JSON number")
	case "float":
		switch p := p.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(p), 64)
			if err != nil || math.IsInf(f, 0) {
				return Value{}, fmt.Errorf("float %s is out of range", p)
			}
			return Float(f), nil
		case string:
			f, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return Value{}, fmt.Errorf("float %q is not a number", p)
			}
			return Float(f), nil
		}
		return Value{}, errors.New("a float value is a JSON number")
	case "bool":
		b, ok := p.(bool)
		if !ok {
			return Value{}, errors.New("a bool value is true or false")
		}
		return Bool(b), nil
	case "bytes":
		s, err := str()
		if err != nil {
			return Value{}, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Value{}, errors.New("a bytes value is standard base64")
		}
		return Bytes(b), nil
	case "time":
		s, err := str()
		if err != nil {
			return Value{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Value{}, fmt.Errorf("time %q is not RFC 3339", s)
		}
		return Time(t), nil
	case "coreref":
		m, ok := p.(map[string]any)
		if !ok || len(m) != 2 {
			return Value{}, errors.New(`a coreref is {"coreref":{"core":"<key>","e":"<entity>"}}`)
		}
		ks, ok1 := m["core"].(string)
		e, ok2 := m["e"].(string)
		if !ok1 || !ok2 {
			return Value{}, errors.New(`a coreref is {"coreref":{"core":"<key>","e":"<entity>"}}`)
		}
		k, err := corestore.ParseKey(ks)
		if err != nil {
			return Value{}, fmt.Errorf("coreref core: %w", err)
		}
		return CoreRef(k, e), nil
	}
	return Value{}, fmt.Errorf("unknown value type %q (want string, int, float, bool, bytes, time, ref or coreref)", kind)
}

// ParseTxJSON reads a transaction: a JSON array whose items are either datoms
//
//	{"e":"contact/1","a":"contact/name","v":"Bob","op":"add"}     (op is add, the default, or retract)
//
// or entity maps, which assert each attribute; an array value asserts several values:
//
//	{"db/id":"contact/1","contact/name":"Bob","contact/tag":["a","b"]}
//
// An entity map without db/id is a new entity (a temporary id "_:item<N>"), unless one of its
// unique-identity values already names an entity. Values are read as ParseValueJSON reads them.
// An error names the offending item by index and says what is wrong with it.
func ParseTxJSON(b []byte) ([]Datom, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: transaction: %w", ErrBadJSON, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("%w: a transaction is a JSON array of datoms and entity maps", ErrBadJSON)
	}
	var out []Datom
	for i := 0; dec.More(); i++ {
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, fmt.Errorf("%w: item %d: %w", ErrBadJSON, i, err)
		}
		ds, err := txItem(i, x)
		if err != nil {
			return nil, fmt.Errorf("%w: item %d: %w", ErrBadJSON, i, err)
		}
		out = append(out, ds...)
		if len(out) > MaxDatomsPerTx {
			return nil, fmt.Errorf("%w: item %d: more than %d datoms in one transaction", ErrBadJSON, i, MaxDatomsPerTx)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: transaction: %w", ErrBadJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the transaction's array", ErrBadJSON)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the transaction has no datoms", ErrBadJSON)
	}
	return out, nil
}

func txItem(i int, x any) ([]Datom, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is a %s; want a datom {\"e\",\"a\",\"v\",\"op\"} or an entity map", jsonKind(x))
	}
	_, hasA := m["a"]
	_, hasE := m["e"]
	if hasA || hasE {
		return datomItem(m)
	}
	e := fmt.Sprintf("%sitem%d", TempIDPrefix, i)
	if id, ok := m["db/id"]; ok {
		s, ok := id.(string)
		if !ok || s == "" {
			return nil, errors.New("db/id is not a non-empty string")
		}
		e = s
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "db/id" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("entity map has no attributes")
	}
	slices.Sort(keys)
	var out []Datom
	for _, a := range keys {
		if !strings.Contains(a, "/") {
			return nil, fmt.Errorf("key %q is neither a namespaced attribute nor db/id", a)
		}
		vals, isArr := m[a].([]any)
		if !isArr {
			vals = []any{m[a]}
		} else if len(vals) == 0 {
			return nil, fmt.Errorf("attribute %s: empty array", a)
		}
		for _, vx := range vals {
			if sub, ok := vx.(map[string]any); ok && len(sub) > 1 {
				return nil, fmt.Errorf("attribute %s: nested entity maps are not supported; use a ref", a)
			}
			v, err := valueFromJSON(vx)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", a, err)
			}
			out = append(out, Datom{E: e, A: a, V: v, Added: true})
		}
	}
	return out, nil
}

func datomItem(m map[string]any) ([]Datom, error) {
	for k := range m {
		if k != "e" && k != "a" && k != "v" && k != "op" {
			return nil, fmt.Errorf("datom has unknown key %q (want e, a, v, op)", k)
		}
	}
	e, ok := m["e"].(string)
	if !ok || e == "" {
		return nil, errors.New(`datom "e" is missing or not a non-empty string`)
	}
	a, ok := m["a"].(string)
	if !ok || a == "" {
		return nil, errors.New(`datom "a" is missing or not a non-empty string`)
	}
	vx, ok := m["v"]
	if !ok {
		return nil, errors.New(`datom "v" is missing`)
	}
	v, err := valueFromJSON(vx)
	if err != nil {
		return nil, fmt.Errorf(`datom "v": %w`, err)
	}
	added := true
	if op, ok := m["op"]; ok {
		switch op {
		case "add":
		case "retract":
			added = false
		default:
			return nil, fmt.Errorf(`datom "op" is %v; want "add" or "retract"`, op)
		}
	}
	return []Datom{{E: e, A: a, V: v, Added: added}}, nil
}

func jsonKind(x any) string {
	switch x.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	case []any:
		return "array"
	}
	return "object"
}
