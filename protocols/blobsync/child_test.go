package blobsync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// childResult is what a fetching child process reports.
type childResult struct {
	Seconds float64 `json:"seconds"`
	Blocks  uint64  `json:"blocks"` // received
	SHA256  string  `json:"sha256"`
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
	// envChildPauseAt makes the child print "PAUSED" and stop once it has written that many
	// blocks, to be killed.
	envChildPauseAt = "BLOBSYNC_CHILD_PAUSE_AT"
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
	var blocks uint64
	pauseAt, _ := strconv.ParseUint(os.Getenv(envChildPauseAt), 10, 64)
	opts := []FetchOption{WithPeers(*ai), WithProgress(func(p Progress) {
		blocks = p.Blocks
		if pauseAt > 0 && p.Blocks >= pauseAt {
			fmt.Println("PAUSED")
			select {} // until killed; the other writer blocks on the next call
		}
	})}
	if os.Getenv(envChildMode) == "bitswap" {
		opts = append(opts, WithoutFastPath())
	}
	t0, c0 := time.Now(), cpuTime()
	ref, err := svc.Fetch(context.Background(), root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := childResult{Seconds: time.Since(t0).Seconds(), CPU: (cpuTime() - c0).Seconds(), HWMKiB: vmHWM(t),
		Bytes: ref.Size, Blocks: blocks}
	r, err := n.store.Open(context.Background(), ref.CID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// vmHWM returns this process's peak resident set size in KiB.
func vmHWM(t testing.TB) int64 {
	t.Helper()
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

// childCmd is the command of a child that fetches root from provider into dir.
func childCmd(provider *node, root blobs.Ref, mode, dir string) *exec.Cmd {
	args := []string{"-test.run=^TestFetchChild$", "-test.v", "-test.timeout=30m"}
	if p := os.Getenv("BLOBSYNC_CHILD_CPUPROFILE"); p != "" {
		args = append(args, "-test.cpuprofile="+p+"-"+mode)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(),
		envChildDir+"="+dir,
		envChildPeer+"="+fmt.Sprintf("%s/p2p/%s", provider.h.Addrs()[0], provider.h.ID()),
		envChildCID+"="+root.CID.String(),
		envChildMode+"="+mode)
	return cmd
}

// runChild fetches root from provider in a child process, into a fresh directory, and returns
// its report.
func runChild(b testing.TB, provider *node, root blobs.Ref, mode string) childResult {
	b.Helper()
	return runChildIn(b, provider, root, mode, b.TempDir())
}

func runChildIn(b testing.TB, provider *node, root blobs.Ref, mode, dir string) childResult {
	b.Helper()
	cmd := childCmd(provider, root, mode, dir)
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

// TestFetchResumeAfterKill kills a fetching process (SIGKILL) part way and starts another on the
// same repo: it fetches only the blocks the first did not write, and the blob is whole.
func TestFetchResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	p := newNode(t)
	want := data(70, 160*blobs.ChunkSize+5)
	ref := p.add(t, want)
	dir := t.TempDir()
	cmd := childCmd(p, ref, "fast", dir)
	cmd.Env = append(cmd.Env, envChildPauseAt+"=40")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		if sc.Text() == "PAUSED" {
			cmd.Process.Kill()
			killed = true
			break
		}
	}
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if !killed {
		t.Fatal("the first fetch did not pause to be killed")
	}
	// Let the provider notice the dead connection, so that what it served before counts as such.
	first := p.svc.Stats().BlocksServed
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		now := p.svc.Stats().BlocksServed
		if len(p.h.Network().Peers()) == 0 && now == first {
			break
		}
		first = now
	}
	r := runChildIn(t, p, ref, "fast", dir)
	if sum := sha256.Sum256(want); r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("the resumed fetch has different bytes")
	}
	const total = 162 // 161 leaves and the root
	again := p.svc.Stats().BlocksServed - first
	if r.Blocks == 0 || r.Blocks >= total-39 {
		t.Fatalf("the resumed fetch received %d of %d blocks, after the first wrote 40 or more", r.Blocks, total)
	}
	if again != r.Blocks {
		t.Fatalf("provider served %d blocks on resume, the fetcher received %d", again, r.Blocks)
	}
	t.Logf("first fetch served %d blocks; after the kill %d more were fetched", first, r.Blocks)
}
