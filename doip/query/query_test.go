package query

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "hello"},
		{"Hello World", "hello world"[0:0] + "Hello World"},
		{"+type:Schema +/name:User", "+type:Schema +/name:User"},
		{"a AND b", "+a +b"},
		{"a && b || c", "+a +b c"},
		{"a OR b", "a b"},
		{"-a b", "-a b"},
		{"!a", "-a"},
		{"NOT a", "-a"},
		{"a AND NOT b", "+a -b"},
		{"(a OR b) AND c", "+(a b) +c"},
		{"/name:(a b)", "/name:a /name:b"},
		{`"hello world"`, `"hello world"`},
		{`/content/name:"Hello World"`, `/content/name:"Hello World"`},
		{"hel*", "hel*"},
		{"/name:us*", "/name:us*"},
		{"f:*", "f:*"},
		{"*:*", "*:*"},
		{"*", "*:*"},
		{`a\:b`, `a\:b`},
		{`foo-bar`, `foo-bar`},
		{"id:test/0a4d55a8d778e5022fab", "id:test/0a4d55a8d778e5022fab"},
		{"  spaced   out  ", "spaced out"},
		{"NOTE ANDY ORB", "NOTE ANDY ORB"},
	} {
		n, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// What String writes parses back to the same query.
		again, err := Parse(n.String())
		if err != nil || again.String() != n.String() {
			t.Errorf("Parse(%q).String() = %s reparses to %v, %v", tc.in, n.String(), again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
	}{
		{"", 0},
		{"   ", 3},
		{"(a", 0},
		{"a)", 1},
		{`"abc`, 0},
		{"AND a", 0},
		{"a AND", 5},
		{"a OR )", 5},
		{"*foo", 1},
		{"fo*o", 3},
		{"te?t", 2},
		{"a~2", 1},
		{"a^2", 1},
		{"[a TO b]", 0},
		{"f:", 2},
		{":a", 0},
		{"f:(g:a)", 4},
		{"+", 1},
		{"- a", 1},
		{`a\`, 1},
		{"()", 1},
		{"*:x", 2},
	} {
		_, err := Parse(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a SyntaxError", tc.in, err)
			continue
		}
		if se.Pos != tc.pos {
			t.Errorf("Parse(%q): position %d (%s), want %d", tc.in, se.Pos, se.Msg, tc.pos)
		}
	}
}

func TestOccurs(t *testing.T) {
	n, err := Parse("+a -b c")
	if err != nil {
		t.Fatal(err)
	}
	b := n.(*Bool)
	want := []Occur{Must, MustNot, Should}
	for i, c := range b.Clauses {
		if c.Occur != want[i] {
			t.Fatalf("clause %d occur %v, want %v", i, c.Occur, want[i])
		}
	}
	term := b.Clauses[0].Node.(*Term)
	if term.Text != "a" || term.Field != "" || term.Pos != 1 {
		t.Fatalf("term %+v", term)
	}
}
