package datomspace

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// alicePlusBob starts Alice's server and Bob's, which knows Alice as its bootstrap peer, with a
// client on each.
func alicePlusBob(t *testing.T) (alice, bob *Server, ac, bc *Client) {
	t.Helper()
	alice = newServer(t, "")
	bob = newServer(t, "", alice.Addrs()...)
	return alice, bob, newClient(t, alice), newClient(t, bob)
}

// TestValueEncodings: each encoding round-trips what it takes, on the owner and on a reader, and
// refuses what it does not.
func TestValueEncodings(t *testing.T) {
	_, _, ac, bc := alicePlusBob(t)
	ctx := tctx(t, time.Minute)

	text := openCore(t, ac, CoreOptions{Name: "text", ValueEncoding: UTF8})
	if _, err := text.Append(ctx, "héllo", []byte("wörld")); err != nil {
		t.Fatal(err)
	}
	if _, err := text.Append(ctx, []byte{0xff, 0xfe}); !errors.Is(err, ErrEncoding) {
		t.Fatalf("invalid UTF-8 on a utf-8 core: %v", err)
	}
	if _, err := text.Append(ctx, 42); !errors.Is(err, ErrEncoding) {
		t.Fatalf("an int on a utf-8 core: %v", err)
	}

	bin := openCore(t, ac, CoreOptions{Name: "bin"}) // binary is the default
	if bin.Encoding() != Binary {
		t.Fatalf("default encoding %q", bin.Encoding())
	}
	if _, err := bin.Append(ctx, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}

	js := openCore(t, ac, CoreOptions{Name: "js", ValueEncoding: JSON})
	if _, err := js.Append(ctx, map[string]any{"n": 1, "tags": []string{"a"}}, 3.5, "s", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Append(ctx, func() {}); !errors.Is(err, ErrEncoding) {
		t.Fatalf("a func on a json core: %v", err)
	}

	// Read back on Bob's side, by key, with the same encodings.
	rt := openCore(t, bc, CoreOptions{Key: text.Key(), ValueEncoding: UTF8})
	rb := openCore(t, bc, CoreOptions{Key: bin.Key()})
	rj := openCore(t, bc, CoreOptions{Key: js.Key(), ValueEncoding: JSON})
	for _, c := range []*Core{rt, rb, rj} {
		if err := c.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var s string
	if err := rt.Get(ctx, 1, &s); err != nil || s != "wörld" {
		t.Fatalf("utf-8 get: %q, %v", s, err)
	}
	var b []byte
	if err := rb.Get(ctx, 0, &b); err != nil || !slices.Equal(b, []byte{0, 1, 2}) {
		t.Fatalf("binary get: %v, %v", b, err)
	}
	var m struct {
		N    int      `json:"n"`
		Tags []string `json:"tags"`
	}
	if err := rj.Get(ctx, 0, &m); err != nil || m.N != 1 || len(m.Tags) != 1 {
		t.Fatalf("json get: %+v, %v", m, err)
	}
	var f float64
	if err := rj.Get(ctx, 1, &f); err != nil || f != 3.5 {
		t.Fatalf("json get: %v, %v", f, err)
	}
	var raw json.RawMessage
	if err := rj.Get(ctx, 3, &raw); err != nil || string(raw) != "null" {
		t.Fatalf("json get: %s, %v", raw, err)
	}
	var n int
	if err := rj.Get(ctx, 2, &n); !errors.Is(err, ErrEncoding) {
		t.Fatalf("a json string into *int: %v", err)
	}
}

// TestLiveReadAndAppends: a reader's live read yields the owner's later appends in order, and
// Appends yields the lengths as they grow; both end without an error when ctx does.
func TestLiveReadAndAppends(t *testing.T) {
	_, _, ac, bc := alicePlusBob(t)
	ctx := tctx(t, time.Minute)
	own := openCore(t, ac, CoreOptions{Name: "feed", ValueEncoding: UTF8})
	if _, err := own.Append(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	rc := openCore(t, bc, CoreOptions{Key: own.Key(), ValueEncoding: UTF8})
	if err := rc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	reads, lengths := make(chan string, 16), make(chan uint64, 16)
	errs := make(chan error, 2)
	go func() {
		for b, err := range rc.Read(lctx, ReadOptions{Live: true}) {
			if err != nil {
				errs <- err
				return
			}
			var s string
			b.Decode(&s)
			reads <- s
		}
		errs <- nil
	}()
	appends := rc.Appends(lctx) // from length 2, which Ready saw
	go func() {
		for n, err := range appends {
			if err != nil {
				errs <- err
				return
			}
			lengths <- n
		}
		errs <- nil
	}()
	for _, want := range []string{"a", "b"} {
		if got := <-reads; got != want {
			t.Fatalf("live read %q, want %q", got, want)
		}
	}
	for _, v := range []string{"c", "d", "e"} {
		if _, err := own.Append(ctx, v); err != nil {
			t.Fatal(err)
		}
		if got := <-reads; got != v {
			t.Fatalf("live read %q, want %q", got, v)
		}
	}
	// Appends yields growing lengths past the 2 the session knew when it was called.
	var last uint64 = 2
	for last < 5 {
		select {
		case n := <-lengths:
			if n <= last || n > 5 {
				t.Fatalf("Appends yielded %d after %d", n, last)
			}
			last = n
		case <-ctx.Done():
			t.Fatal("Appends never reached length 5")
		}
	}
	if _, err := own.Append(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if n := <-lengths; n != 6 {
		t.Fatalf("Appends yielded %d after 5", n)
	}
	if got := <-reads; got != "f" {
		t.Fatalf("live read %q, want f", got)
	}
	stop()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a live read or Appends ended with %v when its ctx did", err)
		}
	}
	// A non-live read of the whole core, and one past the end.
	var all []string
	for b, err := range rc.Read(ctx, ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, string(b.Data))
	}
	if !slices.Equal(all, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Fatalf("read %q", all)
	}
	for _, err := range rc.Read(ctx, ReadOptions{Start: 2, End: 9}) {
		if !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("a read past the end: %v", err)
		}
	}
}

// TestReaderQueriesSeeDatomsAfterReady: a reader's Query and Pull on a Key core see the owner's
// datoms as soon as Ready returns, with no other call.
func TestReaderQueriesSeeDatomsAfterReady(t *testing.T) {
	_, _, ac, bc := alicePlusBob(t)
	ctx := tctx(t, time.Minute)
	people := openCore(t, ac, CoreOptions{Name: "people"})
	for _, tx := range []any{
		`[{"db/id":"p/1","person/name":"Ana","person/city":"Lisbon"}]`,
		[]map[string]any{{"db/id": "p/2", "person/name": "Bo", "person/city": "Oslo"}},
		json.RawMessage(`[{"db/id":"p/3","person/name":"Cy","person/city":"Lisbon"}]`),
	} {
		if _, err := people.Transact(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := people.Transact(ctx, `[{"db/id":`); !errors.Is(err, ErrBadJSON) {
		t.Fatalf("a malformed transaction: %v", err)
	}
	rc := openCore(t, bc, CoreOptions{Key: people.Key()})
	if err := rc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"find": []string{"?name"}, "where": [][]any{{"?e", "person/city", "Lisbon"}, {"?e", "person/name", "?name"}}}
	res, err := rc.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res.Rows {
		var s string
		json.Unmarshal(r.Values[0], &s)
		names = append(names, s)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Ana", "Cy"}) {
		t.Fatalf("query rows %q", names)
	}
	e, err := rc.Pull(ctx, "p/2")
	if err != nil || len(e.Attrs["person/name"]) != 1 || string(e.Attrs["person/name"][0]) != `"Bo"` {
		t.Fatalf("pull: %+v, %v", e, err)
	}
	if _, err := rc.Transact(ctx, `[{"db/id":"p/4","person/name":"Di"}]`); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a transaction on a Key core: %v", err)
	}
}

// TestHosts: the forms of Host, and what is refused.
func TestHosts(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	for _, tc := range []struct {
		in     string
		socket string
		tcp    string
		bad    bool
	}{
		{in: "alice", socket: filepath.Join(rt, "datomspace", "alice.sock")},
		{in: "my.node_2-b", socket: filepath.Join(rt, "datomspace", "my.node_2-b.sock")},
		{in: "/run/x/api.sock", socket: "/run/x/api.sock"},
		{in: "unix:/tmp/a.sock", socket: "/tmp/a.sock"},
		{in: "127.0.0.1:5001", tcp: "127.0.0.1:5001"},
		{in: "localhost:0", tcp: "127.0.0.1:0"},
		{in: "[::1]:7", tcp: "[::1]:7"},
		{in: "192.168.1.2:5001", bad: true},
		{in: "example.com:80", bad: true},
		{in: "127.0.0.1:99999", bad: true},
		{in: "127.0.0.1:http", bad: true},
		{in: "a b", bad: true},
		{in: "-x", bad: true},
		{in: "unix:", bad: true},
	} {
		h, err := parseHost(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("%q: %+v, %v; want ErrBadRequest", tc.in, h, err)
			}
			continue
		}
		if err != nil || h.socket != tc.socket || h.tcp != tc.tcp {
			t.Errorf("%q: %+v, %v; want socket %q tcp %q", tc.in, h, err, tc.socket, tc.tcp)
		}
	}
	fi, err := os.Stat(filepath.Join(rt, "datomspace"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir: %v, %v", fi, err)
	}
	// A runtime dir others can enter is refused.
	os.Chmod(filepath.Join(rt, "datomspace"), 0o755)
	if _, err := parseHost("alice"); err == nil {
		t.Fatal("a runtime dir with mode 0755 was accepted")
	}
	// Without XDG_RUNTIME_DIR: a private directory in the temp dir.
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", t.TempDir())
	h, err := parseHost("bob")
	if err != nil || filepath.Dir(h.socket) != filepath.Join(os.Getenv("TMPDIR"), "datomspace-"+itoa(os.Getuid())) {
		t.Fatalf("bob without XDG_RUNTIME_DIR: %+v, %v", h, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestSocketHost: a server on a socket path answers there; a stale socket is replaced, and Close
// removes the socket.
func TestSocketHost(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // a stale socket nobody answers on
	s := newServer(t, sock)
	if s.Host() != sock {
		t.Fatalf("Host %q", s.Host())
	}
	c := newClient(t, s)
	core := openCore(t, c, CoreOptions{Name: "x"})
	if _, err := core.Append(tctx(t, 30*time.Second), []byte("y")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v", fi, err)
	}
	c.Close()
	s.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket is still there after Close: %v", err)
	}
}

// TestAnUnansweredKeyLeavesNothing: a Key core no peer answered for is dropped when its session
// closes (and when its client does), while a replica that got its signed tree stays.
func TestAnUnansweredKeyLeavesNothing(t *testing.T) {
	alice, bob, ac, bc := alicePlusBob(t)
	_ = alice
	ctx := tctx(t, time.Minute)
	missing := make([]byte, 32)
	missing[0] = 9
	exists := func(key []byte) bool {
		_, err := bob.node.Repo.Store.Get(ctx, corestore.Key(key))
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	c := openCore(t, bc, CoreOptions{Key: missing})
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := c.Ready(short); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("Ready of a key nobody holds: %v", err)
	}
	if !exists(missing) {
		t.Fatal("the replica is gone while its session is open")
	}
	c.Close()
	if exists(missing) {
		t.Fatal("Close left the empty replica behind")
	}

	// The same through the client's Close, with two sessions on the key.
	c1 := openCore(t, bc, CoreOptions{Key: missing})
	c2 := openCore(t, bc, CoreOptions{Key: missing})
	c1.Close()
	if !exists(missing) {
		t.Fatal("the replica is gone while a second session holds it")
	}
	_ = c2
	bc2 := newClient(t, bob)
	own := openCore(t, ac, CoreOptions{Name: "kept"})
	if _, err := own.Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	kept := openCore(t, bc2, CoreOptions{Key: own.Key()})
	if err := kept.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	bc.Close()
	if exists(missing) {
		t.Fatal("the client's Close left the empty replica behind")
	}
	bc2.Close()
	if !exists(own.Key()) {
		t.Fatal("a replica with a signed tree was dropped")
	}
}
