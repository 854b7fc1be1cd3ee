// Package query parses the subset of Lucene's classic query syntax that Cordra's users write in
// a DOIP Search's "query" attribute:
//
//	hello                   a bare term: any attribute text holding the word
//	/name:User              a field: a JSON pointer into the attributes (or into "content")
//	type:Document id:x/y    the object's type and id, matched exactly
//	"hello world"           a phrase: the words next to each other, in order
//	hel*  /name:us*  f:*    a trailing wildcard (f:* matches any value of f)
//	+a -b !c NOT d          required, prohibited
//	a AND b, a && b         both required; a OR b, a || b: either
//	(a OR b) AND c          grouping; f:(a b) applies the field to each term inside
//	*:*  or  *              every object
//
// As in Lucene, clauses without an operator are optional (OR): a boolean query matches what
// all its required clauses match, or, when it has none, what any optional clause matches, less
// what its prohibited clauses match. A backslash escapes the next character. Ranges, fuzzy and
// proximity searches, boosts, "?" and wildcards anywhere but at the end of a term are refused
// with a SyntaxError that gives the byte offset where the query stops making sense.
//
// Parse is pure: it builds an AST (Bool, Term, All) that the doip package compiles to Datalog.
package query

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrSyntax marks a query that does not parse.
var ErrSyntax = errors.New("query does not parse")

// SyntaxError says where and why a query does not parse. It wraps ErrSyntax.
type SyntaxError struct {
	Pos int // byte offset into the query, from 0
	Msg string
}

// Error says where and why.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query does not parse at position %d: %s", e.Pos, e.Msg)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Occur is how a clause takes part in a boolean query.
type Occur uint8

// The occurrences of a clause.
const (
	Should  Occur = iota // optional: OR
	Must                 // required: + or AND
	MustNot              // prohibited: -, ! or NOT
)

// String is the operator of the occurrence: "+", "-" or "".
func (o Occur) String() string {
	switch o {
	case Must:
		return "+"
	case MustNot:
		return "-"
	}
	return ""
}

// Node is a parsed query: *Bool, *Term or All.
type Node interface {
	String() string
	node()
}

// Bool is a boolean combination of clauses.
type Bool struct {
	Clauses []Clause
}

// Clause is one clause of a Bool.
type Clause struct {
	Occur Occur
	Node  Node
}

// Term matches objects by one field.
type Term struct {
	// Field is "" for any attribute text, "type", "id", or a JSON pointer such as "/name".
	Field string
	// Text is the term, unescaped; for Prefix, what the values must start with (maybe "").
	Text   string
	Prefix bool // a trailing wildcard
	Phrase bool // quoted
	Pos    int  // byte offset of the term in the query
}

// All matches every object.
type All struct{}

func (*Bool) node() {}
func (*Term) node() {}
func (All) node()   {}

// String writes the query back in the syntax Parse reads.
func (b *Bool) String() string {
	parts := make([]string, len(b.Clauses))
	for i, c := range b.Clauses {
		s := c.Node.String()
		if _, ok := c.Node.(*Bool); ok {
			s = "(" + s + ")"
		}
		parts[i] = c.Occur.String() + s
	}
	return strings.Join(parts, " ")
}

// String writes the term back in the syntax Parse reads.
func (t *Term) String() string {
	var sb strings.Builder
	if t.Field != "" {
		sb.WriteString(escape(t.Field))
		sb.WriteByte(':')
	}
	switch {
	case t.Phrase:
		sb.WriteByte('"')
		sb.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(t.Text))
		sb.WriteByte('"')
	default:
		sb.WriteString(escape(t.Text))
	}
	if t.Prefix {
		sb.WriteByte('*')
	}
	return sb.String()
}

// String is "*:*".
func (All) String() string { return "*:*" }

// escape writes s so that it reads back as one term.
func escape(s string) string {
	var sb strings.Builder
	switch s {
	case "AND", "OR", "NOT":
		sb.WriteByte('\\')
	}
	for i, r := range s {
		if strings.ContainsRune(`\ "():*?+-!&|{}[]^~`, r) || r < utf8.RuneSelf && isSpace(byte(r)) {
			if (r == '-' || r == '+' || r == '!') && i > 0 {
				sb.WriteRune(r)
				continue
			}
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// MaxLen is the longest query Parse takes, in bytes.
const MaxLen = 16 << 10

// maxDepth bounds nesting of parentheses.
const maxDepth = 32

// Parse parses a query.
func Parse(s string) (Node, error) {
	if len(s) > MaxLen {
		return nil, &SyntaxError{Pos: MaxLen, Msg: fmt.Sprintf("query longer than %d bytes", MaxLen)}
	}
	if !utf8.ValidString(s) {
		return nil, &SyntaxError{Pos: invalidUTF8(s), Msg: "not valid UTF-8"}
	}
	p := &parser{s: s}
	p.skipSpace()
	if p.pos == len(s) {
		return nil, &SyntaxError{Pos: p.pos, Msg: "empty query"}
	}
	n, err := p.boolQuery(0, "")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(s) {
		return nil, p.errf("unexpected %q", p.s[p.pos])
	}
	return simplify(n), nil
}

func invalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(s)
}

// simplify unwraps a boolean query of one optional or required clause.
func simplify(n Node) Node {
	b, ok := n.(*Bool)
	if !ok {
		return n
	}
	for i := range b.Clauses {
		b.Clauses[i].Node = simplify(b.Clauses[i].Node)
	}
	if len(b.Clauses) == 1 && b.Clauses[0].Occur != MustNot {
		return b.Clauses[0].Node
	}
	return b
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// keyword reports whether the input at pos is the operator word kw followed by a separator.
func (p *parser) keyword(kw string) bool {
	if !strings.HasPrefix(p.s[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if kw == "&&" || kw == "||" {
		return true
	}
	return end == len(p.s) || isSpace(p.s[end]) || p.s[end] == '('
}

type conj uint8

const (
	conjNone conj = iota
	conjAnd
	conjOr
)

// boolQuery reads clauses up to the end of the input or a closing parenthesis. field is the
// default field of a group such as f:(a b).
func (p *parser) boolQuery(depth int, field string) (Node, error) {
	b := &Bool{}
	for {
		p.skipSpace()
		if p.pos == len(p.s) || p.s[p.pos] == ')' {
			break
		}
		c := conjNone
		switch {
		case p.keyword("AND"), p.keyword("&&"):
			c = conjAnd
		case p.keyword("OR"), p.keyword("||"):
			c = conjOr
		}
		if c != conjNone {
			if len(b.Clauses) == 0 {
				return nil, p.errf("%s with nothing before it", map[conj]string{conjAnd: "AND", conjOr: "OR"}[c])
			}
			if p.s[p.pos] == '&' || p.s[p.pos] == '|' {
				p.pos += 2
			} else if c == conjAnd {
				p.pos += 3
			} else {
				p.pos += 2
			}
			p.skipSpace()
			if p.pos == len(p.s) || p.s[p.pos] == ')' {
				return nil, p.errf("nothing after the operator")
			}
			if p.keyword("AND") || p.keyword("OR") || p.keyword("&&") || p.keyword("||") {
				return nil, p.errf("two operators in a row")
			}
		}
		occur := Should
		switch {
		case p.s[p.pos] == '+':
			occur = Must
			p.pos++
		case p.s[p.pos] == '-' || p.s[p.pos] == '!':
			occur = MustNot
			p.pos++
		case p.keyword("NOT"):
			occur = MustNot
			p.pos += 3
			p.skipSpace()
		}
		if occur != Should && (p.pos == len(p.s) || isSpace(p.s[p.pos]) || p.s[p.pos] == ')') {
			return nil, p.errf("nothing after the operator")
		}
		n, err := p.clause(depth, field)
		if err != nil {
			return nil, err
		}
		// Lucene's classic rules, default operator OR: AND makes the previous clause (unless
		// prohibited) and this one required.
		if c == conjAnd {
			if prev := &b.Clauses[len(b.Clauses)-1]; prev.Occur != MustNot {
				prev.Occur = Must
			}
			if occur == Should {
				occur = Must
			}
		}
		b.Clauses = append(b.Clauses, Clause{Occur: occur, Node: n})
	}
	if len(b.Clauses) == 0 {
		return nil, p.errf("empty group")
	}
	return b, nil
}

// clause reads a field-qualified term, phrase or group.
func (p *parser) clause(depth int, field string) (Node, error) {
	if p.pos == len(p.s) {
		return nil, p.errf("unexpected end of query")
	}
	start := p.pos
	if p.s[p.pos] == '(' {
		return p.group(depth, field)
	}
	if p.s[p.pos] == '"' {
		return p.phrase(field)
	}
	word, prefix, err := p.word()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.s) && p.s[p.pos] == ':' {
		if prefix && word != "" {
			p.pos = start
			return nil, p.errf("a field name cannot hold a wildcard")
		}
		if field != "" {
			return nil, p.errf("a field inside a field group")
		}
		f := word
		if prefix && word == "" {
			f = "*"
		}
		if f == "" {
			return nil, p.errf("empty field name")
		}
		p.pos++
		if p.pos == len(p.s) || isSpace(p.s[p.pos]) || p.s[p.pos] == ')' {
			return nil, p.errf("nothing after %q", f+":")
		}
		switch p.s[p.pos] {
		case '(':
			if f == "*" {
				return nil, p.errf("a group after *:")
			}
			return p.group(depth, f)
		case '"':
			if f == "*" {
				return nil, p.errf("a phrase after *:")
			}
			return p.phrase(f)
		}
		vstart := p.pos
		v, vprefix, err := p.word()
		if err != nil {
			return nil, err
		}
		if f == "*" {
			if vprefix && v == "" {
				return All{}, nil
			}
			p.pos = vstart
			return nil, p.errf("only *:* may use the field *")
		}
		return &Term{Field: f, Text: v, Prefix: vprefix, Pos: vstart}, nil
	}
	if prefix && word == "" {
		if field != "" {
			return &Term{Field: field, Prefix: true, Pos: start}, nil
		}
		return All{}, nil
	}
	return &Term{Field: field, Text: word, Prefix: prefix, Pos: start}, nil
}

func (p *parser) group(depth int, field string) (Node, error) {
	if depth >= maxDepth {
		return nil, p.errf("groups nested deeper than %d", maxDepth)
	}
	open := p.pos
	p.pos++
	n, err := p.boolQuery(depth+1, field)
	if err != nil {
		return nil, err
	}
	if p.pos == len(p.s) || p.s[p.pos] != ')' {
		p.pos = open
		return nil, p.errf("unclosed (")
	}
	p.pos++
	return n, nil
}

func (p *parser) phrase(field string) (Node, error) {
	open := p.pos
	p.pos++
	var sb strings.Builder
	for {
		if p.pos == len(p.s) {
			p.pos = open
			return nil, p.errf("unclosed quote")
		}
		c := p.s[p.pos]
		if c == '"' {
			p.pos++
			break
		}
		if c == '\\' {
			if p.pos+1 == len(p.s) {
				return nil, p.errf("a backslash at the end of the query")
			}
			p.pos++
			c = p.s[p.pos]
		}
		sb.WriteByte(c)
		p.pos++
	}
	if p.pos < len(p.s) && (p.s[p.pos] == '~' || p.s[p.pos] == '^') {
		return nil, p.errf("proximity and boosts are not supported")
	}
	return &Term{Field: field, Text: sb.String(), Phrase: true, Pos: open}, nil
}

// word reads a term up to a space, parenthesis, quote or unescaped colon, and reports a
// trailing wildcard (removed from the text).
func (p *parser) word() (string, bool, error) {
	var sb strings.Builder
	start := p.pos
	prefix := false
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if isSpace(c) || c == ')' || c == '(' || c == ':' || c == '"' {
			break
		}
		if prefix {
			return "", false, p.errf("a wildcard is supported only at the end of a term")
		}
		switch c {
		case '\\':
			if p.pos+1 == len(p.s) {
				return "", false, p.errf("a backslash at the end of the query")
			}
			p.pos++
			_, n := utf8.DecodeRuneInString(p.s[p.pos:])
			sb.WriteString(p.s[p.pos : p.pos+n])
			p.pos += n
			continue
		case '*':
			prefix = true
			p.pos++
			continue
		case '?':
			return "", false, p.errf("the ? wildcard is not supported")
		case '[', ']', '{', '}':
			return "", false, p.errf("range queries are not supported")
		case '~':
			return "", false, p.errf("fuzzy and proximity searches are not supported")
		case '^':
			return "", false, p.errf("boosts are not supported")
		}
		sb.WriteByte(c)
		p.pos++
	}
	if p.pos == start {
		if p.pos == len(p.s) {
			return "", false, p.errf("unexpected end of query")
		}
		return "", false, p.errf("unexpected %q", p.s[p.pos])
	}
	return sb.String(), prefix, nil
}
