package datom

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// ParseValueText reads text as a value of the type typ names, for a value given on a command
// line: typ is any name ParseKind accepts (string, int64, float64, bool, bytes, time, ref,
// core-ref, their aliases and Datomic's db.type/ names), "json" to read text as ParseValueJSON
// does, or "" for a string. Text is taken literally: '{"a":1}' is a string unless typ is json.
//
//	string   any UTF-8 text
//	int64    a decimal integer
//	float64  a decimal number, such as 1.5 or 2e-3
//	bool     true or false
//	time     RFC 3339 (2024-01-02T03:04:05Z) or a date (2024-01-02, midnight UTC)
//	bytes    standard base64, or hex after 0x
//	ref      an entity id of the same core
//	core-ref a core key, a colon and an entity id, as Value.String writes it
//	blob     a CID, a colon and the blob's size in bytes, as Value.String writes it
//
// A text that is not a value of the type is an error wrapping ErrBadValue; an unknown type one
// wrapping ErrUnknownType.
func ParseValueText(typ, text string) (Value, error) {
	if typ == "json" {
		v, err := ParseValueJSON([]byte(text))
		if err != nil {
			return Value{}, err
		}
		if err := v.check(); err != nil {
			return Value{}, fmt.Errorf("%w: %w", ErrBadValue, err)
		}
		return v, nil
	}
	k := KindString
	if typ != "" {
		var err error
		if k, err = ParseKind(typ); err != nil {
			return Value{}, fmt.Errorf("%w, or json", err)
		}
	}
	v, err := parseText(k, text)
	if err == nil {
		err = v.check()
	}
	if err != nil {
		return Value{}, fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	return v, nil
}

func parseText(k Kind, s string) (Value, error) {
	switch k {
	case KindString:
		return String(s), nil
	case KindInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not an int64 (a decimal integer from %d to %d)", s, math.MinInt64, math.MaxInt64)
		}
		return Int(i), nil
	case KindFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return Value{}, fmt.Errorf("%q is not a float64 (a finite decimal number such as 1.5 or 2e-3)", s)
		}
		return Float(f), nil
	case KindBool:
		switch s {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		}
		return Value{}, fmt.Errorf("%q is not a bool (true or false)", s)
	case KindTime:
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return Time(t), nil
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return Time(t), nil
		}
		return Value{}, fmt.Errorf("%q is not a time (RFC 3339, such as 2024-01-02T03:04:05Z, or a date such as 2024-01-02)", s)
	case KindBytes:
		if h, ok := strings.CutPrefix(s, "0x"); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				return Value{}, fmt.Errorf("%q is not bytes: after 0x come hex digits, two per byte", s)
			}
			return Bytes(b), nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not bytes (standard base64, or hex after 0x)", s)
		}
		return Bytes(b), nil
	case KindRef:
		return Ref(s), nil
	case KindCoreRef:
		ks, e, ok := strings.Cut(s, ":")
		if !ok {
			return Value{}, fmt.Errorf("%q is not a core-ref (a core key, a colon and an entity id)", s)
		}
		key, err := corestore.ParseKey(ks)
		if err != nil {
			return Value{}, fmt.Errorf("core-ref %q: %w", s, err)
		}
		return CoreRef(key, e), nil
	case KindBlob:
		return parseBlobText(s)
	}
	return Value{}, fmt.Errorf("no text form for %s", k)
}
