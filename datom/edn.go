package datom

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small reader for the part of EDN (https://github.com/edn-format/edn) that queries use:
// vectors, lists, maps, sets, keywords, symbols, strings with escapes, integers, floats,
// booleans, nil, tagged values (#inst "..."), comments (; to the end of the line) and #_
// (discard the next form). Characters, ratios and big numbers (N, M) are refused.

type ednKind uint8

const (
	ednVector ednKind = iota + 1
	ednList
	ednMap
	ednSet
	ednKeyword
	ednSymbol
	ednString
	ednInt
	ednFloat
	ednBool
	ednNil
	ednTagged
)

// ednNode is one form read from EDN text.
type ednNode struct {
	kind  ednKind
	pos   int    // byte offset where the form starts
	str   string // a keyword's or symbol's name (a keyword without its colon), a string, a tag
	i     int64
	f     float64
	b     bool
	items []ednNode // a collection's elements (a map's keys and values alternate); a tag's value
}

// maxEDNDepth bounds nesting, so that hostile input cannot exhaust the stack.
const maxEDNDepth = 64

// ednError is a syntax error at a byte offset of the text.
type ednError struct {
	pos int
	msg string
}

func (e *ednError) Error() string { return e.msg }

type ednReader struct {
	src []byte
	pos int
}

// readEDN reads exactly one form from src: anything but white space and comments after it is an
// error.
func readEDN(src []byte) (ednNode, error) {
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return ednNode{}, &ednError{off, "the text is not valid UTF-8"}
	}
	r := &ednReader{src: src}
	n, err := r.form(0)
	if err != nil {
		return ednNode{}, err
	}
	if err := r.skip(0); err != nil {
		return ednNode{}, err
	}
	if r.pos < len(r.src) {
		return ednNode{}, &ednError{r.pos, "data after the query's closing bracket"}
	}
	return n, nil
}

func (r *ednReader) errf(pos int, format string, args ...any) error {
	return &ednError{pos, fmt.Sprintf(format, args...)}
}

// skip moves past white space (commas included), comments and discarded forms.
func (r *ednReader) skip(depth int) error {
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\f':
			r.pos++
		case c == ';':
			for r.pos < len(r.src) && r.src[r.pos] != '\n' {
				r.pos++
			}
		case c == '#' && r.pos+1 < len(r.src) && r.src[r.pos+1] == '_':
			start := r.pos
			r.pos += 2
			if err := r.skip(depth); err != nil {
				return err
			}
			if r.pos >= len(r.src) {
				return r.errf(start, "#_ discards nothing: the text ends")
			}
			if _, err := r.form(depth); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// form reads the next form.
func (r *ednReader) form(depth int) (ednNode, error) {
	if depth > maxEDNDepth {
		return ednNode{}, r.errf(r.pos, "nested more than %d deep", maxEDNDepth)
	}
	if err := r.skip(depth); err != nil {
		return ednNode{}, err
	}
	if r.pos >= len(r.src) {
		if r.pos == 0 || len(strings.TrimSpace(string(r.src))) == 0 {
			return ednNode{}, r.errf(r.pos, "the text is empty")
		}
		return ednNode{}, r.errf(r.pos, "the text ends early")
	}
	start := r.pos
	c := r.src[r.pos]
	switch c {
	case '[':
		r.pos++
		return r.collection(ednVector, start, ']', depth)
	case '(':
		r.pos++
		return r.collection(ednList, start, ')', depth)
	case '{':
		r.pos++
		n, err := r.collection(ednMap, start, '}', depth)
		if err == nil && len(n.items)%2 != 0 {
			return n, r.errf(start, "a map needs a value for every key; this one has %d forms", len(n.items))
		}
		return n, err
	case ']', ')', '}':
		return ednNode{}, r.errf(start, "unexpected %q: nothing is open here", c)
	case '"':
		return r.stringForm()
	case '\\':
		return ednNode{}, r.errf(start, "characters such as \\a are not supported; write a string")
	case '#':
		if r.pos+1 < len(r.src) && r.src[r.pos+1] == '{' {
			r.pos += 2
			return r.collection(ednSet, start, '}', depth)
		}
		r.pos++
		tag := r.token()
		if tag == "" || !isSymbolStart(tag[0]) {
			return ednNode{}, r.errf(start, "# must start a tag such as #inst, a set #{...} or #_")
		}
		v, err := r.form(depth + 1)
		if err != nil {
			return ednNode{}, err
		}
		return ednNode{kind: ednTagged, pos: start, str: tag, items: []ednNode{v}}, nil
	case ':':
		r.pos++
		name := r.token()
		if name == "" || name[0] == ':' {
			return ednNode{}, r.errf(start, "a keyword is a colon and a name, such as :person/name")
		}
		if err := checkSymbol(name); err != nil {
			return ednNode{}, r.errf(start, "keyword :%s: %v", name, err)
		}
		return ednNode{kind: ednKeyword, pos: start, str: name}, nil
	}
	tok := r.token()
	if tok == "" {
		r.pos++
		return ednNode{}, r.errf(start, "unexpected %q", string(c))
	}
	if isDigit(tok[0]) || (tok[0] == '+' || tok[0] == '-' || tok[0] == '.') && len(tok) > 1 && isDigit(tok[1]) {
		return r.number(start, tok)
	}
	switch tok {
	case "true", "false":
		return ednNode{kind: ednBool, pos: start, b: tok == "true"}, nil
	case "nil":
		return ednNode{kind: ednNil, pos: start}, nil
	}
	if err := checkSymbol(tok); err != nil {
		return ednNode{}, r.errf(start, "symbol %s: %v", tok, err)
	}
	return ednNode{kind: ednSymbol, pos: start, str: tok}, nil
}

// collection reads forms up to the closing delimiter end.
func (r *ednReader) collection(kind ednKind, start int, end byte, depth int) (ednNode, error) {
	n := ednNode{kind: kind, pos: start}
	for {
		if err := r.skip(depth); err != nil {
			return n, err
		}
		if r.pos >= len(r.src) {
			return n, r.errf(start, "%q is never closed: the text ends before its %q", r.src[start], end)
		}
		if c := r.src[r.pos]; c == end {
			r.pos++
			return n, nil
		} else if c == ']' || c == ')' || c == '}' {
			return n, r.errf(r.pos, "%q closes nothing: the %q opened at %s is still open", c, r.src[start], textPos(r.src, start))
		}
		item, err := r.form(depth + 1)
		if err != nil {
			return n, err
		}
		n.items = append(n.items, item)
	}
}

// token reads the characters of a symbol, keyword name or number.
func (r *ednReader) token() string {
	start := r.pos
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		if c < utf8.RuneSelf {
			if !isSymbolChar(c) {
				break
			}
			r.pos++
			continue
		}
		_, size := utf8.DecodeRune(r.src[r.pos:])
		r.pos += size // letters beyond ASCII are allowed in names
	}
	return string(r.src[start:r.pos])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSymbolStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf || strings.IndexByte(".*+!-_?$%&=<>/", c) >= 0
}

func isSymbolChar(c byte) bool {
	return isSymbolStart(c) || isDigit(c) || c == ':' || c == '#' || c == '\''
}

// checkSymbol reports why tok is not a symbol name.
func checkSymbol(tok string) error {
	if !isSymbolStart(tok[0]) {
		return errors.New("does not start with a letter or one of . * + ! - _ ? $ % & = < > /")
	}
	if strings.Count(tok, "/") > 1 && tok != "/" {
		return errors.New("has more than one /")
	}
	return nil
}

// number reads an integer or a float.
func (r *ednReader) number(start int, tok string) (ednNode, error) {
	switch tok[len(tok)-1] {
	case 'N', 'M':
		return ednNode{}, r.errf(start, "big number %s is not supported; values are 64-bit", tok)
	}
	if strings.ContainsAny(tok, ".eE") {
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return ednNode{}, r.errf(start, "%s is not a number that fits a float64", tok)
		}
		return ednNode{kind: ednFloat, pos: start, f: f}, nil
	}
	i, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return ednNode{}, r.errf(start, "integer %s does not fit an int64", tok)
		}
		return ednNode{}, r.errf(start, "%s is not a number", tok)
	}
	return ednNode{kind: ednInt, pos: start, i: i}, nil
}

// stringForm reads a string literal.
func (r *ednReader) stringForm() (ednNode, error) {
	start := r.pos
	r.pos++
	var b strings.Builder
	for {
		if r.pos >= len(r.src) {
			return ednNode{}, r.errf(start, "the string is never closed: the text ends before its \"")
		}
		c := r.src[r.pos]
		switch c {
		case '"':
			r.pos++
			return ednNode{kind: ednString, pos: start, str: b.String()}, nil
		case '\\':
			if r.pos+1 >= len(r.src) {
				return ednNode{}, r.errf(r.pos, "the string is never closed: the text ends after a \\")
			}
			esc := r.src[r.pos+1]
			switch esc {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\\', '/':
				b.WriteByte(esc)
			case 'u':
				if r.pos+6 > len(r.src) {
					return ednNode{}, r.errf(r.pos, `\u takes four hex digits`)
				}
				u, err := strconv.ParseUint(string(r.src[r.pos+2:r.pos+6]), 16, 16)
				if err != nil {
					return ednNode{}, r.errf(r.pos, `\u takes four hex digits`)
				}
				if utf16Surrogate(rune(u)) {
					return ednNode{}, r.errf(r.pos, `\u%04x is half of a UTF-16 surrogate pair, not a character`, u)
				}
				b.WriteRune(rune(u))
				r.pos += 4
			default:
				return ednNode{}, r.errf(r.pos, "unknown escape \\%c in a string (want \\n \\t \\r \\\" \\\\ or \\uXXXX)", esc)
			}
			r.pos += 2
		default:
			b.WriteByte(c)
			r.pos++
		}
	}
}

func utf16Surrogate(r rune) bool { return r >= 0xD800 && r < 0xE000 }

// describe names a form's kind for error messages.
func (n ednNode) describe() string {
	switch n.kind {
	case ednVector:
		return "a vector"
	case ednList:
		return "a list"
	case ednMap:
		return "a map"
	case ednSet:
		return "a set"
	case ednKeyword:
		return "keyword :" + n.str
	case ednSymbol:
		return "symbol " + n.str
	case ednString:
		return "string " + strconv.Quote(n.str)
	case ednInt:
		return "integer " + strconv.FormatInt(n.i, 10)
	case ednFloat:
		return "float " + strconv.FormatFloat(n.f, 'g', -1, 64)
	case ednBool:
		return strconv.FormatBool(n.b)
	case ednNil:
		return "nil"
	case ednTagged:
		return "#" + n.str + " value"
	}
	return "a form"
}
