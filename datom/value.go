package datom

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
)

// Kind is the type of a Value.
type Kind uint8

// The value kinds. Their numbers are part of the block format.
const (
	KindString  Kind = 1
	KindInt     Kind = 2
	KindFloat   Kind = 3
	KindBool    Kind = 4
	KindBytes   Kind = 5
	KindTime    Kind = 6
	KindRef     Kind = 7
	KindCoreRef Kind = 8
	// KindBlob is a reference to a blob (corestore/blobs): a large string or bytes value kept by
	// content address, its CID and size in the datom (see blob.go).
	KindBlob Kind = 9
)

// kindNames are the canonical names of the kinds, as Kind.String returns them and as Transact
// stores db/valueType.
var kindNames = map[Kind]string{KindString: "string", KindInt: "int64", KindFloat: "float64", KindBool: "bool",
	KindBytes: "bytes", KindTime: "time", KindRef: "ref", KindCoreRef: "core-ref", KindBlob: "blob"}

// kindAliases maps every name ParseKind accepts to its kind: the canonical names, the names
// earlier versions stored (int, float, coreref), and Datomic's (db.type/long and so on, also
// written with a leading colon).
var kindAliases = func() map[string]Kind {
	m := map[string]Kind{"int": KindInt, "float": KindFloat, "coreref": KindCoreRef}
	for k, n := range kindNames {
		m[n] = k
	}
	for n, k := range map[string]Kind{"string": KindString, "long": KindInt, "double": KindFloat, "boolean": KindBool,
		"instant": KindTime, "ref": KindRef, "bytes": KindBytes} {
		m["db.type/"+n] = k
		m[":db.type/"+n] = k
	}
	return m
}()

// String returns the kind's canonical name: string, int64, float64, bool, bytes, time, ref,
// core-ref or blob.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// article returns the indefinite article for the kind's name.
func (k Kind) article() string {
	if k == KindInt {
		return "an"
	}
	return "a"
}

// ErrUnknownType marks a value type name that ParseKind does not know.
var ErrUnknownType = errors.New("unknown value type")

// ParseKind returns the kind a value type name stands for. It accepts the canonical names
// (string, int64, float64, bool, bytes, time, ref, core-ref, blob), the aliases int, float and coreref,
// and Datomic's db.type/string, db.type/long, db.type/double, db.type/boolean, db.type/instant,
// db.type/ref and db.type/bytes (with or without a leading colon).
func ParseKind(s string) (Kind, error) {
	if k, ok := kindAliases[s]; ok {
		return k, nil
	}
	return 0, fmt.Errorf("%w %q (want string, int64, float64, bool, bytes, time, ref, core-ref or blob, or Datomic's db.type/long and the like)", ErrUnknownType, s)
}

// Value is one typed value. Only the fields of its Kind are meaningful: Str for string and ref
// (the entity), Int, Float, Bool, Bytes, Time, Core with Str for a core-ref, and Blob with
// BlobOf for a blob.
type Value struct {
	Kind  Kind
	Str   string
	Int   int64
	Float float64
	Bool  bool
	Bytes []byte
	Time  time.Time
	Core  corestore.Key
	// Blob is a blob value's root CID and size; BlobOf the kind of value it holds, KindBytes or
	// KindString, which Resolve gives back.
	Blob   blobs.Ref
	BlobOf Kind
}

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Int returns an int64 value.
func Int(i int64) Value { return Value{Kind: KindInt, Int: i} }

// Float returns a float64 value.
func Float(f float64) Value { return Value{Kind: KindFloat, Float: f} }

// Bool returns a bool value.
func Bool(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// Bytes returns a bytes value.
func Bytes(b []byte) Value { return Value{Kind: KindBytes, Bytes: b} }

// Time returns a time value, kept in UTC.
func Time(t time.Time) Value { return Value{Kind: KindTime, Time: t.UTC()} }

// Ref returns a reference to entity e of the same core.
func Ref(e string) Value { return Value{Kind: KindRef, Str: e} }

// CoreRef returns a reference to entity e of the core with key core.
func CoreRef(core corestore.Key, e string) Value { return Value{Kind: KindCoreRef, Core: core, Str: e} }

// String renders the value for people: strings quoted, refs bare, times in RFC 3339.
func (v Value) String() string {
	switch v.Kind {
	case KindString:
		return fmt.Sprintf("%q", v.Str)
	case KindInt:
		return fmt.Sprint(v.Int)
	case KindFloat:
		return fmt.Sprint(v.Float)
	case KindBool:
		return fmt.Sprint(v.Bool)
	case KindBytes:
		return "0x" + hex.EncodeToString(v.Bytes)
	case KindTime:
		return v.Time.Format(time.RFC3339Nano)
	case KindRef:
		return v.Str
	case KindCoreRef:
		return v.Core.String() + ":" + v.Str
	case KindBlob:
		return blobText(v)
	}
	return "invalid"
}

// JSON returns the value in the form ParseValueJSON reads back: strings, numbers and bools as
// themselves, the other kinds as one-key objects.
func (v Value) JSON() any {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return v.Int
	case KindFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return map[string]any{"float": fmt.Sprint(v.Float)}
		}
		return v.Float
	case KindBool:
		return v.Bool
	case KindBytes:
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString(v.Bytes)}
	case KindTime:
		return map[string]any{"time": v.Time.Format(time.RFC3339Nano)}
	case KindRef:
		return map[string]any{"ref": v.Str}
	case KindCoreRef:
		return map[string]any{"coreref": map[string]any{"core": v.Core.String(), "e": v.Str}}
	case KindBlob:
		return blobJSON(v)
	}
	return nil
}

// Equal reports whether v and o are the same value of the same kind.
func (v Value) Equal(o Value) bool { return bytes.Equal(v.key(nil), o.key(nil)) }

// Compare orders values: by kind first, except that ints and floats compare as numbers; within a
// kind by value. It is the order of the AVET index.
func Compare(a, b Value) int {
	if a.Kind != b.Kind {
		if isNum(a) && isNum(b) {
			return cmp.Compare(num(a), num(b))
		}
		return cmp.Compare(a.Kind, b.Kind)
	}
	// The key encoding preserves order, so these kinds compare as their payloads do.
	switch a.Kind {
	case KindString, KindRef:
		return strings.Compare(a.Str, b.Str)
	case KindInt:
		return cmp.Compare(a.Int, b.Int)
	case KindBytes:
		return bytes.Compare(a.Bytes, b.Bytes)
	}
	return bytes.Compare(a.key(nil), b.key(nil))
}

func isNum(v Value) bool { return v.Kind == KindInt || v.Kind == KindFloat }

func num(v Value) float64 {
	if v.Kind == KindInt {
		return float64(v.Int)
	}
	return v.Float
}

// maxStringLen bounds entity ids, attribute names and string values so keys stay small enough.
const (
	maxIDLen    = 1024
	maxValueLen = 32 << 10
)

// check reports why v cannot be stored, or nil.
func (v Value) check() error {
	switch v.Kind {
	case KindString, KindRef:
		if len(v.Str) > maxValueLen {
			return fmt.Errorf("%s value of %d bytes exceeds %d", v.Kind, len(v.Str), maxValueLen)
		}
		if v.Kind == KindRef {
			return checkID("ref entity", v.Str)
		}
		if !validUTF8(v.Str) {
			return errors.New("string value is not valid UTF-8")
		}
	case KindBytes:
		if len(v.Bytes) > maxValueLen {
			return fmt.Errorf("bytes value of %d bytes exceeds %d", len(v.Bytes), maxValueLen)
		}
	case KindCoreRef:
		return checkID("core-ref entity", v.Str)
	case KindBlob:
		return checkBlob(v)
	case KindFloat:
		if math.IsNaN(v.Float) {
			return errors.New("float64 value is NaN")
		}
	case KindTime:
		if y := v.Time.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("time value in year %d is outside RFC 3339's years 0 to 9999", y)
		}
	case KindInt, KindBool:
	default:
		return fmt.Errorf("invalid value kind %d", v.Kind)
	}
	return nil
}

func checkID(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxIDLen:
		return fmt.Errorf("%s of %d bytes exceeds %d", what, len(s), maxIDLen)
	case !validUTF8(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

// key appends the order-preserving encoding of v: kind byte, then the payload.
func (v Value) key(b []byte) []byte {
	b = append(b, byte(v.Kind))
	switch v.Kind {
	case KindString, KindRef:
		b = appendKeyString(b, v.Str)
	case KindInt:
		b = binary.BigEndian.AppendUint64(b, uint64(v.Int)^(1<<63))
	case KindFloat:
		b = binary.BigEndian.AppendUint64(b, sortableFloat(v.Float))
	case KindBool:
		if v.Bool {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case KindBytes:
		b = appendKeyString(b, string(v.Bytes))
	case KindTime:
		b = binary.BigEndian.AppendUint64(b, uint64(v.Time.Unix())^(1<<63))
		b = binary.BigEndian.AppendUint32(b, uint32(v.Time.Nanosecond()))
	case KindCoreRef:
		b = append(b, v.Core[:]...)
		b = appendKeyString(b, v.Str)
	case KindBlob:
		b = append(b, byte(v.BlobOf))
		b = appendKeyString(b, v.Blob.CID.KeyString())
		b = binary.BigEndian.AppendUint64(b, v.Blob.Size)
	}
	return b
}

func sortableFloat(f float64) uint64 {
	if f == 0 {
		f = 0 // -0 and +0 are one value
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		return ^u
	}
	return u | 1<<63
}

func unsortableFloat(u uint64) float64 {
	if u&(1<<63) != 0 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u)
}

var errBadKey = errors.New("malformed index key")

// decodeKeyValue reads a value encoded by key and returns the rest of b.
func decodeKeyValue(b []byte) (Value, []byte, error) {
	if len(b) == 0 {
		return Value{}, nil, errBadKey
	}
	v := Value{Kind: Kind(b[0])}
	b = b[1:]
	var err error
	switch v.Kind {
	case KindString, KindRef:
		v.Str, b, err = decodeKeyString(b)
	case KindBytes:
		var s string
		s, b, err = decodeKeyString(b)
		v.Bytes = []byte(s)
	case KindInt:
		if len(b) < 8 {
			return v, nil, errBadKey
		}
		v.Int = int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
		b = b[8:]
	case KindFloat:
		if len(b) < 8 {
			return v, nil, errBadKey
		}
		v.Float = unsortableFloat(binary.BigEndian.Uint64(b))
		b = b[8:]
	case KindBool:
		if len(b) < 1 {
			return v, nil, errBadKey
		}
		v.Bool = b[0] == 1
		b = b[1:]
	case KindTime:
		if len(b) < 12 {
			return v, nil, errBadKey
		}
		v.Time = time.Unix(int64(binary.BigEndian.Uint64(b)^(1<<63)), int64(binary.BigEndian.Uint32(b[8:]))).UTC()
		b = b[12:]
	case KindCoreRef:
		if len(b) < 32 {
			return v, nil, errBadKey
		}
		copy(v.Core[:], b)
		v.Str, b, err = decodeKeyString(b[32:])
	case KindBlob:
		if len(b) < 1 {
			return v, nil, errBadKey
		}
		v.BlobOf = Kind(b[0])
		var s string
		if s, b, err = decodeKeyString(b[1:]); err != nil {
			return v, nil, err
		}
		if v.Blob.CID, err = cid.Cast([]byte(s)); err != nil {
			return v, nil, errBadKey
		}
		if len(b) < 8 {
			return v, nil, errBadKey
		}
		v.Blob.Size = binary.BigEndian.Uint64(b)
		b = b[8:]
	default:
		return v, nil, errBadKey
	}
	return v, b, err
}

// appendKeyString appends s with 0x00 escaped as 00 FF and terminated by 00 01, so that the
// encoding sorts as s does and no encoding is a prefix of another.
func appendKeyString(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, 0, 0xFF)
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, 0, 1)
}

func decodeKeyString(b []byte) (string, []byte, error) {
	var out []byte
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 || i+1 >= len(b) {
			return "", nil, errBadKey
		}
		switch b[i+1] {
		case 1:
			if out == nil {
				return string(b[:i]), b[i+2:], nil
			}
			return string(append(out, b[:i]...)), b[i+2:], nil
		case 0xFF:
			out = append(out, b[:i]...)
			out = append(out, 0)
			b = b[i+2:]
		default:
			return "", nil, errBadKey
		}
	}
}

// coerce converts v, as read from JSON, to kind k where that is a faithful reading: a string to
// a time (RFC 3339), a ref, or bytes (base64); an integral int to a float and an integral float
// to an int. Otherwise a value of another kind is an error.
func coerce(v Value, k Kind) (Value, error) {
	if v.Kind == k {
		return v, nil
	}
	switch {
	case v.Kind == KindBlob && v.BlobOf == k:
		return v, nil // a large string or bytes value, kept as a blob
	case k == KindFloat && v.Kind == KindInt:
		return Float(float64(v.Int)), nil
	case k == KindInt && v.Kind == KindFloat && v.Float == math.Trunc(v.Float) && math.Abs(v.Float) < 1<<53:
		return Int(int64(v.Float)), nil
	case k == KindTime && v.Kind == KindString:
		t, err := time.Parse(time.RFC3339Nano, v.Str)
		if err != nil {
			return v, fmt.Errorf("value %q is not an RFC 3339 time", v.Str)
		}
		return Time(t), nil
	case k == KindRef && v.Kind == KindString:
		return Ref(v.Str), nil
	case k == KindBytes && v.Kind == KindString:
		b, err := base64.StdEncoding.DecodeString(v.Str)
		if err != nil {
			return v, fmt.Errorf("value %q is not base64 bytes", v.Str)
		}
		return Bytes(b), nil
	}
	return v, fmt.Errorf("value %s is %s %s; the attribute's type is %s", v, v.Kind.article(), v.Kind, k)
}
