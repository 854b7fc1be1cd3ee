package jsonschema

import (
	"math"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Error is one AJV validation error.
type Error struct {
	InstancePath string // JSON pointer to the value, "" for the root
	Keyword      string
	Message      string
	// Property is AJV's params.additionalProperty or params.unevaluatedProperty.
	Property string
}

// Validate validates v against s and returns AJV's error list (nil when v is valid). With
// allErrors off the list holds one error, unless composite keywords collected the failures of
// their branches before their own error, as AJV does.
func Validate(reg Registry, s *Schema, v any) []Error {
	c := vctx{reg: reg}
	if ok, _ := c.validate(s, v, "", false); ok {
		return nil
	}
	return c.errs
}

type vctx struct {
	reg  Registry
	errs []Error
}

// evaluated is the set of properties of an object value that in-place applicators evaluated,
// which unevaluatedProperties needs.
type evaluated struct {
	all   bool
	props map[string]bool
}

func (e *evaluated) add(k string) {
	if e.all {
		return
	}
	if e.props == nil {
		e.props = map[string]bool{}
	}
	e.props[k] = true
}

func (e *evaluated) merge(o evaluated) {
	if e.all {
		return
	}
	if o.all {
		e.all, e.props = true, nil
		return
	}
	for k := range o.props {
		e.add(k)
	}
}

func (c *vctx) fail(path, keyword, msg, prop string) bool {
	c.errs = append(c.errs, Error{InstancePath: path, Keyword: keyword, Message: msg, Property: prop})
	return false
}

func typeMatches(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(*jsv.Object)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		f, ok := v.(float64)
		return ok && !math.IsInf(f, 0) && !math.IsNaN(f)
	case "integer":
		f, ok := v.(float64)
		return ok && !math.IsInf(f, 0) && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

// groups of typed keywords, in AJV's order
const (
	gNumber = iota
	gString
	gArray
	gObject
)

var groupType = [...]string{"number", "string", "array", "object"}

func (s *Schema) hasGroup(g int) bool {
	switch g {
	case gNumber:
		return s.Maximum != nil || s.Minimum != nil || s.ExclusiveMaximum != nil || s.ExclusiveMinimum != nil || s.MultipleOf != nil
	case gString:
		return s.MaxLength != nil || s.MinLength != nil || s.Pattern != nil
	case gArray:
		return s.MaxItems != nil || s.MinItems != nil || s.Items != nil || s.Contains != nil || s.UniqueItems
	case gObject:
		return s.MaxProperties != nil || s.MinProperties != nil || s.Required != nil || s.Properties != nil ||
			s.PatternProperties != nil || s.AdditionalProperties != nil || s.Dependencies != nil || s.UnevaluatedPropertiesFalse
	}
	return false
}

func groupOf(t string) int {
	switch t {
	case "number":
		return gNumber
	case "string":
		return gString
	case "array":
		return gArray
	case "object":
		return gObject
	}
	return -1
}

func (c *vctx) typeError(s *Schema, path string) bool {
	return c.fail(path, "type", "must be "+strings.Join(s.Types, ","), "")
}

// validate returns whether v is valid, and (with wantEval) the properties of v it evaluated.
func (c *vctx) validate(s *Schema, v any, path string, wantEval bool) (bool, evaluated) {
	var ev evaluated
	if s == nil {
		return true, ev
	}
	wantEval = wantEval || s.UnevaluatedPropertiesFalse
	if s.False {
		return c.fail(path, "false schema", "boolean schema is false", ""), ev
	}
	// The type is checked up front unless one group of keywords covers the single type.
	deferred := -1
	if len(s.Types) > 0 {
		if len(s.Types) == 1 && groupOf(s.Types[0]) >= 0 && s.hasGroup(groupOf(s.Types[0])) {
			deferred = groupOf(s.Types[0])
		} else {
			ok := false
			for _, t := range s.Types {
				if typeMatches(t, v) {
					ok = true
					break
				}
			}
			if !ok {
				return c.typeError(s, path), ev
			}
		}
	}

	// untyped keywords
	if s.Ref != "" {
		ok, rev := c.validate(c.reg[s.Ref], v, path, wantEval)
		if !ok {
			return false, ev
		}
		ev.merge(rev)
	}
	if s.HasConst && !jsv.DeepEqual(v, s.Const) {
		return c.fail(path, "const", "must be equal to constant", ""), ev
	}
	if s.Enum != nil {
		ok := false
		for _, e := range s.Enum {
			if jsv.DeepEqual(v, e) {
				ok = true
				break
			}
		}
		if !ok {
			return c.fail(path, "enum", "must be equal to one of the allowed values", ""), ev
		}
	}
	if s.Not != nil {
		mark := len(c.errs)
		ok, _ := c.validate(s.Not, v, path, false)
		c.errs = c.errs[:mark]
		if ok {
			return c.fail(path, "not", "must NOT be valid", ""), ev
		}
	}
	if s.AnyOf != nil {
		mark := len(c.errs)
		ok := false
		for _, sub := range s.AnyOf {
			bok, bev := c.validate(sub, v, path, wantEval)
			if bok {
				ok = true
				ev.merge(bev)
				if !wantEval {
					break
				}
			}
		}
		if !ok {
			return c.fail(path, "anyOf", "must match a schema in anyOf", ""), ev
		}
		c.errs = c.errs[:mark]
	}
	if s.OneOf != nil {
		mark := len(c.errs)
		passing := 0
		var pev evaluated
		for _, sub := range s.OneOf {
			bok, bev := c.validate(sub, v, path, wantEval)
			if bok {
				passing++
				pev = bev
			}
		}
		if passing != 1 {
			return c.fail(path, "oneOf", "must match exactly one schema in oneOf", ""), ev
		}
		c.errs = c.errs[:mark]
		ev.merge(pev)
	}
	for _, sub := range s.AllOf {
		ok, sev := c.validate(sub, v, path, wantEval)
		if !ok {
			return false, ev
		}
		ev.merge(sev)
	}

	// typed groups
	for g := gNumber; g <= gObject; g++ {
		if !s.hasGroup(g) {
			continue
		}
		if !typeMatches(groupType[g], v) {
			if deferred == g {
				return c.typeError(s, path), ev
			}
			continue
		}
		var ok bool
		switch g {
		case gNumber:
			ok = c.number(s, v.(float64), path)
		case gString:
			ok = c.str(s, v.(string), path)
		case gArray:
			ok = c.array(s, v.([]any), path)
		case gObject:
			var oev evaluated
			ok, oev = c.object(s, v.(*jsv.Object), path, ev, wantEval)
			ev.merge(oev)
		}
		if !ok {
			return false, ev
		}
	}
	return true, ev
}

func num(f float64) string { return jsv.NumberString(f) }

func (c *vctx) number(s *Schema, f float64, path string) bool {
	if s.Maximum != nil && !(f <= *s.Maximum) {
		return c.fail(path, "maximum", "must be <= "+num(*s.Maximum), "")
	}
	if s.Minimum != nil && !(f >= *s.Minimum) {
		return c.fail(path, "minimum", "must be >= "+num(*s.Minimum), "")
	}
	if s.ExclusiveMaximum != nil && !(f < *s.ExclusiveMaximum) {
		return c.fail(path, "exclusiveMaximum", "must be < "+num(*s.ExclusiveMaximum), "")
	}
	if s.ExclusiveMinimum != nil && !(f > *s.ExclusiveMinimum) {
		return c.fail(path, "exclusiveMinimum", "must be > "+num(*s.ExclusiveMinimum), "")
	}
	if s.MultipleOf != nil {
		q := f / *s.MultipleOf
		if q != math.Trunc(q) {
			return c.fail(path, "multipleOf", "must be multiple of "+num(*s.MultipleOf), "")
		}
	}
	return true
}

func (c *vctx) str(s *Schema, v string, path string) bool {
	if s.MaxLength != nil && jsv.RuneLength(v) > *s.MaxLength {
		return c.fail(path, "maxLength", "must NOT have more than "+strconv.Itoa(*s.MaxLength)+" characters", "")
	}
	if s.MinLength != nil && jsv.RuneLength(v) < *s.MinLength {
		return c.fail(path, "minLength", "must NOT have fewer than "+strconv.Itoa(*s.MinLength)+" characters", "")
	}
	if s.Pattern != nil && !s.Pattern.Match(v) {
		return c.fail(path, "pattern", `must match pattern "`+s.Pattern.Source+`"`, "")
	}
	return true
}

func (c *vctx) array(s *Schema, a []any, path string) bool {
	if s.MaxItems != nil && len(a) > *s.MaxItems {
		return c.fail(path, "maxItems", "must NOT have more than "+strconv.Itoa(*s.MaxItems)+" items", "")
	}
	if s.MinItems != nil && len(a) < *s.MinItems {
		return c.fail(path, "minItems", "must NOT have fewer than "+strconv.Itoa(*s.MinItems)+" items", "")
	}
	if s.Items != nil {
		for i, e := range a {
			if ok, _ := c.validate(s.Items, e, path+"/"+strconv.Itoa(i), false); !ok {
				return false
			}
		}
	}
	if s.Contains != nil {
		lo := 1
		if s.MinContains != nil {
			lo = *s.MinContains
		}
		mark := len(c.errs)
		n := 0
		for i, e := range a {
			if ok, _ := c.validate(s.Contains, e, path+"/"+strconv.Itoa(i), false); ok {
				n++
			}
		}
		c.errs = c.errs[:mark]
		if n < lo || (s.MaxContains != nil && n > *s.MaxContains) {
			msg := "must contain at least " + strconv.Itoa(lo) + " valid item(s)"
			if s.MaxContains != nil {
				msg = "must contain at least " + strconv.Itoa(lo) + " and no more than " + strconv.Itoa(*s.MaxContains) + " valid item(s)"
			}
			return c.fail(path, "contains", msg, "")
		}
	}
	if s.UniqueItems && len(a) > 1 {
		var itemTypes []string
		if s.Items != nil {
			itemTypes = s.Items.Types
		}
		optimize := len(itemTypes) > 0
		for _, t := range itemTypes {
			if t == "object" || t == "array" {
				optimize = false
			}
		}
		if optimize {
			indices := map[string]int{}
			for i := len(a) - 1; i >= 0; i-- {
				item := a[i]
				ok := false
				for _, t := range itemTypes {
					if typeMatches(t, item) {
						ok = true
					}
				}
				if !ok {
					continue
				}
				key := propertyKey(item)
				if sv, isStr := item.(string); isStr && len(itemTypes) > 1 {
					key = sv + "_"
				}
				if j, dup := indices[key]; dup {
					return c.fail(path, "uniqueItems", "must NOT have duplicate items (items ## "+strconv.Itoa(j)+" and "+strconv.Itoa(i)+" are identical)", "")
				}
				indices[key] = i
			}
		} else {
			for i := len(a) - 1; i >= 0; i-- {
				for j := i - 1; j >= 0; j-- {
					if jsv.DeepEqual(a[i], a[j]) {
						return c.fail(path, "uniqueItems", "must NOT have duplicate items (items ## "+strconv.Itoa(j)+" and "+strconv.Itoa(i)+" are identical)", "")
					}
				}
			}
		}
	}
	return true
}

// propertyKey is the property name JavaScript makes of a primitive used as an object key.
func propertyKey(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return jsv.NumberString(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	return jsv.Stringify(v)
}

func escapePointer(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func (c *vctx) object(s *Schema, o *jsv.Object, path string, inPlace evaluated, wantEval bool) (bool, evaluated) {
	var ev evaluated
	needEval := wantEval || s.UnevaluatedPropertiesFalse
	if s.MaxProperties != nil && o.Len() > *s.MaxProperties {
		return c.fail(path, "maxProperties", "must NOT have more than "+strconv.Itoa(*s.MaxProperties)+" properties", ""), ev
	}
	if s.MinProperties != nil && o.Len() < *s.MinProperties {
		return c.fail(path, "minProperties", "must NOT have fewer than "+strconv.Itoa(*s.MinProperties)+" properties", ""), ev
	}
	for _, r := range s.Required {
		if !o.Has(r) {
			return c.fail(path, "required", "must have required property '"+r+"'", ""), ev
		}
	}
	if s.AdditionalProperties != nil {
		for _, k := range o.Keys() {
			if s.isDeclared(k) {
				continue
			}
			if s.AdditionalProperties.False {
				return c.fail(path, "additionalProperties", "must NOT have additional properties", k), ev
			}
			v, _ := o.Get(k)
			if ok, _ := c.validate(s.AdditionalProperties, v, path+"/"+escapePointer(k), false); !ok {
				return false, ev
			}
		}
		if needEval {
			ev.all = true
		}
	}
	for _, d := range s.Dependencies {
		if !o.Has(d.Property) {
			continue
		}
		if d.Schema != nil {
			ok, dev := c.validate(d.Schema, o, path, needEval)
			if !ok {
				return false, ev
			}
			ev.merge(dev)
			continue
		}
		for _, r := range d.Required {
			if !o.Has(r) {
				word := "property"
				if len(d.Required) != 1 {
					word = "properties"
				}
				return c.fail(path, "dependencies", "must have "+word+" "+strings.Join(d.Required, ", ")+" when property "+d.Property+" is present", ""), ev
			}
		}
	}
	for _, p := range s.Properties {
		v, ok := o.Get(p.Name)
		if !ok {
			continue
		}
		if ok, _ := c.validate(p.Schema, v, path+"/"+escapePointer(p.Name), false); !ok {
			return false, ev
		}
		if needEval {
			ev.add(p.Name)
		}
	}
	for _, pp := range s.PatternProperties {
		for _, k := range o.Keys() {
			if !pp.Pattern.Match(k) {
				continue
			}
			v, _ := o.Get(k)
			if ok, _ := c.validate(pp.Schema, v, path+"/"+escapePointer(k), false); !ok {
				return false, ev
			}
			if needEval {
				ev.add(k)
			}
		}
	}
	if s.UnevaluatedPropertiesFalse {
		all := evaluated{}
		all.merge(inPlace)
		all.merge(ev)
		if !all.all {
			for _, k := range o.Keys() {
				if !all.props[k] {
					return c.fail(path, "unevaluatedProperties", "must NOT have unevaluated properties", k), ev
				}
			}
		}
		ev.all = true
	}
	return true, ev
}

func (s *Schema) isDeclared(k string) bool {
	for _, p := range s.Properties {
		if p.Name == k {
			return true
		}
	}
	for _, pp := range s.PatternProperties {
		if pp.Pattern.Match(k) {
			return true
		}
	}
	return false
}
