package jsv

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CompareStrings compares a and b the way JavaScript's < does: by UTF-16 code units. It returns
// -1, 0 or 1.
func CompareStrings(a, b string) int {
	// common prefix of bytes: equal code units
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		// one is a prefix of the other
		switch {
		case len(a) == len(b):
			return 0
		case len(a) < len(b):
			return -1
		}
		return 1
	}
	// back up to the start of the rune that differs (the same position in both)
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	ua, ub := firstUnit(ra), firstUnit(rb)
	if ua != ub {
		if ua < ub {
			return -1
		}
		return 1
	}
	// same first unit: both are supplementary with the same high surrogate
	la, lb := 0xDC00+((ra-0x10000)&0x3FF), 0xDC00+((rb-0x10000)&0x3FF)
	if la < lb {
		return -1
	}
	if la > lb {
		return 1
	}
	return 0
}

func firstUnit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + ((r - 0x10000) >> 10)
	}
	return r
}

// RuneLength is the length AJV gives a string for minLength and maxLength: its code points.
func RuneLength(s string) int { return utf8.RuneCountInString(s) }

// NumberString is JavaScript's String(n).
func NumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	// shortest round-trip digits and the decimal exponent
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±xx
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // position of the decimal point relative to the digits
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		es := "+"
		if n-1 < 0 {
			es = "-"
		}
		ev := n - 1
		if ev < 0 {
			ev = -ev
		}
		if k == 1 {
			s = digits + "e" + es + strconv.Itoa(ev)
		} else {
			s = digits[:1] + "." + digits[1:] + "e" + es + strconv.Itoa(ev)
		}
	}
	return sign + s
}

// QuoteString is JSON.stringify of a string.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	writeQuoted(&b, s, false)
	return b.String()
}

const hexDigits = "0123456789abcdef"

// writeQuoted writes s as JSON.stringify does; with asciiOnly it also escapes every non-ASCII code
// unit, which keeps the text safe for an HTTP header.
func writeQuoted(b *strings.Builder, s string, asciiOnly bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xF])
		case asciiOnly && r >= 0x80:
			if r >= 0x10000 {
				writeUnit(b, 0xD800+((r-0x10000)>>10))
				writeUnit(b, 0xDC00+((r-0x10000)&0x3FF))
			} else {
				writeUnit(b, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func writeUnit(b *strings.Builder, u rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[(u>>12)&0xF])
	b.WriteByte(hexDigits[(u>>8)&0xF])
	b.WriteByte(hexDigits[(u>>4)&0xF])
	b.WriteByte(hexDigits[u&0xF])
}
