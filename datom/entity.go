package datom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/datomspace/datomspace/corestore"
)

// ErrNoEntity marks a lookup ref that names no entity.
var ErrNoEntity = errors.New("no such entity")

// ErrNotUnique marks a lookup ref whose attribute is not unique, so that a value of it does not
// name one entity.
var ErrNotUnique = errors.New("attribute is not unique")

// ErrBadLookupRef marks text that starts like a lookup ref but is not one.
var ErrBadLookupRef = errors.New("bad lookup ref")

// LookupRef names an entity by a value of one of its unique attributes (db/unique identity or
// value), as Datomic's lookup refs do: ["person/email", "wang@example.cn"].
type LookupRef struct {
	Attr  string
	Value Value
}

// String renders the lookup ref as JSON writes it.
func (r LookupRef) String() string {
	return fmt.Sprintf("[%q, %s]", r.Attr, Term{Value: r.Value}.jsonString())
}

// ParseLookupRef reads a lookup ref written as JSON, ["person/email", "wang@example.cn"], or
// as EDN, [:person/email "wang@example.cn"]; the value is read as ParseValueJSON (or the EDN
// query form) reads one. ok is false, and err nil, when s does not start with [ and so is an
// entity id rather than a lookup ref; text that starts with [ but is not a lookup ref is an error
// wrapping ErrBadLookupRef.
func ParseLookupRef(s string) (ref LookupRef, ok bool, err error) {
	if trimmed := strings.TrimLeft(s, " \t\r\n"); trimmed == "" || trimmed[0] != '[' {
		return LookupRef{}, false, nil
	}
	t := bytes.TrimLeft([]byte(s), " \t\r\n")
	bad := func(err error) (LookupRef, bool, error) {
		return LookupRef{}, true, fmt.Errorf(`%w %s: %w (write ["ns/attr", value] or [:ns/attr value])`, ErrBadLookupRef, s, err)
	}
	if x, jerr := decodeJSON(t); jerr == nil {
		arr, _ := x.([]any)
		if len(arr) != 2 {
			return bad(fmt.Errorf("a lookup ref has two items, an attribute and a value, not %d", len(arr)))
		}
		a, isStr := arr[0].(string)
		if !isStr {
			return bad(fmt.Errorf("its attribute is %s, not a string", jsonKind(arr[0])))
		}
		v, err := valueFromJSON(arr[1])
		if err != nil {
			return bad(err)
		}
		ref = LookupRef{Attr: a, Value: v}
	} else {
		n, err := readEDN(t)
		if err != nil {
			var pe *ednError
			if errors.As(err, &pe) {
				return bad(fmt.Errorf("%s: %s", textPos(t, pe.pos), pe.msg))
			}
			return bad(err)
		}
		if n.kind != ednVector || len(n.items) != 2 {
			return bad(errors.New("a lookup ref is a vector of an attribute and a value"))
		}
		a := n.items[0]
		if a.kind != ednKeyword && a.kind != ednString {
			return bad(fmt.Errorf("its attribute is %s, not a keyword", a.describe()))
		}
		p := &ednQueryParser{src: t}
		v, err := p.value(n.items[1])
		if err != nil {
			var pe *ednError
			if errors.As(err, &pe) {
				return bad(fmt.Errorf("%s: %s", textPos(t, pe.pos), pe.msg))
			}
			return bad(err)
		}
		ref = LookupRef{Attr: a.str, Value: v}
	}
	if err := checkAttrName(ref.Attr); err != nil {
		return bad(err)
	}
	if err := ref.Value.check(); err != nil { // {"ref": ""}, say
		return bad(err)
	}
	return ref, true, nil
}

// Lookup returns the id of the entity that holds the value of the lookup ref's attribute, as it
// is now or AsOf a transaction. The attribute must be unique (ErrNotUnique otherwise), and the
// value is converted to its type as in queries; no entity holding it is ErrNoEntity.
func (db *DB) Lookup(ctx context.Context, key corestore.Key, ref LookupRef, opts ...ReadOption) (string, error) {
	o := readOpts(opts)
	v, ci, err := db.readView(ctx, key, o.asOf)
	if err != nil {
		return "", err
	}
	defer v.close()
	return v.lookup(ctx, ci.sch.Load(), ref)
}

// lookup resolves a lookup ref in the view.
func (v *view) lookup(ctx context.Context, sch *schema, ref LookupRef) (string, error) {
	at, _ := sch.attr(ref.Attr)
	if at.Unique == UniqueNone {
		return "", fmt.Errorf("lookup ref %s in core %s: %w: %s has no db/unique, so a value of it does not name one entity",
			ref, v.key, ErrNotUnique, ref.Attr)
	}
	val := ref.Value
	if at.Type != 0 {
		cv, err := coerce(val, at.Type)
		if err != nil {
			return "", fmt.Errorf("lookup ref %s in core %s: %w: %v", ref, v.key, ErrNoEntity, err)
		}
		val = cv
	}
	prefix := val.key(appendKeyString(corePrefix(subAVET, v.cid), ref.Attr))
	var found string
	err := v.scan(ctx, subAVET, prefix, func(en *entry) bool {
		if en.visible(v.asOf) && valueEq(en.v, val) {
			found = en.e
			return false
		}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("lookup ref %s in core %s: %w", ref, v.key, err)
	}
	if found == "" {
		return "", fmt.Errorf("lookup ref %s in core %s: %w: no entity has %s %s", ref, v.key, ErrNoEntity, ref.Attr, val)
	}
	return found, nil
}

// Entities returns every entity of the core with key that has a visible datom, as it is now or
// AsOf a transaction, in entity id order, each with all its attributes. It reads one consistent
// snapshot, one entity at a time, so it holds one entity in memory however large the core is;
// stopping the loop, or ctx, ends the read. An error is yielded once, last.
func (db *DB) Entities(ctx context.Context, key corestore.Key, opts ...ReadOption) iter.Seq2[*Entity, error] {
	return func(yield func(*Entity, error) bool) {
		o := readOpts(opts)
		v, _, err := db.readView(ctx, key, o.asOf)
		if err != nil {
			yield(nil, err)
			return
		}
		defer v.close()
		var cur *Entity
		stopped := false
		err = v.scan(ctx, subEAVT, corePrefix(subEAVT, v.cid), func(en *entry) bool {
			if !en.visible(v.asOf) {
				return true
			}
			if cur != nil && cur.ID != en.e {
				if !yield(cur, nil) {
					stopped = true
					return false
				}
				cur = nil
			}
			if cur == nil {
				cur = &Entity{Core: key, ID: en.e, Attrs: map[string][]Value{}}
			}
			cur.Attrs[en.a] = append(cur.Attrs[en.a], en.v)
			return true
		})
		if stopped {
			return
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			yield(nil, fmt.Errorf("entities of core %s: %w", key, err))
			return
		}
		if cur != nil {
			yield(cur, nil)
		}
	}
}

// Map returns the entity in the entity-map form that ParseTxJSON reads: "db/id" and its id, and
// each attribute with its Value, or a []Value when it has several or when attrs (the core's
// schema, from Schema; nil for none) says it is cardinality many. Values marshal as
// ParseValueJSON reads them back, so the maps of every entity of a core, marshalled and
// transacted, rebuild its current state.
func (e *Entity) Map(attrs map[string]Attribute) map[string]any {
	m := make(map[string]any, len(e.Attrs)+1)
	m["db/id"] = e.ID
	for a, vs := range e.Attrs {
		if len(vs) == 1 && attrs[a].Cardinality != CardinalityMany {
			m[a] = vs[0]
			continue
		}
		m[a] = slices.Clone(vs)
	}
	return m
}
