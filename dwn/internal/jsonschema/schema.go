// Package jsonschema validates jsv values against a subset of JSON Schema 2020-12 the way AJV 8
// (allErrors off) does, so that a validation failure reports the same first error, with the same
// instance path and message, as dwn-sdk-js's precompiled validators.
//
// Keywords are evaluated in AJV's order: first the untyped ones ($ref, const, enum, not, anyOf,
// oneOf, allOf), then those of the number, string, array and object groups, each group only when
// the value has its type; a type mismatch is reported where AJV reports it.
package jsonschema

import (
	"regexp"
)

// Schema is one JSON schema. The zero value accepts everything.
type Schema struct {
	// False makes the schema reject everything ("boolean schema is false").
	False bool

	// Ref names a schema in the Registry the schema is validated with.
	Ref string

	Types    []string // "object", "array", "string", "number", "integer", "boolean", "null"
	Enum     []any
	Const    any
	HasConst bool

	Not   *Schema
	AnyOf []*Schema
	OneOf []*Schema
	AllOf []*Schema

	// number
	Maximum, Minimum, ExclusiveMaximum, ExclusiveMinimum *float64
	MultipleOf                                           *float64

	// string
	MaxLength, MinLength *int
	Pattern              *Pattern

	// array
	MaxItems, MinItems       *int
	Items                    *Schema
	Contains                 *Schema
	MinContains, MaxContains *int
	UniqueItems              bool

	// object
	MaxProperties, MinProperties *int
	Required                     []string
	Properties                   []Property
	PatternProperties            []PatternProperty
	AdditionalProperties         *Schema
	Dependencies                 []Dependency
	UnevaluatedPropertiesFalse   bool
}

// Property is one entry of "properties", in schema order.
type Property struct {
	Name   string
	Schema *Schema
}

// PatternProperty is one entry of "patternProperties".
type PatternProperty struct {
	Pattern *Pattern
	Schema  *Schema
}

// Dependency is one entry of draft-7 "dependencies": either required properties or a schema.
type Dependency struct {
	Property string
	Required []string // property dependency
	Schema   *Schema  // schema dependency
}

// Pattern is a regular expression with the source text AJV prints.
type Pattern struct {
	Source string
	Match  func(string) bool
}

// NewPattern compiles an ECMAScript pattern whose syntax RE2 shares. "." is translated to
// ECMAScript's meaning (anything but a line terminator).
func NewPattern(src string) *Pattern {
	re := regexp.MustCompile(translate(src))
	return &Pattern{Source: src, Match: re.MatchString}
}

// CompilePattern is NewPattern for untrusted sources: it returns an error instead of panicking.
func CompilePattern(src string) (*Pattern, error) {
	re, err := regexp.Compile(translate(src))
	if err != nil {
		return nil, err
	}
	return &Pattern{Source: src, Match: re.MatchString}, nil
}

// translate rewrites the ECMAScript constructs whose RE2 meaning differs: an unescaped "." outside
// a class matches anything but \n, \r, U+2028 and U+2029.
func translate(src string) string {
	out := make([]byte, 0, len(src)+16)
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			out = append(out, c, src[i+1])
			i++
		case c == '[':
			inClass = true
			out = append(out, c)
		case c == ']':
			inClass = false
			out = append(out, c)
		case c == '.' && !inClass:
			out = append(out, `[^\n\r\x{2028}\x{2029}]`...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// Registry resolves Ref names.
type Registry map[string]*Schema

// helpers for building schemas

// F returns a pointer to f.
func F(f float64) *float64 { return &f }

// I returns a pointer to n.
func I(n int) *int { return &n }
