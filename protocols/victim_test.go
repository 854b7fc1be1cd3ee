package protocols

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/datomspace/datomspace/corestore"
)

// floodVictimEnv makes the test binary run as the victim process of the flood test (see
// TestMain): a node serving one core, whose memory is then its own to measure.
const floodVictimEnv = "PROTOCOLS_FLOOD_VICTIM"

// The victim's core.
const (
	floodBlocks    = 2000
	floodBlockSize = 4 << 10 // 8 MB in all
	floodTag       = "flooded"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(floodVictimEnv); dir != "" {
		os.Exit(floodVictim(dir))
	}
	os.Exit(m.Run())
}

// victimReport is what the victim process answers to "stats".
type victimReport struct {
	Stats                             Stats
	RSSAnon                           int64 // bytes of anonymous resident memory
	HeapInuse                         uint64
	Goroutines                        int
	SyncStreamsIn, StreamsIn, ConnsIn int // inbound streams and connections its resource manager counts
	BadCapLines                       int // warnings logged about bad capabilities
}

// floodVictim serves the core "flooded" from a store in dir on a default host on loopback. It
// prints "ready PEER ADDR KEY", then answers each "stats" line on stdin with a victimReport in
// JSON, and exits when stdin closes.
func floodVictim(dir string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	st, err := corestore.Open(ctx, dir, corestore.WithLogger(quietLog()))
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	c, err := st.Create(ctx, floodTag)
	if err != nil {
		return fail(err)
	}
	var blocks [][]byte
	for i := range floodBlocks {
		blocks = append(blocks, blockData(i, floodBlockSize, floodTag))
	}
	if _, err := c.Append(ctx, blocks...); err != nil {
		return fail(err)
	}
	blocks = nil
	h, err := NewHost(ctx)
	if err != nil {
		return fail(err)
	}
	defer h.Close()
	logs := &logCounter{}
	rep := NewReplicator(h, st, WithLogger(slog.New(logs)))
	defer rep.Close()
	runtime.GC()
	fmt.Printf("ready %s %s %s\n", h.ID(), h.Addrs()[0], c.Key())
	out := json.NewEncoder(os.Stdout)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "stats" {
			continue
		}
		var r victimReport
		r.Stats = rep.Stats()
		r.RSSAnon = rssAnon()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.HeapInuse, r.Goroutines = ms.HeapInuse, runtime.NumGoroutine()
		rm := h.Network().ResourceManager()
		rm.ViewSystem(func(s network.ResourceScope) error {
			r.StreamsIn, r.ConnsIn = s.Stat().NumStreamsInbound, s.Stat().NumConnsInbound
			return nil
		})
		rm.ViewProtocol(protocol.ID(ProtocolID), func(s network.ProtocolScope) error {
			r.SyncStreamsIn = s.Stat().NumStreamsInbound
			return nil
		})
		r.BadCapLines = logs.count("bad capability")
		if err := out.Encode(r); err != nil {
			return 1
		}
	}
	return 0
}

// rssAnon returns the process's anonymous resident memory in bytes, or -1.
func rssAnon() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// victimProc is a running victim process.
type victimProc struct {
	id   peer.ID
	addr ma.Multiaddr
	key  corestore.Key

	mu    sync.Mutex
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startVictim starts the victim process and waits until it serves.
func startVictim(t *testing.T) *victimProc {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the victim's memory is read from /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), floodVictimEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &victimProc{stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := v.out.ReadString('\n')
	if err != nil {
		t.Fatalf("victim: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ready" {
		t.Fatalf("victim: %q", line)
	}
	if v.id, err = peer.Decode(f[1]); err != nil {
		t.Fatal(err)
	}
	if v.addr, err = ma.NewMultiaddr(f[2]); err != nil {
		t.Fatal(err)
	}
	if v.key, err = corestore.ParseKey(f[3]); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *victimProc) info() peer.AddrInfo {
	return peer.AddrInfo{ID: v.id, Addrs: []ma.Multiaddr{v.addr}}
}

// report asks the victim for its counters.
func (v *victimProc) report() (victimReport, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var r victimReport
	if _, err := io.WriteString(v.stdin, "stats\n"); err != nil {
		return r, err
	}
	line, err := v.out.ReadBytes('\n')
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(line, &r)
}
