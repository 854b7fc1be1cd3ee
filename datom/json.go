package datom

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/datomspace/datomspace/corestore"
)

// ErrBadJSON marks input that is not well-formed JSON; its error says where.
var ErrBadJSON = errors.New("malformed JSON")

// ParseValueJSON reads one value. JSON strings, numbers (int64 when integral, else float64) and
// bools are taken as themselves; other kinds, or a kind stated explicitly, are one-key objects:
//
//	{"string":"x"} {"int64":5} {"float64":1.5} {"bool":true} {"bytes":"<base64>"}
//	{"time":"2024-01-02T03:04:05Z"} {"ref":"contact/1"} {"core-ref":{"core":"<key>","e":"contact/1"}}
//	{"blob":"<CID>","size":12345} {"blob":"<CID>","size":12345,"type":"string"}
//
// ("int", "float" and "coreref" are accepted for int64, float64 and core-ref.) When an attribute
// has a type, Transact and Query convert a plain string to time, ref or bytes, and an integral
// number between int64 and float64. Malformed JSON is an error wrapping ErrBadJSON; well-formed
// JSON that is not a value (null, an array) one wrapping ErrBadValue.
func ParseValueJSON(b []byte) (Value, error) {
	x, err := decodeJSON(b)
	if err != nil {
		return Value{}, err
	}
	v, err := valueFromJSON(x)
	if err != nil {
		return Value{}, fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	return v, nil
}

// ErrBadValue marks text that is not a value of the type asked for.
var ErrBadValue = errors.New("bad value")

// checkJSON reports, wrapping ErrBadJSON, why b is not exactly one well-formed JSON value, and
// where: a syntax error, an early end, or data after the value.
func checkJSON(b []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(b, &raw)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: %s", ErrBadJSON, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("%w: the input is empty", ErrBadJSON)
	}
	msg := se.Error()
	switch {
	case msg == "unexpected end of JSON input":
		msg = "the JSON ends early"
	case strings.HasSuffix(msg, " after top-level value"):
		msg = "data after the JSON value: " + strings.TrimPrefix(strings.TrimSuffix(msg, " after top-level value"), "invalid character ")
	}
	// The offset counts the offending byte, except at the end of the input.
	off := int(se.Offset)
	if off > 0 && off <= len(b) && msg != "the JSON ends early" {
		off--
	}
	return fmt.Errorf("%w: %s: %s", ErrBadJSON, textPos(b, off), msg)
}

// textPos renders byte offset off of b as "line L, column C", counting columns in characters.
func textPos(b []byte, off int) string {
	off = min(max(off, 0), len(b))
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	return fmt.Sprintf("line %d, column %d", line, 1+utf8.RuneCount(b[start:off]))
}

// decodeJSON reads one well-formed JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	if err := checkJSON(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadJSON, err) // checkJSON accepted it: cannot happen
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
		if isBlobJSON(x) {
			return blobFromJSON(x)
		}
		if len(x) != 1 {
			return Value{}, errors.New(`a typed value is an object with one key, such as {"time":"2024-01-02T03:04:05Z"}`)
		}
		for k, p := range x {
			return typedValue(k, p)
		}
	}
	return Value{}, errors.New("not a JSON value")
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
	case "int", "int64":
		switch p := p.(type) {
		case json.Number:
			i, err := strconv.ParseInt(string(p), 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("int64 %s is not a 64-bit integer", p)
			}
			return Int(i), nil
		case string:
			i, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("int64 %q is not a 64-bit integer", p)
			}
			return Int(i), nil
		}
		return Value{}, errors.New("an int64 value is a JSON number")
	case "float", "float64":
		switch p := p.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(p), 64)
			if err != nil || math.IsInf(f, 0) {
				return Value{}, fmt.Errorf("float64 %s is out of range", p)
			}
			return Float(f), nil
		case string:
			f, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return Value{}, fmt.Errorf("float64 %q is not a number", p)
			}
			return Float(f), nil
		}
		return Value{}, errors.New("a float64 value is a JSON number")
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
	case "coreref", "core-ref":
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
	return Value{}, fmt.Errorf("%w %q in a typed value (want string, int64, float64, bool, bytes, time, ref, core-ref or blob)", ErrUnknownType, kind)
}

// ParseTxJSON reads a transaction: a JSON array whose items are either datoms
//
//	{"e":"contact/1","a":"contact/name","v":"Bob","op":"add"}     (op is add, the default, or retract)
//
// (a "tx" key, as Datom.MarshalJSON writes, is allowed and ignored), or entity maps, which assert each attribute; an array value asserts several values:
//
//	{"db/id":"contact/1","contact/name":"Bob","contact/tag":["a","b"]}
//
// An entity map without db/id is a new entity (a temporary id "_:item<N>"), unless one of its
// unique-identity values already names an entity. Values are read as ParseValueJSON reads them.
// Input that is not well-formed JSON (including data after the array) is an error wrapping
// ErrBadJSON that says where; well-formed JSON that is not a transaction is one wrapping
// ErrRejected that names the offending item by index and says what is wrong with it.
func ParseTxJSON(b []byte) ([]Datom, error) {
	if err := checkJSON(b); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("transaction: %w: %s", ErrBadJSON, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("%w: a transaction is a JSON array of datoms and entity maps, not %s", ErrRejected, jsonKindOfToken(tok))
	}
	var out []Datom
	for i := 0; dec.More(); i++ {
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, fmt.Errorf("transaction: item %d: %w: %s", i, ErrBadJSON, err)
		}
		ds, err := txItem(i, x)
		if err != nil {
			return nil, fmt.Errorf("%w: item %d: %w", ErrRejected, i, err)
		}
		out = append(out, ds...)
		if len(out) > MaxDatomsPerTx {
			return nil, fmt.Errorf("%w: item %d: more than %d datoms in one transaction", ErrRejected, i, MaxDatomsPerTx)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the transaction has no datoms", ErrRejected)
	}
	return out, nil
}

// isUint reports whether s is a decimal uint64.
func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// jsonKindOfToken names the kind of JSON value a token starts.
func jsonKindOfToken(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a bool"
	}
	return "null"
}

func txItem(i int, x any) ([]Datom, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %s; want a datom {\"e\",\"a\",\"v\",\"op\"} or an entity map", jsonKind(x))
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
			if sub, ok := vx.(map[string]any); ok && len(sub) > 1 && !isBlobJSON(sub) {
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
		if k != "e" && k != "a" && k != "v" && k != "op" && k != "tx" {
			return nil, fmt.Errorf("datom has unknown key %q (want e, a, v, op)", k)
		}
	}
	if tx, ok := m["tx"]; ok {
		// A datom as Datom.MarshalJSON writes it: its tx is where it was, not where it goes.
		if n, isNum := tx.(json.Number); !isNum || !isUint(string(n)) {
			return nil, fmt.Errorf(`datom "tx" is %s; it is ignored, but must be a transaction number`, jsonText(tx))
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

// jsonKind names the kind of a decoded JSON value, with its article.
func jsonKind(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a bool"
	case nil:
		return "null"
	case []any:
		return "an array"
	}
	return "an object"
}
