package query

import (
	"errors"
	"testing"
)

// FuzzParse: any input parses or fails with a SyntaxError whose position lies in the input,
// never a panic; a parsed query prints to a query that parses to the same thing.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"+type:Schema +/name:User", "a AND (b OR -c)", `/content/name:"Hello World"`,
		"hel* f:* *:*", `a\:b`, "[a TO b]", "(((a)))", "NOT a AND b || c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is not a SyntaxError", s, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q): position %d outside the query", s, se.Pos)
			}
			return
		}
		out := n.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, out, err)
		}
		if again.String() != out {
			t.Fatalf("Parse(%q): %q reparses as %q", s, out, again.String())
		}
	})
}
