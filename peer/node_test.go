package peer

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// dialRecorder is a connection gater that records every outbound dial attempt and allows all.
type dialRecorder struct {
	mu    sync.Mutex
	dials []string
}

func (d *dialRecorder) record(s string) {
	d.mu.Lock()
	d.dials = append(d.dials, s)
	d.mu.Unlock()
}

func (d *dialRecorder) InterceptPeerDial(p peer.ID) bool { d.record("peer " + p.String()); return true }
func (d *dialRecorder) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	d.record("addr " + a.String())
	return true
}
func (d *dialRecorder) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (d *dialRecorder) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (d *dialRecorder) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

func (d *dialRecorder) attempts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestNode(t *testing.T, opts ...NodeOption) *Node {
	t.Helper()
	ctx := context.Background()
	r, err := InitRepo(ctx, filepath.Join(t.TempDir(), "repo"), WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(ctx, r, append([]NodeOption{WithNodeLogger(quietLog())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestDefaultNodeDialsNothing: a node with the default, empty config that serves a core dials no
// address at all: no bootstrap peers, no public DHT, no mDNS, no relays.
func TestDefaultNodeDialsNothing(t *testing.T) {
	rec := &dialRecorder{}
	n := newTestNode(t, WithConnectionGater(rec))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := n.Repo.Store.Create(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Repo.Store.Create(ctx, "more"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if got := rec.attempts(); len(got) != 0 {
		t.Fatalf("a default node dialed: %v", got)
	}
	// The recorder does see dials: told about a peer, the node dials it.
	other := newTestNode(t)
	n2 := newTestNode(t, WithConnectionGater(rec), WithDirectPeers(other.Addrs()[0]))
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.attempts()) == 0 {
		t.Fatal("the gater saw no dial to a --peer: the safety check above could not fail")
	}
}

func TestIdentityPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equals(b) {
		t.Fatal("identity changed across loads")
	}
}

func TestParseAddrs(t *testing.T) {
	for _, tc := range []struct {
		in []string
		ok bool
	}{
		{[]string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRqYFWb3HicNVFsD8z9aW6RtLNKC3zoNbRZV2R1egxA8M"}, true},
		{[]string{"/ip4/127.0.0.1/tcp/4001"}, false},
		{[]string{"not a multiaddr"}, false},
	} {
		if _, err := ParseAddrs(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseAddrs(%v): %v", tc.in, err)
		}
	}
}
