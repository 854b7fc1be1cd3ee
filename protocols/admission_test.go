package protocols

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeStream stands in for a stream in admission tests: only Reset is used.
type fakeStream struct {
	network.Stream
	reset bool
}

func (f *fakeStream) Reset() error { f.reset = true; return nil }

func (f *fakeStream) ResetWithError(network.StreamErrorCode) error { return f.Reset() }

// TestAdmission walks the handshake admission through its rules: the per-peer limit, the shared
// pool, eviction of the most-holding peer's oldest stream, and the reserve for peers with a
// session, bounded by the same rules.
func TestAdmission(t *testing.T) {
	a := newAdmission(2, 3)
	A, B, C, D, T := peer.ID("A"), peer.ID("B"), peer.ID("C"), peer.ID("D"), peer.ID("T")
	admit := func(p peer.ID, trusted bool) (*pending, *fakeStream) {
		s := &fakeStream{}
		return a.admit(p, s, trusted), s
	}
	a1, a1s := admit(A, false)
	a2, _ := admit(A, false)
	if a1 == nil || a2 == nil {
		t.Fatal("A's first two streams refused")
	}
	if p, _ := admit(A, false); p != nil {
		t.Fatal("A's third stream admitted past the per-peer limit of 2")
	}
	b1, _ := admit(B, false)
	if b1 == nil {
		t.Fatal("B refused with a place free")
	}
	// The pool (3) is full: A holds 2, B 1. C, holding none, takes the place of A's oldest.
	c1, _ := admit(C, false)
	if c1 == nil || !a1s.reset {
		t.Fatalf("C admitted %v, A's oldest reset %v; want C in, A's oldest out", c1 != nil, a1s.reset)
	}
	if a.done(a1) {
		t.Fatal("done on a displaced stream reports it still admitted")
	}
	// Now A, B and C hold one each. B cannot displace anyone: nobody holds more than B.
	if p, _ := admit(B, false); p != nil {
		t.Fatal("B displaced a peer holding as many as itself")
	}
	// D, holding none, displaces the oldest of those holding one: A's second.
	d1, _ := admit(D, false)
	if d1 == nil || a.done(a2) {
		t.Fatal("D did not take the place of the oldest stream")
	}
	// A peer with a session is admitted from the reserve while the first pool is full, and is
	// never displaced by a peer without one.
	t1, t1s := admit(T, true)
	t2, _ := admit(T, true)
	if t1 == nil || t2 == nil {
		t.Fatal("a peer with a session was refused while the pool was full")
	}
	if p, _ := admit(T, true); p != nil {
		t.Fatal("a peer with a session went past the per-peer limit")
	}
	e1, _ := admit(peer.ID("E"), false)
	if e1 == nil || t1s.reset {
		t.Fatal("E was refused, or displaced a peer with a session")
	}
	// The reserve is bounded too, with the same rule among the peers with a session.
	u1, _ := admit(peer.ID("U"), true)
	v1, _ := admit(peer.ID("V"), true)
	if u1 == nil || v1 == nil || !t1s.reset {
		t.Fatalf("U admitted %v, V admitted %v, T's oldest reset %v; want V in place of T's oldest", u1 != nil, v1 != nil, t1s.reset)
	}
	now, peak, c := a.stats()
	if now != 6 || peak != 6 || c.refused != 3 || c.evicted != 4 {
		t.Fatalf("stats: now %d peak %d %+v; want 6 6 refused 3 evicted 4", now, peak, c)
	}
	for _, p := range []*pending{b1, c1, d1, t1, t2, u1, v1} {
		a.done(p)
	}
	if now, _, _ := a.stats(); now != 1 {
		t.Fatalf("%d pending after release; want E's 1", now)
	}
}

// TestWarnLimiter: one line per key per interval, standing for the occurrences since the last;
// keys past the limit share one entry until old keys expire.
func TestWarnLimiter(t *testing.T) {
	l := newWarnLimiter(time.Minute, 2)
	t0 := time.Unix(1000, 0)
	type want struct {
		ok    bool
		count int
		other bool
	}
	steps := []struct {
		key string
		at  time.Duration
		want
	}{
		{"a", 0, want{true, 1, false}},
		{"a", time.Second, want{false, 0, false}},
		{"a", 2 * time.Second, want{false, 0, false}},
		{"b", 3 * time.Second, want{true, 1, false}},
		{"c", 4 * time.Second, want{true, 1, true}}, // a and b are remembered: c counts with the others
		{"d", 5 * time.Second, want{false, 0, true}},
		{"a", 61 * time.Second, want{true, 3, false}}, // this one and the two suppressed
		{"e", 65 * time.Second, want{true, 1, false}}, // b expired: e gets its own entry
		{"d", 66 * time.Second, want{true, 2, true}},  // d and c's interval has passed
	}
	for i, s := range steps {
		ok, n, other := l.note(s.key, t0.Add(s.at))
		if (want{ok, n, other}) != s.want {
			t.Fatalf("step %d (%s at %v): got %v %d %v, want %+v", i, s.key, s.at, ok, n, other, s.want)
		}
	}
}
