package blobsync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// childResult is what a fetching child process reports.
type childResult struct {
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"` // the child's user and system time during the fetch
	HWMKiB  int64   `json:"vmhwm_kib"`
	Bytes   uint64  `json:"bytes"`
	// ProviderCPU is the provider's (the parent's) CPU time during the child's run.
	ProviderCPU float64 `json:"-"`
}

// cpuTime is this process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Environment of the fetching child process.
const (
	envChildDir  = "BLOBSYNC_CHILD_DIR"
	envChildPeer = "BLOBSYNC_CHILD_PEER"
	envChildCID  = "BLOBSYNC_CHILD_CID"
	envChildMode = "BLOBSYNC_CHILD_MODE"
)

// TestFetchChild is the body of a fetching child process (benchmarks start it); it skips
// otherwise. It opens a fresh peer store in its directory, fetches one blob from one provider,
// and prints how long the fetch took and its peak resident memory (VmHWM).
func TestFetchChild(t *testing.T) {
	dir := os.Getenv(envChildDir)
	if dir == "" {
		t.Skip("only run as a benchmark's child process")
	}
	m, err := ma.NewMultiaddr(os.Getenv(envChildPeer))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		t.Fatal(err)
	}
	root, err := blobs.ParseCID(os.Getenv(envChildCID))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{h: newHost(t), store: newStore(t, dir)}
	svc, err := New(n.h, n.store)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	opts := []FetchOption{WithPeers(*ai)}
	if os.Getenv(envChildMode) == "bitswap" {
		opts = append(opts, WithoutFastPath())
	}
	t0, c0 := time.Now(), cpuTime()
	ref, err := svc.Fetch(context.Background(), root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := childResult{Seconds: time.Since(t0).Seconds(), CPU: (cpuTime() - c0).Seconds(), HWMKiB: vmHWM(t), Bytes: ref.Size}
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// vmHWM returns this process's peak resident set size in KiB.
func vmHWM(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// runChild fetches root from provider in a child process and returns its report.
func runChild(b *testing.B, provider *node, root blobs.Ref, mode string) childResult {
	b.Helper()
	args := []string{"-test.run=^TestFetchChild$", "-test.v", "-test.timeout=30m"}
	if p := os.Getenv("BLOBSYNC_CHILD_CPUPROFILE"); p != "" {
		args = append(args, "-test.cpuprofile="+p+"-"+mode)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(),
		envChildDir+"="+b.TempDir(),
		envChildPeer+"="+fmt.Sprintf("%s/p2p/%s", provider.h.Addrs()[0], provider.h.ID()),
		envChildCID+"="+root.CID.String(),
		envChildMode+"="+mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	c0 := cpuTime()
	if err := cmd.Run(); err != nil {
		b.Fatalf("child: %v\n%s", err, out.String())
	}
	provCPU := (cpuTime() - c0).Seconds()
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			var r childResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				b.Fatal(err)
			}
			if r.Bytes != root.Size {
				b.Fatalf("child fetched %d bytes, want %d", r.Bytes, root.Size)
			}
			r.ProviderCPU = provCPU
			return r
		}
	}
	b.Fatalf("child printed no result:\n%s", out.String())
	return childResult{}
}

// addStream adds n bytes of seed's stream to the provider.
func addStream(b *testing.B, n *node, seed uint64, size int64) blobs.Ref {
	b.Helper()
	ref, err := n.store.Add(context.Background(), io.LimitReader(seededReader(seed), size))
	if err != nil {
		b.Fatal(err)
	}
	return ref
}

// kuboFetch times `ipfs cat` of size bytes of seed's stream between two Kubo daemons: one adds,
// the other, connected to it, fetches with bitswap. It returns the time and the CPU time both
// daemons used meanwhile, or zeros without Kubo.
func kuboFetch(b *testing.B, seed uint64, size int64) (time.Duration, time.Duration) {
	bin := kubotest.Binary()
	if bin == "" {
		return 0, 0
	}
	a, c := kubotest.NewRepo(b, bin), kubotest.NewRepo(b, bin)
	a.Start()
	c.Start()
	out, err := a.Run(io.LimitReader(seededReader(seed), size), "add", "--cid-version=1", "-Q")
	if err != nil {
		b.Fatal(err)
	}
	id, addrs := a.Identity()
	c.MustRun("swarm", "connect", addrs[0]+"/p2p/"+id)
	t0, cpu0 := time.Now(), a.CPUTime()+c.CPUTime()
	if err := c.RunTo(io.Discard, "cat", strings.TrimSpace(out)); err != nil {
		b.Fatal(err)
	}
	d, cpu := time.Since(t0), a.CPUTime()+c.CPUTime()-cpu0
	a.Stop()
	c.Stop()
	return d, cpu
}

// BenchmarkFetch256MiB fetches 256 MiB between two peers on loopback, the fetcher a child
// process with a fresh store: on the fast path (fast-s), with bitswap (bitswap-s), and, one
// right after the other, bitswap between two Kubo daemons (`ipfs cat`, kubo-s). Ratios say how
// many times faster than Kubo each is.
// Run: go test ./protocols/blobsync -run '^$' -bench Fetch256MiB -benchtime 1x
func BenchmarkFetch256MiB(b *testing.B) {
	const size = 256 << 20
	p := newNode(b)
	ref := addStream(b, p, 256, size)
	var fast, bs, kubo, fastCPU, bsCPU, kuboCPU float64
	var hwm int64
	for range b.N {
		r := runChild(b, p, ref, "fast")
		fast += r.Seconds
		fastCPU += r.CPU + r.ProviderCPU
		hwm = max(hwm, r.HWMKiB)
		r = runChild(b, p, ref, "bitswap")
		bs += r.Seconds
		bsCPU += r.CPU + r.ProviderCPU
		kd, kc := kuboFetch(b, 256, size)
		kubo += kd.Seconds()
		kuboCPU += kc.Seconds()
	}
	n := float64(b.N)
	b.SetBytes(size)
	b.ReportMetric(fast/n, "fast-s")
	b.ReportMetric(bs/n, "bitswap-s")
	// CPU time of both ends, which the load on the machine changes less than wall time.
	b.ReportMetric(fastCPU/n, "fast-cpu-s")
	b.ReportMetric(bsCPU/n, "bitswap-cpu-s")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
	if kubo > 0 {
		b.ReportMetric(kubo/n, "kubo-s")
		b.ReportMetric(kuboCPU/n, "kubo-cpu-s")
		b.ReportMetric(kubo/fast, "fast-vs-kubo-x")
		b.ReportMetric(kubo/bs, "bitswap-vs-kubo-x")
	}
}

// BenchmarkFetchRSS1GiB fetches 1 GiB on the fast path into a child process and reports its
// peak resident memory (VmHWM). Target: under 200 MB.
// Run: go test ./protocols/blobsync -run '^$' -bench FetchRSS1GiB -benchtime 1x
func BenchmarkFetchRSS1GiB(b *testing.B) {
	const size = 1 << 30
	p := newNode(b)
	ref := addStream(b, p, 1024, size)
	var hwm int64
	var secs float64
	for range b.N {
		r := runChild(b, p, ref, "fast")
		hwm = max(hwm, r.HWMKiB)
		secs += r.Seconds
	}
	b.SetBytes(size)
	b.ReportMetric(secs/float64(b.N), "fetch-s")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
	if hwm >= 200*1024 {
		b.Errorf("peak RSS %d MiB, over the 200 MB target", hwm/1024)
	}
}
