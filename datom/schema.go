package datom

import (
	"fmt"
	"maps"
	"strings"
)

// The schema attributes.
const (
	AttrIdent       = "db/ident"
	AttrValueType   = "db/valueType"
	AttrCardinality = "db/cardinality"
	AttrUnique      = "db/unique"
	AttrDoc         = "db/doc"
)

// Cardinality says how many values an entity may have for an attribute at once.
type Cardinality uint8

// The cardinalities. CardinalityOne is also what an attribute without schema has.
const (
	CardinalityOne  Cardinality = 0
	CardinalityMany Cardinality = 1
)

// String returns "one" or "many".
func (c Cardinality) String() string {
	if c == CardinalityMany {
		return "many"
	}
	return "one"
}

// Uniqueness says whether a value of an attribute may belong to one entity only.
type Uniqueness uint8

// The uniqueness kinds: UniqueIdentity values also name their entity, so an entity map without
// db/id that carries one updates the entity that holds it (upsert); UniqueValue only rejects a
// second holder.
const (
	UniqueNone     Uniqueness = 0
	UniqueIdentity Uniqueness = 1
	UniqueValue    Uniqueness = 2
)

// String returns "", "identity" or "value".
func (u Uniqueness) String() string {
	switch u {
	case UniqueIdentity:
		return "identity"
	case UniqueValue:
		return "value"
	}
	return ""
}

// Attribute is the schema of one attribute. Type 0 means any type, which is what attributes
// without schema have.
type Attribute struct {
	Ident       string
	Type        Kind
	Cardinality Cardinality
	Unique      Uniqueness
	Doc         string
	// Entity is the entity that holds the attribute's schema datoms; "" for built-ins and
	// attributes without schema.
	Entity string
}

// builtin is the schema of the schema attributes themselves.
var builtin = map[string]Attribute{
	AttrIdent:       {Ident: AttrIdent, Type: KindString, Unique: UniqueIdentity, Doc: "the attribute's name"},
	AttrValueType:   {Ident: AttrValueType, Type: KindString, Doc: "string|int64|float64|bool|bytes|time|ref|core-ref"},
	AttrCardinality: {Ident: AttrCardinality, Type: KindString, Doc: "one|many"},
	AttrUnique:      {Ident: AttrUnique, Type: KindString, Doc: "identity|value"},
	AttrDoc:         {Ident: AttrDoc, Type: KindString, Doc: "documentation"},
}

func isSchemaAttr(a string) bool {
	if len(a) < 3 || a[:3] != "db/" {
		return false
	}
	_, ok := builtin[a]
	return ok
}

// schema is an immutable snapshot of a core's attributes; a change makes a new one.
type schema struct {
	attrs    map[string]Attribute // by ident
	byEntity map[string]string    // schema entity → ident
}

func newSchema() *schema {
	return &schema{attrs: maps.Clone(builtin), byEntity: map[string]string{}}
}

func (s *schema) clone() *schema {
	return &schema{attrs: maps.Clone(s.attrs), byEntity: maps.Clone(s.byEntity)}
}

// attr returns the attribute's schema; known is false for an attribute without one, whose
// returned schema is cardinality one, any type.
func (s *schema) attr(a string) (Attribute, bool) {
	at, ok := s.attrs[a]
	if !ok {
		return Attribute{Ident: a}, false
	}
	return at, true
}

// schemaValues are the live schema datoms of one schema entity.
type schemaValues struct {
	ident, valueType, cardinality, unique, doc string
}

// field returns the field that holds schema attribute a.
func (v *schemaValues) field(a string) *string {
	switch a {
	case AttrIdent:
		return &v.ident
	case AttrValueType:
		return &v.valueType
	case AttrCardinality:
		return &v.cardinality
	case AttrUnique:
		return &v.unique
	}
	return &v.doc
}

// set installs the attribute described by v on entity e, replacing what e described before.
func (s *schema) set(e string, v schemaValues) {
	if old, ok := s.byEntity[e]; ok {
		delete(s.attrs, old)
		delete(s.byEntity, e)
	}
	if v.ident == "" || isSchemaAttr(v.ident) {
		return
	}
	at := Attribute{Ident: v.ident, Entity: e, Doc: v.doc}
	// Invalid values from a foreign writer read as the defaults: any type, one, not unique.
	at.Type, _ = ParseKind(v.valueType)
	at.Cardinality, _ = parseCardinality(v.cardinality)
	at.Unique, _ = parseUniqueness(v.unique)
	s.attrs[v.ident] = at
	s.byEntity[e] = v.ident
}

// parseCardinality reads a db/cardinality value: one or many, or Datomic's db.cardinality/one
// and db.cardinality/many (with or without a leading colon).
func parseCardinality(s string) (Cardinality, bool) {
	switch strings.TrimPrefix(strings.TrimPrefix(s, ":"), "db.cardinality/") {
	case "one":
		return CardinalityOne, true
	case "many":
		return CardinalityMany, true
	}
	return CardinalityOne, false
}

// parseUniqueness reads a db/unique value: identity or value, or Datomic's db.unique/identity
// and db.unique/value (with or without a leading colon).
func parseUniqueness(s string) (Uniqueness, bool) {
	switch strings.TrimPrefix(strings.TrimPrefix(s, ":"), "db.unique/") {
	case "identity":
		return UniqueIdentity, true
	case "value":
		return UniqueValue, true
	}
	return UniqueNone, false
}

// canonicalSchemaValue returns the name Transact stores for the value of schema attribute a:
// a value type, cardinality or uniqueness in any accepted spelling becomes its canonical name.
// It reports why a value is not valid.
func canonicalSchemaValue(a, v string) (string, error) {
	switch a {
	case AttrValueType:
		k, err := ParseKind(v)
		if err != nil {
			return v, err
		}
		return k.String(), nil
	case AttrCardinality:
		c, ok := parseCardinality(v)
		if !ok {
			return v, fmt.Errorf("cardinality %q is not one or many (or db.cardinality/one or db.cardinality/many)", v)
		}
		return c.String(), nil
	case AttrUnique:
		u, ok := parseUniqueness(v)
		if !ok {
			return v, fmt.Errorf("unique %q is not identity or value (or db.unique/identity or db.unique/value)", v)
		}
		return u.String(), nil
	}
	return v, nil
}

// checkAttrName reports why a is not a usable attribute name: it must be namespaced, ns/name.
func checkAttrName(a string) error {
	if err := checkID("attribute", a); err != nil {
		return err
	}
	i := strings.IndexByte(a, '/')
	if i <= 0 || i == len(a)-1 {
		return fmt.Errorf("attribute %q is not namespaced like contact/email", a)
	}
	return nil
}
