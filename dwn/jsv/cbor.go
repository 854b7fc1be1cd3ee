package jsv

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ErrCBOR is returned for values that strict DAG-CBOR cannot encode and for bytes that are not
// strict DAG-CBOR.
var ErrCBOR = errors.New("invalid DAG-CBOR")

const maxSafeInteger = 1<<53 - 1

// EncodeCBOR encodes v as @ipld/dag-cbor does: map keys sorted by length and then bytewise,
// integral numbers within ±(2^53-1) as integers and every other number as a 64-bit float. NaN and
// the infinities are refused with the messages dag-cbor gives.
func EncodeCBOR(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256)}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// AppendCBOR appends the encoding of v to dst.
func AppendCBOR(dst []byte, v any) ([]byte, error) {
	e := encoder{buf: dst}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct{ buf []byte }

func (e *encoder) head(major byte, n uint64) {
	switch {
	case n < 24:
		e.buf = append(e.buf, major<<5|byte(n))
	case n <= math.MaxUint8:
		e.buf = append(e.buf, major<<5|24, byte(n))
	case n <= math.MaxUint16:
		e.buf = append(e.buf, major<<5|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		e.buf = append(e.buf, major<<5|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		e.buf = append(e.buf, major<<5|27)
		e.buf = binary.BigEndian.AppendUint64(e.buf, n)
	}
}

func (e *encoder) value(v any, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: nested too deeply", ErrCBOR)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, 0xf6)
	case bool:
		if x {
			e.buf = append(e.buf, 0xf5)
		} else {
			e.buf = append(e.buf, 0xf4)
		}
	case float64:
		switch {
		case math.IsNaN(x):
			return fmt.Errorf("%w: `NaN` is not supported by the IPLD Data Model and cannot be encoded", ErrCBOR)
		case math.IsInf(x, 0):
			return fmt.Errorf("%w: `Infinity` and `-Infinity` is not supported by the IPLD Data Model and cannot be encoded", ErrCBOR)
		case x == math.Trunc(x) && math.Abs(x) <= maxSafeInteger:
			if x >= 0 {
				e.head(0, uint64(x))
			} else {
				e.head(1, uint64(-x)-1)
			}
		default:
			e.buf = append(e.buf, 0xfb)
			e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(x))
		}
	case string:
		e.head(3, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case []byte:
		e.head(2, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case []any:
		e.head(4, uint64(len(x)))
		for _, el := range x {
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
	case *Object:
		order := cborOrder(x.keys)
		e.head(5, uint64(len(x.keys)))
		for _, i := range order {
			k := x.keys[i]
			e.head(3, uint64(len(k)))
			e.buf = append(e.buf, k...)
			if err := e.value(x.vals[i], depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: cannot encode %T", ErrCBOR, v)
	}
	return nil
}

func cborKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// cborOrder returns the positions of keys in DAG-CBOR order.
func cborOrder(keys []string) []int {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	if !sortedCBOR(keys) {
		sort.Slice(order, func(a, b int) bool { return cborKeyLess(keys[order[a]], keys[order[b]]) })
	}
	return order
}

func sortedCBOR(keys []string) bool {
	for i := 1; i < len(keys); i++ {
		if !cborKeyLess(keys[i-1], keys[i]) {
			return false
		}
	}
	return true
}

// DecodeCBOR decodes strict DAG-CBOR: definite lengths, minimal integer heads, text-string map
// keys in canonical order without duplicates, 64-bit floats only, no tags and no undefined.
// Integers outside ±(2^53-1) are refused, since JavaScript could not hold them.
func DecodeCBOR(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCBOR, len(d.b)-d.i)
	}
	return v, nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrCBOR, d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) head() (major byte, n uint64, err error) {
	if d.i >= len(d.b) {
		return 0, 0, d.errf("unexpected end")
	}
	c := d.b[d.i]
	d.i++
	major, info := c>>5, c&0x1f
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		if d.i+1 > len(d.b) {
			return 0, 0, d.errf("unexpected end")
		}
		n = uint64(d.b[d.i])
		d.i++
		if n < 24 && major != 7 {
			return 0, 0, d.errf("non-minimal integer")
		}
	case info == 25:
		if d.i+2 > len(d.b) {
			return 0, 0, d.errf("unexpected end")
		}
		n = uint64(binary.BigEndian.Uint16(d.b[d.i:]))
		d.i += 2
		if n <= math.MaxUint8 && major != 7 {
			return 0, 0, d.errf("non-minimal integer")
		}
	case info == 26:
		if d.i+4 > len(d.b) {
			return 0, 0, d.errf("unexpected end")
		}
		n = uint64(binary.BigEndian.Uint32(d.b[d.i:]))
		d.i += 4
		if n <= math.MaxUint16 && major != 7 {
			return 0, 0, d.errf("non-minimal integer")
		}
	case info == 27:
		if d.i+8 > len(d.b) {
			return 0, 0, d.errf("unexpected end")
		}
		n = binary.BigEndian.Uint64(d.b[d.i:])
		d.i += 8
		if n <= math.MaxUint32 && major != 7 {
			return 0, 0, d.errf("non-minimal integer")
		}
	default:
		return 0, 0, d.errf("indefinite or reserved length")
	}
	return major, n, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, d.errf("nested too deeply")
	}
	start := d.i
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0:
		if n > maxSafeInteger {
			return nil, d.errf("integer out of range")
		}
		return float64(n), nil
	case 1:
		if n >= maxSafeInteger {
			return nil, d.errf("integer out of range")
		}
		return -1 - float64(n), nil
	case 2:
		if n > uint64(len(d.b)-d.i) {
			return nil, d.errf("byte string longer than input")
		}
		v := append([]byte(nil), d.b[d.i:d.i+int(n)]...)
		d.i += int(n)
		return v, nil
	case 3:
		if n > uint64(len(d.b)-d.i) {
			return nil, d.errf("text string longer than input")
		}
		s := d.b[d.i : d.i+int(n)]
		if !utf8.Valid(s) {
			return nil, d.errf("text string is not UTF-8")
		}
		d.i += int(n)
		return string(s), nil
	case 4:
		if n > uint64(len(d.b)-d.i) { // every element takes at least a byte
			return nil, d.errf("array longer than input")
		}
		a := make([]any, 0, n)
		for k := uint64(0); k < n; k++ {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case 5:
		if n > uint64(len(d.b)-d.i)/2 {
			return nil, d.errf("map longer than input")
		}
		o := &Object{keys: make([]string, 0, n), vals: make([]any, 0, n)}
		var prev []byte
		for k := uint64(0); k < n; k++ {
			km, kn, err := d.head()
			if err != nil {
				return nil, err
			}
			if km != 3 {
				return nil, d.errf("map key is not a text string")
			}
			if kn > uint64(len(d.b)-d.i) {
				return nil, d.errf("text string longer than input")
			}
			key := d.b[d.i : d.i+int(kn)]
			if !utf8.Valid(key) {
				return nil, d.errf("text string is not UTF-8")
			}
			d.i += int(kn)
			if k > 0 && !(len(prev) < len(key) || (len(prev) == len(key) && bytes.Compare(prev, key) < 0)) {
				return nil, d.errf("map keys out of order or duplicated")
			}
			prev = key
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.Set(string(key), v)
		}
		return o, nil
	case 6:
		return nil, d.errf("tags are not supported")
	case 7:
		switch d.b[start] {
		case 0xf4:
			return false, nil
		case 0xf5:
			return true, nil
		case 0xf6:
			return nil, nil
		case 0xfb:
			f := math.Float64frombits(n)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, d.errf("non-finite float")
			}
			if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
				return nil, d.errf("integral float")
			}
			return f, nil
		default:
			return nil, d.errf("unsupported simple value or float width")
		}
	}
	return nil, d.errf("unknown major type")
}
