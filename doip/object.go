package doip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// DigitalObject is a DOIP digital object as it is serialized: id, type, attributes (any JSON
// object) and the elements' descriptions. Element bytes travel beside it, not in it.
type DigitalObject struct {
	ID         string          `json:"id,omitempty"`
	Type       string          `json:"type,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Elements   []Element       `json:"elements,omitempty"`
}

// Element describes one element of a digital object.
type Element struct {
	ID     string `json:"id"`
	Length int64  `json:"length"`
	Type   string `json:"type,omitempty"`
	// Attributes is any JSON object.
	Attributes json.RawMessage `json:"attributes,omitempty"`
}

// Element returns the element with id, or nil.
func (do *DigitalObject) Element(id string) *Element {
	for i := range do.Elements {
		if do.Elements[i].ID == id {
			return &do.Elements[i]
		}
	}
	return nil
}

// outObject is a DigitalObject as a repository writes it: elements is always present.
type outObject struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Elements   []Element       `json:"elements"`
}

// marshalOut writes the object with its elements array even when it is empty, as Cordra does.
func (do DigitalObject) marshalOut() ([]byte, error) {
	els := do.Elements
	if els == nil {
		els = []Element{}
	}
	return json.Marshal(outObject{ID: do.ID, Type: do.Type, Attributes: do.Attributes, Elements: els})
}

// Limits on what a repository stores; requests over them are answered with status 101.
const (
	MaxIDLen          = 512      // object ids, bytes
	MaxElementIDLen   = 256      // element ids, bytes
	MaxTypeLen        = 256      // object and element types, bytes
	MaxElements       = 128      // elements per object
	MaxAttributesLen  = 1 << 20  // an object's attributes JSON, bytes
	MaxElementAttrLen = 16 << 10 // an element's attributes JSON, bytes
)

// checkName reports why s cannot be an id or type of at most max bytes.
func checkName(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalid, what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s holds a control character", ErrInvalid, what)
		}
	}
	return nil
}

// canonicalObject checks that raw is a JSON object (or absent) and returns it re-encoded with
// sorted keys and numbers kept as written, so equal attributes are equal bytes.
func canonicalObject(what string, raw json.RawMessage, max int) (json.RawMessage, map[string]any, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil, nil
	}
	if len(t) > max {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalid, what, len(t), max)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: %s: data after the JSON value", ErrInvalid, what)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s is not a JSON object", ErrInvalid, what)
	}
	b, err := marshalNoEscape(m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	return b, m, nil
}

// marshalNoEscape encodes v without escaping <, > and &, and without a trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// parseObject reads a digital object from JSON and checks its shape.
func parseObject(b []byte) (*DigitalObject, error) {
	var raw struct {
		ID         *string         `json:"id"`
		Type       *string         `json:"type"`
		Attributes json.RawMessage `json:"attributes"`
		Elements   json.RawMessage `json:"elements"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: digital object: %w", ErrInvalid, err)
	}
	do := &DigitalObject{Attributes: raw.Attributes}
	if raw.ID != nil {
		do.ID = *raw.ID
	}
	if raw.Type != nil {
		do.Type = *raw.Type
	}
	if t := bytes.TrimSpace(raw.Elements); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		var els []struct {
			ID         *string         `json:"id"`
			Type       string          `json:"type"`
			Attributes json.RawMessage `json:"attributes"`
		}
		if err := json.Unmarshal(t, &els); err != nil {
			return nil, fmt.Errorf("%w: digital object elements: %w", ErrInvalid, err)
		}
		do.Elements = make([]Element, 0, len(els))
		for i, e := range els {
			if e.ID == nil || *e.ID == "" {
				return nil, fmt.Errorf("%w: element %d has no id", ErrInvalid, i)
			}
			do.Elements = append(do.Elements, Element{ID: *e.ID, Type: e.Type, Attributes: e.Attributes})
		}
	}
	if err := checkName("object id", do.ID, MaxIDLen); err != nil {
		return nil, err
	}
	if err := checkName("object type", do.Type, MaxTypeLen); err != nil {
		return nil, err
	}
	if len(do.Elements) > MaxElements {
		return nil, fmt.Errorf("%w: %d elements exceed %d", ErrInvalid, len(do.Elements), MaxElements)
	}
	seen := map[string]bool{}
	for i := range do.Elements {
		e := &do.Elements[i]
		if err := checkName("element id", e.ID, MaxElementIDLen); err != nil {
			return nil, err
		}
		if err := checkName("element type", e.Type, MaxTypeLen); err != nil {
			return nil, err
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("%w: element %q listed twice", ErrInvalid, e.ID)
		}
		seen[e.ID] = true
		var err error
		if e.Attributes, _, err = canonicalObject("element "+e.ID+" attributes", e.Attributes, MaxElementAttrLen); err != nil {
			return nil, err
		}
	}
	var err error
	if do.Attributes, _, err = canonicalObject("attributes", do.Attributes, MaxAttributesLen); err != nil {
		return nil, err
	}
	return do, nil
}
