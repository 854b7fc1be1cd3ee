package protocols

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/datomspace/datomspace/corestore"
)

// logCounter is a slog handler that keeps every record's message and attributes, for tests that
// check what was logged.
type logCounter struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

// count returns the number of lines containing every one of parts.
func (l *logCounter) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func (l *logCounter) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// floodHost is a bare libp2p host for an anonymous attacker: no listener, no resource limits of
// its own.
func floodHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.NoListenAddrs, libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}), libp2p.DisableRelay(), libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(), libp2p.Ping(false))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// floodCounts is what the attackers managed.
type floodCounts struct {
	attackers, conns, connFails, streams, streamFails atomic.Int64
	errMu                                             sync.Mutex
	errs                                              map[string]int // connection errors, by their text
}

// errSummary returns the connection errors seen, for failure messages.
func (c *floodCounts) errSummary() string {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return fmt.Sprint(c.errs)
}

func (c *floodCounts) connErr(err error) {
	c.connFails.Add(1)
	msg := err.Error()
	if i := strings.Index(msg, "read tcp4"); i >= 0 {
		msg = msg[:i]
	}
	c.errMu.Lock()
	if c.errs == nil {
		c.errs = map[string]int{}
	}
	if len(c.errs) < 20 {
		c.errs[msg]++
	}
	c.errMu.Unlock()
}

// Attacker behaviours.
const (
	attackSilent = iota // streams that never send an Open and wait for the victim to reset them
	attackCloser        // streams that never send an Open and are closed just before the open timeout
	attackBadCap        // streams that open the victim's core by its discovery key with a made-up capability
	attackIdle          // a connection and no streams
)

// flood runs one anonymous attacker until ctx ends: it stays connected to the victim (again and
// again when disconnected) and, unless idle, keeps `streams` negotiated sync streams open at once
// that behave as mode says.
func flood(ctx context.Context, h host.Host, victim peer.AddrInfo, dk []byte, mode, streams int, c *floodCounts) {
	connected := false
	for ctx.Err() == nil {
		if h.Network().Connectedness(victim.ID) != network.Connected {
			if sw, ok := h.Network().(*swarm.Swarm); ok {
				sw.Backoff().Clear(victim.ID) // a determined attacker does not back off
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := h.Connect(cctx, victim)
			cancel()
			if err != nil {
				c.connErr(err)
				sleepCtx(ctx, 100*time.Millisecond)
				continue
			}
			c.conns.Add(1)
			if !connected {
				connected = true
				c.attackers.Add(1)
			}
		}
		if mode == attackIdle {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		next := time.Now().Add(time.Second) // at most one round of streams a second
		var wg sync.WaitGroup
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				s, err := h.NewStream(network.WithNoDial(sctx, "flood"), victim.ID, protocol.ID(ProtocolID))
				cancel()
				if err != nil {
					c.streamFails.Add(1)
					sleepCtx(ctx, 50*time.Millisecond)
					return
				}
				defer s.Reset()
				c.streams.Add(1)
				hold := 30 * time.Second
				switch mode {
				case attackBadCap:
					capab := make([]byte, 32)
					rand.Read(capab)
					s.Write(AppendFrame(nil, &Open{DiscoveryKey: dk, Capability: capab}))
				case attackCloser:
					hold = DefaultOpenTimeout * 5 / 6
				}
				stop := context.AfterFunc(ctx, func() { s.Reset() })
				defer stop()
				s.SetReadDeadline(time.Now().Add(hold))
				var b [64]byte
				_, err = s.Read(b[:]) // negotiates the protocol, then waits
				if mode == attackCloser && isTimeout(err) {
					s.Close() // a clean close before the victim's deadline
				}
			}()
		}
		wg.Wait()
		sleepCtx(ctx, time.Until(next))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// TestAnonymousFloodDoesNotLockOutReaders is the regression test for issue 13 item 4. The victim
// is a node in a process of its own, serving an 8 MB core with the default limits. 300 anonymous
// identities each hold a connection to it (again whenever it is closed), and most keep sync
// streams open that never complete the handshake: six in ten keep 24 streams that send nothing
// and are closed cleanly just before the victim's open timeout, so they are never penalised; two
// in ten keep 8 that wait to be reset; one in ten sends made-up capabilities for the victim's
// core; one in ten only holds its connection. During the flood a reader that knows the key
// connects, opens a session and downloads the whole core. The victim never has more streams in
// the handshake than its limits allow, its anonymous memory grows by less than 128 MB, and the
// bad capabilities are logged at most once per peer. Without the limits (checked by mutation)
// the same flood held 4,037 streams in the handshake, the resource manager's limit here, and the
// victim's anonymous memory grew by 512 MB.
func TestAnonymousFloodDoesNotLockOutReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("300 libp2p hosts")
	}
	if raceEnabled {
		// The flood is about a victim's resources under load; instrumented several times over,
		// neither side keeps up and the test measures the race detector. The code it exercises
		// runs under the race detector in the handshake and admission tests.
		t.Skip("the flood test does not run with the race detector")
	}
	const identities = 300
	victim := startVictim(t)
	base, err := victim.report()
	if err != nil {
		t.Fatal(err)
	}
	target := victim.info()
	dk := corestore.DiscoveryKey(victim.key)

	attackers := make([]host.Host, identities)
	var wg sync.WaitGroup
	for i := range attackers {
		wg.Add(1)
		go func() { defer wg.Done(); attackers[i] = floodHost(t) }()
	}
	wg.Wait()
	defer func() {
		for _, h := range attackers {
			h.Close()
		}
	}()

	floodCtx, stopFlood := context.WithTimeout(context.Background(), 40*time.Second)
	defer stopFlood()
	var counts floodCounts
	var fwg sync.WaitGroup
	for i, h := range attackers {
		mode, streams := attackCloser, 24
		switch i % 10 {
		case 0:
			mode, streams = attackBadCap, 4
		case 1, 2:
			mode = attackSilent
		case 3:
			mode = attackIdle
		}
		fwg.Add(1)
		go func() { defer fwg.Done(); flood(floodCtx, h, target, dk[:], mode, streams, &counts) }()
	}
	defer fwg.Wait()
	defer stopFlood()

	// Sample the victim while the flood runs.
	var peak victimReport
	var samples int
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for floodCtx.Err() == nil {
			r, err := victim.report()
			if err != nil {
				t.Errorf("victim: %v", err)
				return
			}
			samples++
			peak.Stats.Handshaking = max(peak.Stats.Handshaking, r.Stats.Handshaking)
			peak.RSSAnon = max(peak.RSSAnon, r.RSSAnon)
			peak.HeapInuse = max(peak.HeapInuse, r.HeapInuse)
			peak.Goroutines = max(peak.Goroutines, r.Goroutines)
			peak.SyncStreamsIn = max(peak.SyncStreamsIn, r.SyncStreamsIn)
			peak.StreamsIn = max(peak.StreamsIn, r.StreamsIn)
			peak.ConnsIn = max(peak.ConnsIn, r.ConnsIn)
			sleepCtx(floodCtx, 100*time.Millisecond)
		}
	}()

	// Wait until the flood is at full strength: nearly every attacker has connected, they have
	// opened many streams, the victim's handshake places are in use and streams are turned away.
	for {
		r, err := victim.report()
		if err != nil {
			t.Fatal(err)
		}
		st := r.Stats
		if counts.attackers.Load() >= identities*95/100 && st.HandshakePeak >= DefaultHandshakesTotal &&
			st.HandshakesRefused+st.HandshakesEvicted > 1000 {
			t.Logf("flood at full strength: victim %+v; attackers %d connected, %d connections, %d streams",
				st, counts.attackers.Load(), counts.conns.Load(), counts.streams.Load())
			break
		}
		if floodCtx.Err() != nil {
			t.Fatalf("the flood never got going: victim %+v; %d attackers connected, %d streams; errors %v",
				st, counts.attackers.Load(), counts.streams.Load(), counts.errSummary())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A reader that knows the key connects, opens a session and downloads everything, during the
	// flood. Connecting or opening may be refused for a moment; it tries again, as `get` does.
	t0 := time.Now()
	reader := newNode(t, "")
	rc := replicaOf(t, reader, victim.key)
	ctx, cancel := context.WithTimeout(floodCtx, 25*time.Second)
	defer cancel()
	var tries int
	for {
		tries++
		err := reader.host.Connect(ctx, target)
		if err == nil {
			err = reader.rep.Replicate(ctx, rc, target.ID)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the reader could not open a session during the flood after %d tries: %v", tries, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	opened := time.Since(t0)
	if err := reader.rep.Download(ctx, rc, 0, 0); err != nil {
		t.Fatalf("download during the flood: %v (after %v)", err, time.Since(t0))
	}
	took := time.Since(t0)
	if floodCtx.Err() != nil {
		t.Fatal("the flood ended before the download did: the test proves nothing")
	}
	end, err := victim.report()
	if err != nil {
		t.Fatal(err)
	}
	stopFlood()
	fwg.Wait()
	<-sampleDone
	if rc.Contiguous() != floodBlocks {
		t.Fatalf("replica %+v contiguous %d", rc.Info(), rc.Contiguous())
	}
	checkBlocks(t, rc, floodTag, floodBlockSize, 0, floodBlocks)
	if err := rc.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := end.Stats
	t.Logf("reader: session after %d tries and %v, download of %d blocks after %v", tries, opened, floodBlocks, took)
	t.Logf("victim before: anonymous RSS %d MB, heap %d MB, %d goroutines", base.RSSAnon>>20, base.HeapInuse>>20, base.Goroutines)
	t.Logf("victim at the end of the flood: %+v", st)
	t.Logf("victim peaks over %d samples: handshaking %d, inbound sync streams %d, inbound streams %d, inbound connections %d, anonymous RSS %d MB, heap %d MB, %d goroutines",
		samples, peak.Stats.Handshaking, peak.SyncStreamsIn, peak.StreamsIn, peak.ConnsIn, peak.RSSAnon>>20, peak.HeapInuse>>20, peak.Goroutines)
	t.Logf("attackers: %d connections, %d streams (%d refused)", counts.conns.Load(), counts.streams.Load(), counts.streamFails.Load())

	// Connecting or opening may fail for a moment while connections churn, but a newcomer takes
	// a place from the peers holding the most at once: without that it took 19 tries here.
	if tries > 5 {
		t.Errorf("the reader needed %d tries to open a session", tries)
	}
	// The handshake places never exceed the limits: the shared pool, plus the reader's own once
	// it had a session.
	if limit := DefaultHandshakesTotal + DefaultHandshakesPerPeer; st.HandshakePeak > limit {
		t.Errorf("up to %d streams in the handshake at once, limit %d", st.HandshakePeak, limit)
	}
	if st.HandshakesEvicted == 0 || st.HandshakesRefused == 0 || st.HandshakesFailed == 0 {
		t.Errorf("the flood did not reach every limit: %+v", st)
	}
	if grew := peak.RSSAnon - base.RSSAnon; grew > 128<<20 {
		t.Errorf("the victim's anonymous memory grew by %d MB", grew>>20)
	}
	// Bad capabilities are logged once per peer per minute: at most one line per attacker that
	// sends them, and one for the peers past those remembered.
	if n := end.BadCapLines; n > identities/10+1 || n == 0 {
		t.Errorf("%d lines about bad capabilities from %d peers sending them", n, identities/10)
	}
}
