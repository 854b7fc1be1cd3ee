package jsv

import (
	"bytes"
	"testing"
)

// FuzzParse: any input parses or fails cleanly, and what parses prints back to JSON that parses
// to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"]}`, `[1e400,-0,0.1]`, `"\ud800"`, `{"0":1,"a":2,"1":3}`, `{`, `[[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			return
		}
		v2, err := Parse([]byte(Stringify(v)))
		if err != nil {
			t.Fatalf("stringified value does not parse: %v", err)
		}
		if Stringify(v2) != Stringify(v) {
			t.Fatalf("round trip changed %s into %s", Stringify(v), Stringify(v2))
		}
	})
}

// FuzzDecodeCBOR: any input decodes or fails cleanly, and what decodes is canonical: encoding it
// again gives the input.
func FuzzDecodeCBOR(f *testing.F) {
	for _, v := range []any{nil, true, 1.5, float64(-7), "x", []any{1.0, "a"}, mustObject(`{"bb":1,"a":[null]}`), []byte{1, 2}} {
		b, err := EncodeCBOR(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x1b, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xbf})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeCBOR(b)
		if err != nil {
			return
		}
		e, err := EncodeCBOR(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if !bytes.Equal(e, b) {
			t.Fatalf("not canonical: % x encodes as % x", b, e)
		}
	})
}

func mustObject(s string) *Object {
	v, err := Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return v.(*Object)
}
