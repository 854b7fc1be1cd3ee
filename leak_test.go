package datomspace

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutines returns the stacks of the running goroutines by ID.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if m := goroutineID.FindSubmatch(g); m != nil {
			out[string(m[1])] = string(g)
		}
	}
	return out
}

var goroutineID = regexp.MustCompile(`^goroutine (\d+) \[`)

// newGoroutines returns the stacks of goroutines that did not run in before, except this test's
// own machinery. It waits up to settle for them to end.
func newGoroutines(before map[string]string, settle time.Duration) []string {
	deadline := time.Now().Add(settle)
	for {
		var extra []string
		for id, st := range goroutines() {
			if _, ok := before[id]; ok || strings.Contains(st, "testing.tRunner") || strings.Contains(st, "testing.(*T).Run") {
				continue
			}
			extra = append(extra, st)
		}
		if len(extra) == 0 || time.Now().After(deadline) {
			return extra
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// useServers runs the story once: two servers, clients, a json core, reads by key, a live read,
// append events and datoms; and closes everything.
func useServers(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := func(name string, boot []string) ServerOptions {
		return ServerOptions{Storage: filepath.Join(dir, name), Host: "127.0.0.1:0", Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: boot, Logger: quiet()}
	}
	alice, err := NewServer(opts("alice", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	alice.On("client-open", func(Event) {})
	if err := alice.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	ac, err := NewClient(ClientOptions{Host: alice.Host()})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	core, err := ac.Corestore().Get(ctx, CoreOptions{Name: "contacts", ValueEncoding: JSON})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Append(ctx, contact{"Bob", "b@example.com"}); err != nil {
		t.Fatal(err)
	}
	people, err := ac.Corestore().Get(ctx, CoreOptions{Name: "people"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := people.Transact(ctx, `[{"db/id":"p/1","person/name":"Ana"}]`); err != nil {
		t.Fatal(err)
	}

	bob, err := NewServer(opts("bob", alice.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if err := bob.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	bc, err := NewClient(ClientOptions{Host: bob.Host()})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	rc, err := bc.Corestore().Get(ctx, CoreOptions{Key: core.Key(), ValueEncoding: JSON})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var c contact
	if err := rc.Get(ctx, 0, &c); err != nil {
		t.Fatal(err)
	}
	rp, err := bc.Corestore().Get(ctx, CoreOptions{Key: people.Key()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := rp.Pull(ctx, "p/1"); err != nil || len(e.Attrs) == 0 {
		t.Fatalf("pull: %+v, %v", e, err)
	}
	// A live read and an append watch, left running when everything closes.
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	done := make(chan struct{}, 2)
	go func() {
		for range rc.Read(lctx, ReadOptions{Live: true}) {
		}
		done <- struct{}{}
	}()
	go func() {
		for range rc.Appends(lctx) {
		}
		done <- struct{}{}
	}()
	if _, err := core.Append(ctx, contact{"Carol", "c@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Get(ctx, 1, &c); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if err := bob.Close(); err != nil { // with its client still open: the server does not wait for it
		t.Fatal(err)
	}
	<-done
	<-done
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ac.Close(); err != nil {
		t.Fatal(err)
	}
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseLeavesNoGoroutines: once the servers and clients are closed, no goroutine they started
// runs. A first round warms up what libp2p and the runtime start once per process.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	useServers(t, t.TempDir())
	before := goroutines()
	useServers(t, t.TempDir())
	if extra := newGoroutines(before, 10*time.Second); len(extra) > 0 {
		t.Fatalf("%d goroutines outlived Close:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
	}
}
