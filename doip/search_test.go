package doip

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/doip/query"
)

// corpus creates a few objects to search.
func corpus(t testing.TB, n *node) {
	t.Helper()
	p := owner(n)
	for _, js := range []string{
		`{"id":"t/1","type":"Document","attributes":{"content":{"name":"Hello World","tags":["alpha","beta"],"n":42}}}`,
		`{"id":"t/2","type":"Document","attributes":{"content":{"name":"World Peace","year":2024}}}`,
		`{"id":"t/3","type":"Schema","attributes":{"content":{"name":"User"}}}`,
		`{"id":"t/4","type":"Note","attributes":{"title":"hello there","body":"the world is wide"}}`,
		`{"id":"t/5","type":"Note","attributes":{"title":"secret","acl":{"readers":["did:key:z6MkfriendX"]}}}`,
		`{"id":"t/6","type":"Note","attributes":{"title":"world hello","acl":{"readers":["public"]}}}`,
	} {
		if _, err := n.repo.Create(context.Background(), p, mustParse(t, js), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSearchQueries(t *testing.T) {
	n := newNode(t, "t", NewMemBlobs())
	corpus(t, n)
	ctx := context.Background()
	anon := Principal{}
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"hello", "t/1 t/4 t/6"},
		{"HELLO", "t/1 t/4 t/6"},
		{"world", "t/1 t/2 t/4 t/6"},
		{"hello world", "t/1 t/2 t/4 t/6"},
		{"+hello +world", "t/1 t/4 t/6"},
		{"hello AND world", "t/1 t/4 t/6"},
		{"world -hello", "t/2"},
		{"world AND NOT hello", "t/2"},
		{`"hello world"`, "t/1"},
		{`"world hello"`, "t/6"},
		{`/name:"world peace"`, "t/2"},
		{"+type:Schema +/name:User", "t/3"},
		{"type:Document", "t/1 t/2"},
		{"type:document", ""},
		{"type:Doc*", "t/1 t/2"},
		{"id:t/3", "t/3"},
		{"/name:world", "t/1 t/2"},
		{"/content/name:world", "t/1 t/2"},
		{"name:world", "t/1 t/2"},
		{"/title:hello", "t/4 t/6"},
		{"/tags:beta", "t/1"},
		{"/tags/0:alpha", "t/1"},
		{"/n:42", "t/1"},
		{"42", "t/1"},
		{"wor*", "t/1 t/2 t/4 t/6"},
		{"/name:wor*", "t/1 t/2"},
		{"/year:*", "t/2"},
		{"*:*", "t/1 t/2 t/3 t/4 t/6"},
		{"-type:Note", "t/1 t/2 t/3"},
		{"(hello OR peace) AND type:Document", "t/1 t/2"},
		{"secret", ""},
		{"nothing", ""},
	} {
		got, err := n.repo.SearchIDs(ctx, anon, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.q, err)
			continue
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: got %q, want %q", tc.q, strings.Join(got, " "), tc.want)
		}
	}
	// The owner and the listed reader see the private object; others do not.
	if got, _ := n.repo.SearchIDs(ctx, owner(n), "secret"); !slices.Equal(got, []string{"t/5"}) {
		t.Errorf("owner: %v", got)
	}
	if got, _ := n.repo.SearchIDs(ctx, Principal{Kind: User, ID: "did:key:z6MkfriendX"}, "secret"); !slices.Equal(got, []string{"t/5"}) {
		t.Errorf("reader: %v", got)
	}
	if got, _ := n.repo.SearchIDs(ctx, Principal{Kind: User, ID: "bob"}, "secret"); len(got) != 0 {
		t.Errorf("stranger: %v", got)
	}
	_, err := n.repo.SearchIDs(ctx, anon, "a AND (b")
	var se *query.SyntaxError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &se) || se.Pos != 6 {
		t.Errorf("bad query: %v", err)
	}
}

func TestSearchPagingAndSorting(t *testing.T) {
	n := newNode(t, "t", NewMemBlobs())
	corpus(t, n)
	ctx := context.Background()
	anon := Principal{}
	ids := func(r *SearchResult) string {
		var s []string
		for _, do := range r.Objects {
			s = append(s, do.ID)
		}
		return strings.Join(append(s, r.IDs...), " ")
	}
	for _, tc := range []struct {
		req  SearchRequest
		size int
		want string
	}{
		{SearchRequest{Query: "*:*", PageSize: -1, IDsOnly: true}, 5, "t/1 t/2 t/3 t/4 t/6"},
		{SearchRequest{Query: "*:*", PageSize: 2, PageNum: 1, IDsOnly: true}, 5, "t/3 t/4"},
		{SearchRequest{Query: "*:*", PageSize: 2, PageNum: 2}, 5, "t/6"},
		{SearchRequest{Query: "*:*", PageSize: 2, PageNum: 9}, 5, ""},
		{SearchRequest{Query: "*:*", PageSize: 0}, 5, ""},
		{SearchRequest{Query: "*:*", PageSize: -1, Sort: []SortField{{Name: "id", Desc: true}}, IDsOnly: true}, 5, "t/6 t/4 t/3 t/2 t/1"},
		{SearchRequest{Query: "*:*", PageSize: -1, Sort: []SortField{{Name: "type"}, {Name: "id", Desc: true}}, IDsOnly: true}, 5, "t/2 t/1 t/6 t/4 t/3"},
		{SearchRequest{Query: "world", PageSize: -1, Sort: []SortField{{Name: "/name"}}, IDsOnly: true}, 4, "t/1 t/2 t/4 t/6"},
		{SearchRequest{Query: "world", PageSize: -1, Sort: []SortField{{Name: "/name", Desc: true}}, IDsOnly: true}, 4, "t/2 t/1 t/4 t/6"},
	} {
		r, err := n.repo.Search(ctx, anon, tc.req)
		if err != nil {
			t.Errorf("%+v: %v", tc.req, err)
			continue
		}
		if r.Size != tc.size || ids(r) != tc.want {
			t.Errorf("%+v: size %d %q, want %d %q", tc.req, r.Size, ids(r), tc.size, tc.want)
		}
	}
	for _, bad := range []SearchRequest{{Query: "*", PageSize: MaxPageSize + 1}, {Query: "*", PageNum: -1}, {Query: "*", PageSize: -2}} {
		if _, err := n.repo.Search(ctx, anon, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestParseSortFields(t *testing.T) {
	got, err := ParseSortFields("a,b DESC, c asc,id:ASC,/x:desc")
	want := []SortField{{"a", false}, {"b", true}, {"c", false}, {"id", false}, {"/x", true}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseSortFields("a sideways"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad direction: %v", err)
	}
}
