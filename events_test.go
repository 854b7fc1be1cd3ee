package datomspace

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// eventLog records a server's events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func watchEvents(s *Server) *eventLog {
	l := &eventLog{}
	for _, name := range []string{"client-open", "client-close"} {
		s.On(name, func(e Event) {
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
		})
	}
	return l
}

func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// waitFor waits until the log holds exactly want, comparing Name, Remote and Peer.
func (l *eventLog) waitFor(t *testing.T, what string, want ...Event) []Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := l.list()
		same := len(got) == len(want)
		for i := 0; same && i < len(got); i++ {
			same = got[i].Name == want[i].Name && got[i].Remote == want[i].Remote && got[i].Peer == want[i].Peer
		}
		if same {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: events %+v, want %+v", what, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventsLocalAndRemote: client-open and client-close fire for a local client's lifetime, with
// the same Client ID, and for a remote peer's replication sessions, with its peer ID, on both
// servers.
func TestEventsLocalAndRemote(t *testing.T) {
	alice := newServer(t, "")
	ae := watchEvents(alice)
	ac := newClient(t, alice)
	evs := ae.waitFor(t, "after NewClient", Event{Name: "client-open"})
	if evs[0].Client == "" {
		t.Fatal("a local client-open has no Client ID")
	}
	core := openCore(t, ac, CoreOptions{Name: "log"})
	ctx := tctx(t, 60*time.Second)
	if _, err := core.Append(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := ac.Close(); err != nil {
		t.Fatal(err)
	}
	evs = ae.waitFor(t, "after Client.Close", Event{Name: "client-open"}, Event{Name: "client-close"})
	if evs[1].Client != evs[0].Client {
		t.Fatalf("client-close names client %q, its open %q", evs[1].Client, evs[0].Client)
	}

	// Bob's server replicates Alice's core: each sees the other as a remote client, once, however
	// many of Bob's sessions read it.
	bob := newServer(t, "", alice.Addrs()...)
	be := watchEvents(bob)
	bc := newClient(t, bob)
	for range 2 {
		rc := openCore(t, bc, CoreOptions{Key: core.Key()})
		if err := rc.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		var b []byte
		if err := rc.Get(ctx, 0, &b); err != nil || string(b) != "hello" {
			t.Fatalf("get: %q, %v", b, err)
		}
	}
	ae.waitFor(t, "alice, after Bob's reads", Event{Name: "client-open"}, Event{Name: "client-close"},
		Event{Name: "client-open", Remote: true, Peer: bob.ID()})
	be.waitFor(t, "bob, after his reads", Event{Name: "client-open"},
		Event{Name: "client-open", Remote: true, Peer: alice.ID()})

	// Bob's server stops: Alice sees her remote client go; Bob's own Close delivers his events.
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	got := be.list()
	if len(got) != 4 || got[2].Name != "client-close" || got[3].Name != "client-close" {
		t.Fatalf("bob's events after his Close: %+v", got)
	}
	ae.waitFor(t, "alice, after Bob's server closed", Event{Name: "client-open"}, Event{Name: "client-close"},
		Event{Name: "client-open", Remote: true, Peer: bob.ID()}, Event{Name: "client-close", Remote: true, Peer: bob.ID()})
}

// TestEventsNamedHost: a client of a named host opens and closes as a local client, and two
// servers cannot take the same name.
func TestEventsNamedHost(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	s := newServer(t, "events")
	e := watchEvents(s)
	c, err := NewClient(ClientOptions{Host: "events"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "open", Event{Name: "client-open"})
	c.Close()
	e.waitFor(t, "close", Event{Name: "client-open"}, Event{Name: "client-close"})
	_, err = NewServer(ServerOptions{Storage: t.TempDir(), Host: "events", Logger: quiet()})
	if err == nil {
		t.Fatal("a second server took the host name of a running one")
	}
	if !isErr(err, ErrSocketInUse) {
		t.Fatalf("second server on the same name: %v", err)
	}
}
