package jsonschema

import (
	"fmt"
	"math"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Compile builds a Schema from a JSON schema document, as a default AJV 2020 instance compiles one
// (strict mode: unknown keywords are an error). It supports the keywords DWN protocol tag schemas
// use: type, enum, const, the number, string and array limits, pattern, items, contains,
// uniqueItems, properties, required, additionalProperties, and the applicators.
func Compile(v any) (*Schema, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return &Schema{}, nil
		}
		return &Schema{False: true}, nil
	case *jsv.Object:
		return compileObject(x)
	}
	return nil, fmt.Errorf("schema must be object or boolean")
}

var annotations = map[string]bool{"$comment": true, "description": true, "title": true, "default": true, "examples": true, "$schema": true, "$id": true, "readOnly": true, "writeOnly": true, "deprecated": true}

func compileObject(o *jsv.Object) (*Schema, error) {
	s := &Schema{}
	num := func(k string) (*float64, error) {
		v, _ := o.Get(k)
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%s must be number", k)
		}
		return &f, nil
	}
	cnt := func(k string) (*int, error) {
		v, _ := o.Get(k)
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < 0 {
			return nil, fmt.Errorf("%s must be a non-negative integer", k)
		}
		n := int(min(f, math.MaxInt32))
		return &n, nil
	}
	var err error
	for _, k := range o.Keys() {
		v, _ := o.Get(k)
		switch k {
		case "type":
			switch t := v.(type) {
			case string:
				s.Types = []string{t}
			case []any:
				for _, e := range t {
					es, _ := e.(string)
					s.Types = append(s.Types, es)
				}
			}
		case "enum":
			a, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("enum must be array")
			}
			s.Enum = a
		case "const":
			s.Const, s.HasConst = v, true
		case "minimum":
			s.Minimum, err = num(k)
		case "maximum":
			s.Maximum, err = num(k)
		case "exclusiveMinimum":
			s.ExclusiveMinimum, err = num(k)
		case "exclusiveMaximum":
			s.ExclusiveMaximum, err = num(k)
		case "multipleOf":
			s.MultipleOf, err = num(k)
		case "minLength":
			s.MinLength, err = cnt(k)
		case "maxLength":
			s.MaxLength, err = cnt(k)
		case "minItems":
			s.MinItems, err = cnt(k)
		case "maxItems":
			s.MaxItems, err = cnt(k)
		case "minContains":
			s.MinContains, err = cnt(k)
		case "maxContains":
			s.MaxContains, err = cnt(k)
		case "minProperties":
			s.MinProperties, err = cnt(k)
		case "maxProperties":
			s.MaxProperties, err = cnt(k)
		case "uniqueItems":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("uniqueItems must be boolean")
			}
			s.UniqueItems = b
		case "pattern":
			src, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("pattern must be string")
			}
			if s.Pattern, err = CompilePattern(src); err != nil {
				return nil, fmt.Errorf("pattern %q: %v", src, err)
			}
		case "items":
			s.Items, err = Compile(v)
		case "contains":
			s.Contains, err = Compile(v)
		case "not":
			s.Not, err = Compile(v)
		case "additionalProperties":
			s.AdditionalProperties, err = Compile(v)
		case "anyOf", "oneOf", "allOf":
			a, ok := v.([]any)
			if !ok || len(a) == 0 {
				return nil, fmt.Errorf("%s must be a non-empty array", k)
			}
			var subs []*Schema
			for _, e := range a {
				sub, err := Compile(e)
				if err != nil {
					return nil, err
				}
				subs = append(subs, sub)
			}
			switch k {
			case "anyOf":
				s.AnyOf = subs
			case "oneOf":
				s.OneOf = subs
			default:
				s.AllOf = subs
			}
		case "required":
			a, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("required must be array")
			}
			s.Required = []string{}
			for _, e := range a {
				es, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("required must be array of strings")
				}
				s.Required = append(s.Required, es)
			}
		case "properties":
			po, ok := v.(*jsv.Object)
			if !ok {
				return nil, fmt.Errorf("properties must be object")
			}
			s.Properties = []Property{}
			for _, pk := range po.Keys() {
				pv, _ := po.Get(pk)
				sub, err := Compile(pv)
				if err != nil {
					return nil, err
				}
				s.Properties = append(s.Properties, Property{Name: pk, Schema: sub})
			}
		default:
			if annotations[k] {
				continue
			}
			return nil, &UnknownKeywordError{Keyword: k}
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// UnknownKeywordError is AJV's strict-mode failure.
type UnknownKeywordError struct{ Keyword string }

func (e *UnknownKeywordError) Error() string {
	return `strict mode: unknown keyword: "` + e.Keyword + `"`
}

// ErrorsText is ajv.errorsText with a dataVar: "<dataVar><instancePath> <message>" joined with ", ".
func ErrorsText(errs []Error, dataVar string) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = dataVar + e.InstancePath + " " + e.Message
	}
	return strings.Join(parts, ", ")
}

// MetaCheck checks a tag schema the way validating it against the JSON Schema 2020-12 meta-schema
// would, for the keywords a DWN tag schema may hold, and returns AJV-style errors with paths
// relative to the schema.
func MetaCheck(v any) []Error {
	var errs []Error
	metaCheck(v, "", &errs)
	return errs
}

func metaCheck(v any, path string, errs *[]Error) {
	o, ok := v.(*jsv.Object)
	if !ok {
		if _, isBool := v.(bool); !isBool {
			*errs = append(*errs, Error{InstancePath: path, Keyword: "type", Message: "must be object,boolean"})
		}
		return
	}
	for _, k := range o.Keys() {
		if len(*errs) > 0 {
			return
		}
		val, _ := o.Get(k)
		p := path + "/" + k
		switch k {
		case "enum":
			if _, ok := val.([]any); !ok {
				*errs = append(*errs, Error{InstancePath: p, Keyword: "type", Message: "must be array"})
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			if !typeMatches("number", val) {
				*errs = append(*errs, Error{InstancePath: p, Keyword: "type", Message: "must be number"})
			}
		case "minLength", "maxLength", "minItems", "maxItems", "minContains", "maxContains":
			if !typeMatches("integer", val) {
				*errs = append(*errs, Error{InstancePath: p, Keyword: "type", Message: "must be integer"})
			} else if val.(float64) < 0 {
				*errs = append(*errs, Error{InstancePath: p, Keyword: "minimum", Message: "must be >= 0"})
			}
		case "uniqueItems":
			if _, ok := val.(bool); !ok {
				*errs = append(*errs, Error{InstancePath: p, Keyword: "type", Message: "must be boolean"})
			}
		case "items", "contains":
			metaCheck(val, p, errs)
		}
	}
}
