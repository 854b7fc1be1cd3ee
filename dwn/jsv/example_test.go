package jsv_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Parse keeps JavaScript's property order: array-index keys first, in numeric order, then the
// others in insertion order. Numbers are float64. Stringify is JSON.stringify.
func ExampleParse() {
	v, err := jsv.Parse([]byte(`{"b":1,"a":[true,null,"x"],"10":2.5,"2":0}`))
	if err != nil {
		panic(err)
	}
	o := v.(*jsv.Object)
	fmt.Println(o.Keys())
	b, _ := o.Get("b")
	fmt.Printf("%T %v\n", b, b)
	fmt.Println(jsv.Stringify(o))

	// A syntax error carries the message JSON.parse gives in Node.
	_, err = jsv.Parse([]byte(`{"a":}`))
	fmt.Println(errors.Is(err, jsv.ErrSyntax))
	// Output:
	// [2 10 b a]
	// float64 1
	// {"2":0,"10":2.5,"b":1,"a":[true,null,"x"]}
	// true
}

// EncodeCBOR writes strict DAG-CBOR as @ipld/dag-cbor does: map keys sorted by length and then
// bytewise, integral numbers as integers, others as 64-bit floats. Descriptor and message CIDs
// are hashes of these bytes. DecodeCBOR reads them back and refuses anything not strict.
func ExampleEncodeCBOR() {
	v, _ := jsv.Parse([]byte(`{"aa":1.5,"b":1,"c":"x"}`))
	b, err := jsv.EncodeCBOR(v)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", b)

	back, err := jsv.DecodeCBOR(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(jsv.Stringify(back), jsv.DeepEqual(v, back))

	// Keys out of canonical order are not strict DAG-CBOR.
	_, err = jsv.DecodeCBOR([]byte{0xa2, 0x62, 'a', 'a', 0x01, 0x61, 'b', 0x01})
	fmt.Println(errors.Is(err, jsv.ErrCBOR))
	// Output:
	// a361620161636178626161fb3ff8000000000000
	// {"b":1,"c":"x","aa":1.5} true
	// true
}

// Strings compare as JavaScript compares them, by UTF-16 code units, which orders a character
// outside the Basic Multilingual Plane before U+FF5E; Go's byte order puts it after.
func ExampleCompareStrings() {
	a, b := "\U0001F600", "\uFF5E" // 😀 is the surrogate pair D83D DE00
	fmt.Println(jsv.CompareStrings(a, b), strings.Compare(a, b))
	// Output: -1 1
}
