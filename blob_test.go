package datomspace

import (
	"strings"
	"testing"
	"time"
)

// TestPullResolved: a large value transacted on Alice's core is a blob; Bob, reading the core by
// key, sees its CID and size with Pull and the value itself with PullResolved, which fetches the
// blob from Alice.
func TestPullResolved(t *testing.T) {
	_, _, ac, bc := alicePlusBob(t)
	ctx := tctx(t, time.Minute)
	docs := openCore(t, ac, CoreOptions{Name: "docs"})
	body := strings.Repeat("a value too large to keep inline. ", 1000)
	if _, err := docs.Transact(ctx, []map[string]any{{"db/id": "doc/1", "doc/body": body}}); err != nil {
		t.Fatal(err)
	}
	rd := openCore(t, bc, CoreOptions{Key: docs.Key()})
	if err := rd.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := rd.Pull(ctx, "doc/1")
	if err != nil {
		t.Fatal(err)
	}
	if v := string(e.Attrs["doc/body"][0]); !strings.HasPrefix(v, `{"blob":"bafk`) || !strings.Contains(v, `"size":34000`) {
		t.Fatalf("Pull shows %s", v)
	}
	e, err = rd.PullResolved(ctx, "doc/1")
	if err != nil {
		t.Fatal(err)
	}
	if v := string(e.Attrs["doc/body"][0]); v != `"`+body+`"` {
		t.Fatalf("PullResolved gives %.60s…", v)
	}
}
