package datomspace

import (
	"testing"
	"time"
)

type contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// TestStory is the seed's story end to end: an owner's json core, read by key on another server.
func TestStory(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	alice := newServer(t, "")
	ac := newClient(t, alice)
	contacts := openCore(t, ac, CoreOptions{Name: "contacts", ValueEncoding: JSON})
	ctx := tctx(t, 60*time.Second)
	n, err := contacts.Append(ctx, contact{"Bob", "bob@example.com"}, contact{"Carol", "carol@example.org"})
	if err != nil || n != 2 {
		t.Fatalf("append: %d, %v", n, err)
	}
	bob := newServer(t, "bob", alice.Addrs()...)
	bc := newClient(t, bob)
	core := openCore(t, bc, CoreOptions{Key: contacts.Key(), ValueEncoding: JSON})
	if err := core.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if core.Length() != 2 {
		t.Fatalf("length %d after Ready", core.Length())
	}
	var got contact
	if err := core.Get(ctx, 1, &got); err != nil || got.Name != "Carol" {
		t.Fatalf("get 1: %+v, %v", got, err)
	}
	done := make(chan contact, 1)
	go func() {
		var c contact
		if err := core.Get(ctx, 2, &c); err != nil {
			t.Error(err)
		}
		done <- c
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := contacts.Append(ctx, contact{"Dave", "dave@example.net"}); err != nil {
		t.Fatal(err)
	}
	if c := <-done; c.Name != "Dave" {
		t.Fatalf("waited get 2: %+v", c)
	}
}
