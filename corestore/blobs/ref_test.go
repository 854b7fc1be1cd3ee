package blobs

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestRefBinary(t *testing.T) {
	ref, err := CIDOf(context.Background(), bytes.NewReader([]byte(`{"hello":"world"}`)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ref.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Ref
	if err := got.UnmarshalBinary(b); err != nil || got != ref {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, c := range []struct {
		b    []byte
		want error
	}{
		{append(append([]byte{}, b...), 0), ErrMalformed},
		{b[:len(b)-1], ErrMalformed},
		{b[:10], ErrInvalidCID},
		{nil, ErrInvalidCID},
	} {
		if err := got.UnmarshalBinary(c.b); !errors.Is(err, c.want) {
			t.Errorf("UnmarshalBinary(%x): %v, want %v", c.b, err, c.want)
		}
	}
	if _, err := (Ref{}).MarshalBinary(); !errors.Is(err, ErrInvalidCID) {
		t.Fatalf("marshal of an empty ref: %v", err)
	}
}

// FuzzRefUnmarshal: a blob ref from another peer's datom. Never a panic; what decodes encodes
// back to the same bytes.
func FuzzRefUnmarshal(f *testing.F) {
	ref, _ := CIDOf(context.Background(), bytes.NewReader([]byte("x")))
	b, _ := ref.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0x12, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Ref
		if r.UnmarshalBinary(b) != nil {
			return
		}
		enc, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded %x, %v; decoded from %x", enc, err, b)
		}
	})
}
