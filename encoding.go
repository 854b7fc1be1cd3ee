package datomspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrEncoding is returned when a value does not fit a core's value encoding: appending a number
// to a "binary" core, or decoding a block into a target the encoding cannot fill.
var ErrEncoding = errors.New("value does not fit the core's encoding")

// Value encodings of CoreOptions.ValueEncoding.
const (
	// Binary blocks are bytes: Append takes []byte (or string), Get fills *[]byte (or *string).
	Binary = "binary"
	// UTF8 blocks are text: Append takes string (or []byte) holding valid UTF-8, Get fills
	// *string (or *[]byte).
	UTF8 = "utf-8"
	// JSON blocks are JSON documents: Append takes any value encoding/json can marshal, and Get
	// unmarshals into any JSON target.
	JSON = "json"
)

// codec encodes a session's values into blocks and decodes them back.
type codec interface {
	encode(v any) ([]byte, error)
	decode(b []byte, v any) error
}

// codecFor returns the codec of an encoding name ("" is binary).
func codecFor(name string) (codec, string, error) {
	switch name {
	case "", Binary:
		return bytesCodec{text: false}, Binary, nil
	case UTF8, "utf8":
		return bytesCodec{text: true}, UTF8, nil
	case JSON:
		return jsonCodec{}, JSON, nil
	}
	return nil, "", fmt.Errorf("%w: unknown value encoding %q (want %q, %q or %q)", ErrBadRequest, name, Binary, UTF8, JSON)
}

// bytesCodec is binary, or utf-8 when text is set.
type bytesCodec struct{ text bool }

func (c bytesCodec) name() string {
	if c.text {
		return UTF8
	}
	return Binary
}

func (c bytesCodec) encode(v any) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return nil, fmt.Errorf("%w: a %s core takes []byte or string values, not %T", ErrEncoding, c.name(), v)
	}
	if c.text && !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: a %s core takes valid UTF-8 text", ErrEncoding, c.name())
	}
	return b, nil
}

func (c bytesCodec) decode(b []byte, v any) error {
	switch v := v.(type) {
	case *[]byte:
		*v = append([]byte(nil), b...)
	case *string:
		*v = string(b)
	default:
		return fmt.Errorf("%w: a %s block decodes into *[]byte or *string, not %T", ErrEncoding, c.name(), v)
	}
	return nil
}

type jsonCodec struct{}

func (jsonCodec) encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	return b, nil
}

func (jsonCodec) decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: a json block: %w", ErrEncoding, err)
	}
	return nil
}
