package dwn

import (
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Protocol and schema URIs must be "normalized" as dwn-sdk-js normalizes them: parsed by the
// WHATWG URL parser (with "http://" prepended to anything without a scheme), query and fragment
// dropped, one trailing slash removed. The parser here covers what such URIs use: special schemes
// with ASCII or IDNA hosts, IPv4 and IPv6 literals, ports, dot segments and percent-encoding; and
// opaque non-special URIs.

var errURL = errors.New("Invalid URL")

var hasScheme = regexp.MustCompile(`^[^:]+:(\/{2})?[^\/][^\n\r\x{2028}\x{2029}]*`)

// NormalizeURL normalizes a protocol or schema URI as dwn-sdk-js does before it builds a
// message (normalizeProtocolUrl, normalizeSchemaUrl).
func NormalizeURL(u string) (string, error) { return normalizeURL(u) }

func normalizeURL(u string) (string, error) {
	full := u
	if !hasScheme.MatchString(u) {
		full = "http://" + u
	}
	href, err := whatwgHref(full)
	if err != nil {
		return "", newError(CodeUrlProtocolNotNormalizable, "Could not normalize protocol URI")
	}
	return strings.TrimSuffix(href, "/"), nil
}

func validateProtocolURLNormalized(u string, present bool) error {
	if present {
		if n, err := normalizeURL(u); err == nil && n == u {
			return nil
		}
	}
	return newError(CodeUrlProtocolNotNormalized, "Protocol URI "+jsString(u, present)+" must be normalized.")
}

func validateSchemaURLNormalized(u string) error {
	if n, err := normalizeURL(u); err == nil && n == u {
		return nil
	}
	return newError(CodeUrlSchemaNotNormalized, "Schema URI "+u+" must be normalized.")
}

var specialPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21", "file": ""}

// whatwgHref returns new URL(s) with search and hash cleared, as its href.
func whatwgHref(s string) (string, error) {
	// strip leading and trailing C0 controls and spaces, remove tabs and newlines
	s = strings.TrimFunc(s, func(r rune) bool { return r <= 0x20 })
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", errURL
	}
	scheme := strings.ToLower(s[:i])
	if !isSchemeStart(scheme[0]) {
		return "", errURL
	}
	for k := 1; k < len(scheme); k++ {
		c := scheme[k]
		if !(isSchemeStart(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return "", errURL
		}
	}
	rest := s[i+1:]
	// drop query and fragment
	if k := strings.IndexAny(rest, "?#"); k >= 0 {
		rest = rest[:k]
	}
	defPort, special := specialPorts[scheme]
	if special {
		if scheme == "file" {
			return fileHref(rest)
		}
		rest = strings.TrimLeft(rest, `/\`)
		end := strings.IndexAny(rest, `/\`)
		auth, path := rest, ""
		if end >= 0 {
			auth, path = rest[:end], rest[end:]
		}
		userinfo := ""
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			userinfo, auth = auth[:at], auth[at+1:]
		}
		host, port := auth, ""
		if strings.HasPrefix(auth, "[") {
			k := strings.IndexByte(auth, ']')
			if k < 0 {
				return "", errURL
			}
			host, port = auth[:k+1], strings.TrimPrefix(auth[k+1:], ":")
			if auth[k+1:] != "" && !strings.HasPrefix(auth[k+1:], ":") {
				return "", errURL
			}
		} else if k := strings.LastIndexByte(auth, ':'); k >= 0 {
			host, port = auth[:k], auth[k+1:]
		}
		h, err := specialHost(host)
		if err != nil {
			return "", err
		}
		if port != "" {
			for _, c := range port {
				if c < '0' || c > '9' {
					return "", errURL
				}
			}
			n, err := strconv.Atoi(strings.TrimLeft(port, "0") + "0")
			if err != nil || n/10 > 65535 {
				return "", errURL
			}
			port = strconv.Itoa(n / 10)
			if port == defPort {
				port = ""
			}
		}
		var b strings.Builder
		b.WriteString(scheme)
		b.WriteString("://")
		if userinfo != "" {
			user, pass, hasPass := strings.Cut(userinfo, ":")
			b.WriteString(percentEncode(user, userinfoSet))
			if hasPass && pass != "" {
				b.WriteByte(':')
				b.WriteString(percentEncode(pass, userinfoSet))
			}
			if user != "" || (hasPass && pass != "") {
				b.WriteByte('@')
			}
		}
		b.WriteString(h)
		if port != "" {
			b.WriteByte(':')
			b.WriteString(port)
		}
		b.WriteString(normalizePath(path, true))
		return b.String(), nil
	}
	// non-special
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexByte(rest, '/')
		auth, path := rest, ""
		if end >= 0 {
			auth, path = rest[:end], rest[end:]
		}
		for _, c := range auth {
			if strings.ContainsRune(" #/<>?[\\]^|", c) && !(c == '[' || c == ']') {
				return "", errURL
			}
		}
		return scheme + "://" + percentEncode(auth, c0Set) + normalizePath(path, false), nil
	}
	if strings.HasPrefix(rest, "/") {
		return scheme + ":" + normalizePath(rest, false), nil
	}
	return scheme + ":" + percentEncode(strings.TrimRight(rest, " "), c0Set), nil
}

func fileHref(rest string) (string, error) {
	rest = strings.ReplaceAll(rest, `\`, "/")
	host := ""
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			host, rest = rest, ""
		} else {
			host, rest = rest[:end], rest[end:]
		}
		if host != "" {
			h, err := specialHost(host)
			if err != nil {
				return "", err
			}
			if h == "localhost" {
				h = ""
			}
			host = h
		}
	}
	return "file://" + host + normalizePath(rest, true), nil
}

func isSchemeStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func specialHost(h string) (string, error) {
	if h == "" {
		return "", errURL
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.Trim(h, "[]"))
		if err != nil || !a.Is6() {
			return "", errURL
		}
		return "[" + a.String() + "]", nil
	}
	d, err := percentDecode(h)
	if err != nil {
		return "", err
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		// WHATWG's domain-to-ASCII is more lenient than strict lookup for ASCII labels
		ascii = strings.ToLower(d)
		for _, c := range ascii {
			if c >= 0x80 {
				return "", errURL
			}
		}
	}
	for _, c := range ascii {
		if c <= 0x20 || strings.ContainsRune("#%/:<>?@[\\]^|\x7f", c) {
			return "", errURL
		}
	}
	if v4, ok := parseIPv4(ascii); ok {
		return v4, nil
	}
	return ascii, nil
}

// parseIPv4 handles dotted-decimal hosts whose last label is numeric, as WHATWG does.
func parseIPv4(h string) (string, bool) {
	parts := strings.Split(strings.TrimSuffix(h, "."), ".")
	last := parts[len(parts)-1]
	if last == "" {
		return "", false
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	if len(parts) != 4 {
		return "", false
	}
	var out []string
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n > 255 {
			return "", false
		}
		out = append(out, strconv.Itoa(n))
	}
	return strings.Join(out, "."), true
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

type encodeSet func(c byte) bool

func c0Set(c byte) bool       { return c < 0x20 || c > 0x7e }
func pathSet(c byte) bool     { return c0Set(c) || strings.IndexByte(" \"#<>?`{}", c) >= 0 }
func userinfoSet(c byte) bool { return pathSet(c) || strings.IndexByte("/:;=@[\\]^|", c) >= 0 }

func percentEncode(s string, set encodeSet) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if set(c) {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// normalizePath percent-encodes and resolves dot segments; special URLs treat '\' as '/' and get
// "/" for an empty path.
func normalizePath(p string, special bool) string {
	if special {
		p = strings.ReplaceAll(p, `\`, "/")
	}
	if p == "" {
		if special {
			return "/"
		}
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var out []string
	for i, sg := range segs {
		lower := strings.ToLower(sg)
		switch lower {
		case ".", "%2e":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, percentEncode(sg, pathSet))
		}
	}
	return "/" + strings.Join(out, "/")
}
