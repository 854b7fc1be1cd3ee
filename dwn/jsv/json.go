package jsv

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects that Parse and the CBOR codec accept.
const MaxDepth = 512

// ErrSyntax is returned for text that is not JSON.
var ErrSyntax = errors.New("invalid JSON")

// SyntaxError is a JSON parse failure, worded as V8's JSON.parse words it (Node 20), since
// dwn-sdk-js lets such messages through into reply details.
type SyntaxError struct{ Msg string }

// Error returns V8's message.
func (e *SyntaxError) Error() string { return e.Msg }

// Is reports whether target is ErrSyntax, so that errors.Is(err, ErrSyntax) holds.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Parse parses JSON text the way JSON.parse does: duplicate keys keep their first position and
// their last value, numbers become float64 (Infinity when they overflow), and invalid UTF-8 or
// lone surrogates become U+FFFD.
func Parse(data []byte) (any, error) {
	p := parser{s: data}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, p.at("Unexpected non-whitespace character after JSON")
	}
	return v, nil
}

type parser struct {
	s []byte
	i int
}

// error kinds
const (
	eEOS = iota
	eToken
	eNumber
	eAt // a template with a position
)

func (p *parser) fail(kind int, pos int, template string) error {
	return &SyntaxError{Msg: v8Message(p.s, kind, pos, template)}
}

func (p *parser) eos() error { return p.fail(eEOS, p.i, "") }
func (p *parser) token() error {
	if p.i >= len(p.s) {
		return p.eos()
	}
	return p.fail(eToken, p.i, "")
}
func (p *parser) at(template string) error { return p.fail(eAt, p.i, template) }

// v8Message renders a parse failure at byte offset pos.
func v8Message(src []byte, kind, pos int, template string) string {
	u := utf16.Encode([]rune(string(src)))
	upos := len(utf16.Encode([]rune(string(src[:min(pos, len(src))]))))
	switch kind {
	case eEOS:
		return "Unexpected end of JSON input"
	case eNumber:
		return fmt.Sprintf("Unexpected number in JSON at position %d", upos)
	case eAt:
		if strings.HasSuffix(template, " after JSON") {
			return fmt.Sprintf("%s at position %d", template, upos)
		}
		return fmt.Sprintf("%s in JSON at position %d", template, upos)
	}
	switch s := string(src); s {
	case "undefined", "NaN", "Infinity", "[object Object]":
		return fmt.Sprintf("%q is not valid JSON", s)
	}
	str := func(a, b int) string { return string(utf16.Decode(u[max(a, 0):min(b, len(u))])) }
	tok := str(upos, upos+1)
	const ctx = 10
	switch {
	case len(u) <= 2*ctx:
		return fmt.Sprintf("Unexpected token '%s', \"%s\" is not valid JSON", tok, str(0, len(u)))
	case upos < ctx:
		return fmt.Sprintf("Unexpected token '%s', \"%s\"... is not valid JSON", tok, str(0, upos+ctx))
	case upos < len(u)-ctx:
		return fmt.Sprintf("Unexpected token '%s', ...\"%s\"... is not valid JSON", tok, str(upos-ctx, upos+ctx))
	}
	return fmt.Sprintf("Unexpected token '%s', ...\"%s\" is not valid JSON", tok, str(upos-ctx, len(u)))
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.s) {
		return nil, p.eos()
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= MaxDepth {
			return nil, &SyntaxError{Msg: "Maximum call stack size exceeded"}
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= MaxDepth {
			return nil, &SyntaxError{Msg: "Maximum call stack size exceeded"}
		}
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	default:
		return nil, p.token()
	}
}

func (p *parser) lit(w string) error {
	for k := 0; k < len(w); k++ {
		if p.i >= len(p.s) {
			return p.eos()
		}
		if p.s[p.i] != w[k] {
			return p.token()
		}
		p.i++
	}
	return nil
}

func (p *parser) object(depth int) (any, error) {
	p.i++ // {
	o := NewObject()
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return o, nil
	}
	first := true
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			if first {
				return nil, p.at("Expected property name or '}'")
			}
			return nil, p.at("Expected double-quoted property name")
		}
		first = false
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.at("Expected ':' after property name")
		}
		p.i++
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		o.Set(k, v)
		p.ws()
		if p.i >= len(p.s) {
			return nil, p.at("Expected ',' or '}' after property value")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return o, nil
		default:
			return nil, p.at("Expected ',' or '}' after property value")
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.s) {
			return nil, p.at("Expected ',' or ']' after array element")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.at("Expected ',' or ']' after array element")
		}
	}
}

func (p *parser) num() (any, error) {
	start := p.i
	digit := func() bool { return p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' }
	if p.s[p.i] == '-' {
		p.i++
		if !digit() {
			return nil, p.at("No number after minus sign")
		}
	}
	if p.s[p.i] == '0' {
		p.i++
		if digit() {
			return nil, p.fail(eNumber, p.i, "")
		}
	} else {
		for digit() {
			p.i++
		}
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if !digit() {
			return nil, p.at("Unterminated fractional number")
		}
		for digit() {
			p.i++
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if !digit() {
			return nil, p.at("Exponent part is missing a number")
		}
		for digit() {
			p.i++
		}
	}
	f, err := strconv.ParseFloat(string(p.s[start:p.i]), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0, as JavaScript rounds
		}
		return nil, p.token()
	}
	return f, nil
}

func (p *parser) str() (string, error) {
	p.i++ // "
	start := p.i
	// fast path: no escapes, valid UTF-8, no control characters
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return strings.ToValidUTF8(string(s), "\uFFFD"), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	var b strings.Builder
	b.Write(p.s[start:p.i])
	for {
		if p.i >= len(p.s) {
			return "", p.at("Unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			s := b.String()
			if !utf8.ValidString(s) {
				s = strings.ToValidUTF8(s, "\uFFFD")
			}
			return s, nil
		case c < 0x20:
			return "", p.at("Bad control character in string literal")
		case c == '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", p.eos()
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				u, err := p.hex4()
				if err != nil {
					return "", err
				}
				r := rune(u)
				if utf16.IsSurrogate(r) {
					if r < 0xDC00 && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						u2, err := p.hex4()
						if err == nil && u2 >= 0xDC00 && u2 <= 0xDFFF {
							r = utf16.DecodeRune(r, rune(u2))
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				p.i--
				return "", p.at("Bad escaped character")
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
}

func (p *parser) hex4() (int, error) {
	n := 0
	for k := 0; k < 4; k++ {
		if p.i+k >= len(p.s) {
			p.i += k
			return 0, p.at("Bad Unicode escape")
		}
		c := p.s[p.i+k]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			p.i += k
			return 0, p.at("Bad Unicode escape")
		}
		n = n<<4 | d
	}
	p.i += 4
	return n, nil
}

// Stringify is JSON.stringify(v): object properties in their order, non-finite numbers as null.
// []byte values are written as base64url strings (they never occur in messages).
func Stringify(v any) string {
	var b strings.Builder
	stringify(&b, v, false)
	return b.String()
}

// StringifyASCII is Stringify with every non-ASCII character escaped.
func StringifyASCII(v any) string {
	var b strings.Builder
	stringify(&b, v, true)
	return b.String()
}

func stringify(b *strings.Builder, v any, ascii bool) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(NumberString(x))
		}
	case string:
		writeQuoted(b, x, ascii)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			stringify(b, e, ascii)
		}
		b.WriteByte(']')
	case *Object:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeQuoted(b, k, ascii)
			b.WriteByte(':')
			stringify(b, x.vals[i], ascii)
		}
		b.WriteByte('}')
	case []byte:
		writeQuoted(b, base64URL(x), ascii)
	default:
		b.WriteString("null")
	}
}
