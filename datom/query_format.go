package datom

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// String renders the query in its EDN form, which ParseQueryEDN reads back as the same query
// (variables that are not EDN symbols, possible in JSON, are written as they are and do not read
// back).
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("[:find")
	for _, v := range q.Find {
		b.WriteString(" " + v)
	}
	if len(q.In) > 0 {
		b.WriteString(" :in {")
		for i, name := range slices.Sorted(mapKeys(q.In)) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name + " [")
			for k, v := range q.In[name] {
				if k > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(ednValue(v))
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	if len(q.Where) > 0 {
		b.WriteString(" :where")
		for _, c := range q.Where {
			b.WriteByte(' ')
			if c.Pred != "" {
				b.WriteString("[(" + c.Pred)
				for _, t := range c.Args {
					b.WriteString(" " + ednTerm(t, 2))
				}
				b.WriteString(")]")
				continue
			}
			b.WriteByte('[')
			for pos, t := range c.Terms {
				if pos > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(ednTerm(t, pos))
			}
			b.WriteByte(']')
		}
	}
	if q.AsOf != nil {
		fmt.Fprintf(&b, " :as-of %d", *q.AsOf)
	}
	if len(q.Cores) > 0 {
		b.WriteString(" :cores [")
		for i, k := range q.Cores {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(`"` + k.String() + `"`)
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

// ednTerm renders a term at position pos of a data clause (2 for predicate arguments).
func ednTerm(t Term, pos int) string {
	switch {
	case t.Var != "":
		return t.Var
	case t.Wild:
		return "_"
	}
	if pos <= 1 && (t.Value.Kind == KindString || t.Value.Kind == KindRef) {
		return ednQuote(t.Value.Str) // an entity id or an attribute
	}
	if pos == 3 && t.Value.Kind == KindInt {
		return strconv.FormatInt(t.Value.Int, 10)
	}
	return ednValue(t.Value)
}

// ednValue renders a constant value as the EDN query form reads it.
func ednValue(v Value) string {
	switch v.Kind {
	case KindString:
		return ednQuote(v.Str)
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return fmt.Sprintf("{:float64 %s}", ednQuote(strconv.FormatFloat(v.Float, 'g', -1, 64)))
		}
		s := strconv.FormatFloat(v.Float, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // else it reads back as an integer
		}
		return s
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindBytes:
		return "{:bytes " + ednQuote(base64.StdEncoding.EncodeToString(v.Bytes)) + "}"
	case KindTime:
		return "#inst " + ednQuote(v.Time.Format(time.RFC3339Nano))
	case KindRef:
		return "{:ref " + ednQuote(v.Str) + "}"
	case KindCoreRef:
		return "{:core-ref {:core " + ednQuote(v.Core.String()) + " :e " + ednQuote(v.Str) + "}}"
	case KindBlob:
		s := "{:blob " + ednQuote(v.Blob.CID.String()) + " :size " + strconv.FormatUint(v.Blob.Size, 10)
		if v.BlobOf == KindString {
			s += ` :type "string"`
		}
		return s + "}"
	}
	return "nil"
}

// ednQuote quotes s as an EDN string: the escapes the reader knows, \uXXXX for other control
// characters.
func ednQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
