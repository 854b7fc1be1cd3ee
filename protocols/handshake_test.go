package protocols

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHandshakeDeadlineAndPerPeerLimit: streams a peer opens and sends nothing on hold a place
// each, up to the per-peer limit (past it they are reset on arrival), until the open timeout
// resets them and lowers the peer's score; the warning about them is logged once for the lot,
// and a malformed Open is reset at once and counted.
func TestHandshakeDeadlineAndPerPeerLimit(t *testing.T) {
	logs := &logCounter{}
	victim := newNode(t, "", WithOpenTimeout(500*time.Millisecond), WithHandshakeLimits(2, 64), WithLogger(slog.New(logs)))
	makeOwner(t, victim, "deadline", 1, 10)
	attacker := newTestHost(t)
	connect(t, attacker, victim.host)
	ctx := tctx(t, 20*time.Second)
	var ended sync.WaitGroup
	resetAfter := make([]time.Duration, 3)
	t0 := time.Now()
	for i := range resetAfter {
		s, err := attacker.NewStream(ctx, victim.host.ID(), protocol.ID(ProtocolID))
		if err != nil {
			t.Fatal(err)
		}
		ended.Add(1)
		go func() {
			defer ended.Done()
			defer s.Reset()
			s.SetReadDeadline(time.Now().Add(10 * time.Second))
			var b [1]byte
			s.Read(b[:]) // negotiates, then waits for the victim to reset the stream
			resetAfter[i] = time.Since(t0)
		}()
		if i < 2 {
			waitFor(t, 5*time.Second, "the stream to be admitted", func() bool { return victim.rep.Stats().Handshaking == i+1 })
		}
	}
	ended.Wait()
	st := victim.rep.Stats()
	if st.HandshakesRefused != 1 || st.HandshakesTimedOut != 2 || st.HandshakePeak != 2 || st.Handshaking != 0 {
		t.Fatalf("stats %+v; want 1 refused, 2 timed out, peak 2", st)
	}
	if resetAfter[2] > resetAfter[0] {
		t.Fatalf("the stream over the limit was reset after %v, the first one after %v", resetAfter[2], resetAfter[0])
	}
	if resetAfter[0] < 400*time.Millisecond {
		t.Fatalf("a silent stream was reset after %v, before the open timeout", resetAfter[0])
	}
	if sc := victim.rep.Score(attacker.ID()); sc != 2*scoreBadCap {
		t.Fatalf("score %d after two timeouts; want %d", sc, 2*scoreBadCap)
	}
	if n := logs.count("no open in time", attacker.ID().String()); n != 1 {
		t.Fatalf("%d warnings for two timeouts; want 1 (rate-limited): %v", n, logs.matching("open"))
	}

	// A malformed Open (a length that is not a varint) is reset at once and counted.
	s, err := attacker.NewStream(ctx, victim.host.ID(), protocol.ID(ProtocolID))
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	waitFor(t, 5*time.Second, "the malformed open to be counted", func() bool { return victim.rep.Stats().HandshakesFailed == 1 })
	s.Reset()
	if sc := victim.rep.Score(attacker.ID()); sc != 2*scoreBadCap+scoreProtocol {
		t.Fatalf("score %d; want %d", sc, 2*scoreBadCap+scoreProtocol)
	}
}

// TestManyCoresOnePeerWithinHandshakeLimits: a node that replicates many cores with one peer at
// once runs no more handshakes with it at a time than the per-peer limit, so that a peer with
// the same limits never refuses it. The peer here answers each Open after 50 ms and counts the
// handshakes it has in progress.
func TestManyCoresOnePeerWithinHandshakeLimits(t *testing.T) {
	const cores, perPeer = 24, 2
	owner := newNode(t, "")
	keys := map[corestore.Key]corestore.Key{} // by discovery key
	var list []corestore.Key
	for i := range cores {
		k := makeOwner(t, owner, fmt.Sprintf("many-%d", i), 1, 10).Key()
		keys[corestore.DiscoveryKey(k)] = k
		list = append(list, k)
	}
	slow := newTestHost(t)
	var mu sync.Mutex
	var now, most int
	done := make(chan struct{})
	defer close(done)
	slow.SetStreamHandler(protocol.ID(ProtocolID), func(s network.Stream) {
		defer s.Reset()
		m, err := ReadMessage(bufio.NewReader(s), maxOpenMessage)
		o, ok := m.(*Open)
		if err != nil || !ok {
			return
		}
		mu.Lock()
		now++
		most = max(most, now)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		now--
		mu.Unlock()
		k := keys[corestore.Key(o.DiscoveryKey)]
		s.Write(AppendFrame(nil, &Open{DiscoveryKey: o.DiscoveryKey, Capability: Capability(k, s.Conn().RemotePeer(), slow.ID(), false)}))
		<-done
	})
	reader := newNode(t, "", WithHandshakeLimits(perPeer, 64))
	connect(t, reader.host, slow)
	ctx := tctx(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make([]error, cores)
	for i, k := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = reader.rep.Replicate(ctx, replicaOf(t, reader, k), slow.ID())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("core %d: %v", i, err)
		}
	}
	if most > perPeer || most == 0 {
		t.Fatalf("up to %d handshakes with the peer at once; limit %d", most, perPeer)
	}
}

// TestConnManagerTrimsUnprovedPeers: with more peers connected than the connection manager's
// high watermark, connections of peers that have proved nothing are closed once their grace
// period is over, and the peer with a sync session is protected and keeps its connection.
func TestConnManagerTrimsUnprovedPeers(t *testing.T) {
	h, err := NewHost(context.Background(), WithConnManager(2, 4, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	dir := t.TempDir()
	victim := &node{dir: dir, store: openTestStore(t, dir), host: h}
	victim.rep = NewReplicator(h, victim.store, WithLogger(quietLog()))
	t.Cleanup(victim.close)
	oc := makeOwner(t, victim, "trimmed", 10, 100)
	reader := newNode(t, "")
	connect(t, reader.host, h)
	rc := replicaOf(t, reader, oc.Key())
	ctx := tctx(t, 30*time.Second)
	replicateAndDownload(t, ctx, reader, rc, victim, 0, 0)
	var idle []network.Conn
	for range 10 {
		a := newTestHost(t)
		connect(t, a, h)
		idle = append(idle, a.Network().ConnsToPeer(h.ID())...)
	}
	if !h.ConnManager().IsProtected(reader.host.ID(), protectTag) {
		t.Fatal("the reader, which has a session, is not protected")
	}
	waitFor(t, 20*time.Second, "the connection manager to trim", func() bool { return len(h.Network().Peers()) <= 3 })
	// The idle peers see their connections close a moment after the victim closed them.
	closed := func() (n int) {
		for _, c := range idle {
			if c.IsClosed() {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "8 of the 10 idle peers to see their connection closed", func() bool { return closed() >= 8 })
	if len(h.Network().ConnsToPeer(reader.host.ID())) == 0 || len(victim.rep.Peers(oc)) != 1 {
		t.Fatal("the reader's connection or session was trimmed")
	}
	reader.close()
	waitFor(t, 5*time.Second, "the reader to be unprotected", func() bool {
		return !h.ConnManager().IsProtected(reader.host.ID(), protectTag)
	})
}

// TestBusyPeerIsErrBusy: a stream refused for want of room in the handshake is reset with
// libp2p's resource-limit code, and Replicate reports ErrBusy, not a failed capability check.
func TestBusyPeerIsErrBusy(t *testing.T) {
	victim := newNode(t, "", WithHandshakeLimits(1, 16))
	oc := makeOwner(t, victim, "busy", 1, 10)
	reader := newNode(t, "")
	connect(t, reader.host, victim.host)
	ctx := tctx(t, 20*time.Second)
	// The reader's own silent stream takes its one place.
	s, err := reader.host.NewStream(ctx, victim.host.ID(), protocol.ID(ProtocolID))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	go func() { var b [1]byte; s.Read(b[:]) }()
	waitFor(t, 5*time.Second, "the silent stream to be admitted", func() bool { return victim.rep.Stats().Handshaking == 1 })
	err = reader.rep.Replicate(ctx, replicaOf(t, reader, oc.Key()), victim.host.ID())
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrAccess) {
		t.Fatalf("replicate with the peer's place in use: %v; want ErrBusy", err)
	}
	s.Reset()
	waitFor(t, 5*time.Second, "the place to be free", func() bool { return victim.rep.Stats().Handshaking == 0 })
	if err := reader.rep.Replicate(ctx, replicaOf(t, reader, oc.Key()), victim.host.ID()); err != nil {
		t.Fatal(err)
	}
}
