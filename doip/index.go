package doip

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// How attributes become search terms. Every leaf of an object's attributes (a string, number
// or boolean, as its text) is split into words: runs of letters and digits, lowercased. Each
// word is a doip.ix/word (what a bare query term matches) and, with the leaf's JSON pointer, a
// doip.ix/term "pointer\x1fword" (what /pointer:word matches). Array indexes in pointers are
// written "_", and the leaves under "content" are also indexed by their pointer within content,
// as Cordra's users expect /name to mean /content/name. The object's type and id are terms
// "type\x1fT" and "id\x1fI", matched exactly.
const (
	sep          = "\x1f"
	maxWordLen   = 64   // longer words are not indexed
	maxWords     = 512  // distinct words per object
	maxTerms     = 1024 // distinct pointer terms per object
	maxLeafWalks = 8192 // leaves visited per object
)

// tokenize splits text into lowercased words.
func tokenize(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		out = append(out, strings.ToLower(f))
	}
	return out
}

// pointerToken escapes a key for a JSON pointer.
func pointerToken(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// leafText is a leaf's text, or false for an object, array or null.
func leafText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return fmt.Sprint(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// walkLeaves calls fn with the pointer of every leaf of v, in document order (keys sorted),
// up to maxLeafWalks leaves.
func walkLeaves(v any, fn func(ptr, text string)) {
	n := 0
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		if n >= maxLeafWalks {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(ptr+"/"+pointerToken(k), x[k])
			}
		case []any:
			for _, e := range x {
				walk(ptr+"/_", e)
			}
		default:
			if t, ok := leafText(x); ok {
				n++
				fn(ptr, t)
			}
		}
	}
	walk("", v)
}

// aliases returns the pointers a leaf is indexed under: its own; under /content, the pointer
// within content; and, for a leaf of an array, the array's pointer, so /tags matches any tag.
func aliases(ptr string) []string {
	out := []string{ptr}
	if rest, ok := strings.CutPrefix(ptr, "/content/"); ok {
		out = append(out, "/"+rest)
	}
	for _, p := range out {
		if trimmed := strings.TrimSuffix(p, "/_"); trimmed != p {
			for strings.HasSuffix(trimmed, "/_") {
				trimmed = strings.TrimSuffix(trimmed, "/_")
			}
			if trimmed != "" && !slices.Contains(out, trimmed) {
				out = append(out, trimmed)
			}
		}
	}
	return out
}

// indexTerms returns the search words and terms of an object, sorted.
func indexTerms(id, typ string, attrs map[string]any) (words, terms []string) {
	ws, ts := map[string]bool{}, map[string]bool{}
	ts["type"+sep+typ] = true
	ts["id"+sep+id] = true
	if attrs != nil {
		walkLeaves(attrs, func(ptr, text string) {
			for _, w := range tokenize(text) {
				if len(w) > maxWordLen {
					continue
				}
				if len(ws) < maxWords {
					ws[w] = true
				}
				for _, p := range aliases(ptr) {
					if len(ts) < maxTerms+2 && len(p)+len(w) < 1024 {
						ts[p+sep+w] = true
					}
				}
			}
		})
	}
	return sortedKeys(ws), sortedKeys(ts)
}

// fieldTexts returns the texts of the leaves a field names (every leaf for ""), for checking
// phrases.
func fieldTexts(attrs map[string]any, field string) []string {
	var out []string
	walkLeaves(attrs, func(ptr, text string) {
		if field == "" || slices.Contains(aliases(ptr), field) {
			out = append(out, text)
		}
	})
	return out
}

// hasPhrase reports whether the words of one of texts hold words in order, side by side.
func hasPhrase(texts []string, words []string) bool {
	for _, t := range texts {
		tw := tokenize(t)
		for i := 0; i+len(words) <= len(tw); i++ {
			if slices.Equal(tw[i:i+len(words)], words) {
				return true
			}
		}
	}
	return false
}

// normalizeField turns a query field into the pointer form the index uses: type and id stay,
// anything else is a JSON pointer ("name" means "/name"), with array indexes as "_".
func normalizeField(f string) string {
	switch f {
	case "", "type", "id":
		return f
	}
	if !strings.HasPrefix(f, "/") {
		f = "/" + f
	}
	parts := strings.Split(f, "/")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "_"
		}
	}
	return strings.Join(parts, "/")
}
