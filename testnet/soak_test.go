package testnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The soak (make soak): an owner daemon takes 1 KiB blocks from `datomspace append --stdin`
// through its unix-socket API as fast as it can, and a second daemon follows the core live
// (`serve --follow KEY`). It samples the anonymous and file-backed resident memory of both
// processes, and fails if the replica's anonymous memory ever exceeds the bound.
var (
	soakTime     = flag.Duration("soak", 0, "run the memory soak for this long (make soak); 0 skips it")
	soakEvery    = flag.Duration("soak.every", 15*time.Second, "how often the soak samples memory")
	soakMaxAnon  = flag.Int("soak.max-replica-anon-mb", 400, "the soak fails if the replica's anonymous RSS exceeds this many MB")
	soakBin      = flag.String("soak.bin", "", "datomspace binary to soak (default: build ../cmd/datomspace)")
	soakDir      = flag.String("soak.dir", "", "directory for the two repos (default: a temporary directory)")
	soakBlockLen = flag.Int("soak.block", 1024, "block size in bytes")
)

// memSample is one reading of a process's resident memory, in bytes.
type memSample struct{ anon, file int64 }

// readRSS reads RssAnon and RssFile of process pid from /proc.
func readRSS(pid int) (memSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	var m memSample
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memSample{}, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		*dst = kb << 10
	}
	return m, nil
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// soakDaemon is one `datomspace serve` process of the soak.
type soakDaemon struct {
	name, repo string
	cmd        *exec.Cmd
	addr       string // a full multiaddr with /p2p/
	exited     chan error
}

func startSoakDaemon(t *testing.T, ctx context.Context, bin, dir, name string, extra ...string) *soakDaemon {
	t.Helper()
	d := &soakDaemon{name: name, repo: filepath.Join(dir, name), exited: make(chan error, 1)}
	out := filepath.Join(dir, name+".out")
	logPath := filepath.Join(dir, name+".log")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--init", "--json", "--repo", d.repo, "--listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = of, lf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	of.Close()
	lf.Close()
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if line, _, ok := bytes.Cut(b, []byte("\n")); ok {
			var v struct {
				Addrs []string `json:"addrs"`
			}
			if err := json.Unmarshal(line, &v); err != nil || len(v.Addrs) == 0 {
				t.Fatalf("%s printed %q", name, line)
			}
			d.addr = v.Addrs[0]
			return d
		}
		select {
		case err := <-d.exited:
			logb, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited (%v): %s", name, err, lastLine(logb))
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start within 60 s (see %s)", name, logPath)
		}
	}
}

// stop ends the daemon with SIGTERM (SIGKILL after 30 s) and reports how it exited.
func (d *soakDaemon) stop(t *testing.T) {
	if d.cmd.ProcessState != nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		if err != nil {
			t.Logf("%s exited: %v", d.name, err)
		}
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Logf("%s did not stop within 30 s; killed", d.name)
	}
}

func (d *soakDaemon) rss(t *testing.T) memSample {
	m, err := readRSS(d.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	return m
}

// soakLength returns the length of core ref in repo, through its daemon.
func soakLength(ctx context.Context, bin, repo, ref string) (uint64, error) {
	out, err := exec.CommandContext(ctx, bin, "info", ref, "--json", "--repo", repo).Output()
	if err != nil {
		return 0, fmt.Errorf("info %s: %w", ref, err)
	}
	var in struct {
		Length uint64 `json:"length"`
	}
	if err := json.Unmarshal(out, &in); err != nil {
		return 0, fmt.Errorf("info %s printed %q: %w", ref, out, err)
	}
	return in.Length, nil
}

// soakLines writes newline-terminated blocks of n bytes (hex, so no newline in them) to w until
// stop is closed or a write fails.
func soakLines(w io.WriteCloser, n int, stop <-chan struct{}) {
	defer w.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	raw := make([]byte, (n+1)/2)
	line := make([]byte, 0, n+1)
	for i := uint64(0); ; i++ {
		if i%1024 == 0 {
			select {
			case <-stop:
				bw.Flush()
				return
			default:
			}
		}
		// Different bytes in every block, cheap to make: a counter spread over the block.
		for k := range raw {
			raw[k] = byte(i>>(8*(k%8))) ^ byte(k*131)
		}
		line = hex.AppendEncode(line[:0], raw)
		line = append(line[:n], '\n')
		if _, err := bw.Write(line); err != nil {
			return
		}
	}
}

// TestSoak is the memory soak behind `make soak`. It needs a few GB of disk per minute: both
// repos hold every block.
func TestSoak(t *testing.T) {
	if *soakTime <= 0 {
		t.Skip("the memory soak runs with -soak DURATION (make soak)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *soakTime+10*time.Minute)
	defer cancel()
	bin := *soakBin
	if bin == "" {
		bin = buildBinary(t)
	}
	dir := *soakDir
	if dir == "" {
		dir = t.TempDir()
	}
	owner := startSoakDaemon(t, ctx, bin, dir, "owner")
	out, err := exec.CommandContext(ctx, bin, "create", "soak", "--repo", owner.repo).Output()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	replica := startSoakDaemon(t, ctx, bin, dir, "replica", "--peer", owner.addr, "--bootstrap", owner.addr, "--follow", key)

	app := exec.CommandContext(ctx, bin, "append", "soak", "--stdin", "--repo", owner.repo)
	stdin, err := app.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var appOut, appErr bytes.Buffer
	app.Stdout, app.Stderr = &appOut, &appErr
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go soakLines(stdin, *soakBlockLen, stop)

	t.Logf("soak for %s: owner appends %d-byte blocks through `append --stdin`, the replica follows live", *soakTime, *soakBlockLen)
	t.Logf("%8s %12s %12s %14s %14s %14s %14s", "t", "owner len", "replica len", "owner anon MB", "owner file MB", "replica anon", "replica file")
	var maxOwnerAnon, maxReplicaAnon int64
	start := time.Now()
	sample := func() (uint64, uint64) {
		o, r := owner.rss(t), replica.rss(t)
		maxOwnerAnon, maxReplicaAnon = max(maxOwnerAnon, o.anon), max(maxReplicaAnon, r.anon)
		lo, err := soakLength(ctx, bin, owner.repo, "soak")
		if err != nil {
			t.Logf("owner: %v", err)
		}
		lr, err := soakLength(ctx, bin, replica.repo, key)
		if err != nil {
			t.Logf("replica: %v", err)
		}
		t.Logf("%7.0fs %12d %12d %14.0f %14.0f %14.0f %14.0f", time.Since(start).Seconds(), lo, lr, mb(o.anon), mb(o.file), mb(r.anon), mb(r.file))
		return lo, lr
	}
	tick := time.NewTicker(*soakEvery)
	end := time.After(*soakTime)
loop:
	for {
		select {
		case <-tick.C:
			sample()
		case <-end:
			break loop
		case err := <-owner.exited:
			t.Fatalf("owner exited during the soak: %v", err)
		case err := <-replica.exited:
			t.Fatalf("replica exited during the soak: %v", err)
		}
	}
	tick.Stop()
	close(stop)
	if err := app.Wait(); err != nil {
		t.Fatalf("append --stdin: %v: %s", err, appErr.String())
	}
	appended := time.Since(start)
	t.Logf("append --stdin: %s", strings.TrimSpace(appOut.String()))

	// The replica must catch up and verify.
	want, err := soakLength(ctx, bin, owner.repo, "soak")
	if err != nil {
		t.Fatal(err)
	}
	caught := time.Now()
	for {
		got, err := soakLength(ctx, bin, replica.repo, key)
		if err == nil && got >= want {
			break
		}
		if time.Since(caught) > 5*time.Minute {
			t.Fatalf("the replica is at %d of %d blocks 5 minutes after the appends stopped", got, want)
		}
		time.Sleep(time.Second)
	}
	lo, lr := sample()
	t.Logf("caught up %.1fs after the appends stopped", time.Since(caught).Seconds())
	vout, err := exec.CommandContext(ctx, bin, "verify", key, "--repo", replica.repo).CombinedOutput()
	if err != nil {
		t.Fatalf("verify on the replica: %v: %s", err, vout)
	}
	o, r := owner.rss(t), replica.rss(t)
	t.Logf("SOAK %d blocks of %d bytes in %.0fs (%.0f blocks/s); owner len %d, replica len %d",
		want, *soakBlockLen, appended.Seconds(), float64(want)/appended.Seconds(), lo, lr)
	t.Logf("SOAK owner   anon %.0f MB (max %.0f), file %.0f MB", mb(o.anon), mb(maxOwnerAnon), mb(o.file))
	t.Logf("SOAK replica anon %.0f MB (max %.0f), file %.0f MB", mb(r.anon), mb(maxReplicaAnon), mb(r.file))
	if limit := int64(*soakMaxAnon) << 20; maxReplicaAnon > limit {
		t.Errorf("the replica's anonymous RSS reached %.0f MB, over the %d MB bound", mb(maxReplicaAnon), *soakMaxAnon)
	}
}
