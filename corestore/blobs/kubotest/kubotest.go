// Package kubotest runs Kubo (the IPFS reference node, go-ipfs) for tests and benchmarks: the
// CID anchor and the interop partner of the blob store. Kubo is found through the environment
// variable DATOMSPACE_KUBO, else at /root/.cache/datomspace/kubo/ipfs (where
// testnet/kubo/build.sh builds it); tests that need it skip when it is absent.
//
// Every repo it makes talks on loopback only: Kubo's test profile (no bootstrap peers, no mDNS,
// no NAT port mapping, no AutoTLS, no AutoConf), Routing.Type none, QUIC, WebTransport and
// WebRTC off (Kubo v0.39's go-libp2p panics in QUIC on Go 1.26), telemetry off, and every
// address on 127.0.0.1 with port 0.
package kubotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DefaultPath is where `make kubo` (testnet/kubo/build.sh) puts the binary.
const DefaultPath = "/root/.cache/datomspace/kubo/ipfs"

// Binary returns the path of the Kubo binary, or "" if there is none: $DATOMSPACE_KUBO, else
// ~/.cache/datomspace/kubo/ipfs (where `make kubo` builds it), else DefaultPath.
func Binary() string {
	var home string
	if h, err := os.UserHomeDir(); err == nil {
		home = filepath.Join(h, ".cache", "datomspace", "kubo", "ipfs")
	}
	for _, p := range []string{os.Getenv("DATOMSPACE_KUBO"), home, DefaultPath} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Require returns the Kubo binary or skips the test.
func Require(t testing.TB) string {
	t.Helper()
	b := Binary()
	if b == "" && os.Getenv("DATOMSPACE_REQUIRE_INTEROP") != "" {
		t.Fatal("Kubo not found, and DATOMSPACE_REQUIRE_INTEROP is set: build it with `make kubo` (testnet/kubo/build.sh) or set DATOMSPACE_KUBO")
	}
	if b == "" {
		t.Skip("Kubo not found: build it with `make kubo` (testnet/kubo/build.sh) or set DATOMSPACE_KUBO to an ipfs binary")
	}
	return b
}

// Node is a Kubo repo and, after Start, its daemon.
type Node struct {
	t      testing.TB
	Bin    string
	Repo   string
	daemon *exec.Cmd
	exited chan struct{}
	logs   *bytes.Buffer
}

// NewRepo initialises a loopback-only Kubo repo in a temporary directory.
func NewRepo(t testing.TB, bin string) *Node {
	t.Helper()
	n := &Node{t: t, Bin: bin, Repo: filepath.Join(t.TempDir(), "kubo")}
	n.MustRun("init", "--profile", "test")
	for _, kv := range [][2]string{
		{"Bootstrap", `[]`},
		{"Routing.Type", `"none"`},
		{"AutoConf.Enabled", "false"},
		{"AutoTLS.Enabled", "false"},
		{"Discovery.MDNS.Enabled", "false"},
		{"Swarm.Transports.Network.QUIC", "false"},
		{"Swarm.Transports.Network.WebTransport", "false"},
		{"Swarm.Transports.Network.WebRTCDirect", "false"},
		{"Addresses.Swarm", `["/ip4/127.0.0.1/tcp/0"]`},
		{"Addresses.API", `"/ip4/127.0.0.1/tcp/0"`},
		{"Addresses.Gateway", `"/ip4/127.0.0.1/tcp/0"`},
		{"Swarm.RelayClient.Enabled", "false"},
		{"Swarm.RelayService.Enabled", "false"},
	} {
		n.MustRun("config", "--json", kv[0], kv[1])
	}
	return n
}

func (n *Node) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, n.Bin, args...)
	c.Env = append(os.Environ(), "IPFS_PATH="+n.Repo, "IPFS_TELEMETRY=off", "GOLOG_LOG_LEVEL=error")
	return c
}

// Run runs `ipfs args...` on the repo (through the daemon's API when it runs) and returns its
// standard output.
func (n *Node) Run(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := n.cmd(ctx, args...)
	c.Stdin = stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("ipfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// RunCPU runs `ipfs args...` and returns its standard output and the CPU time (user and
// system) the process used.
func (n *Node) RunCPU(args ...string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := n.cmd(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), 0, fmt.Errorf("ipfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), c.ProcessState.UserTime() + c.ProcessState.SystemTime(), nil
}

// MustRun is Run without input, failing the test on error.
func (n *Node) MustRun(args ...string) string {
	n.t.Helper()
	out, err := n.Run(nil, args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// RunTo runs `ipfs args...` with its standard output going to w.
func (n *Node) RunTo(w io.Writer, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := n.cmd(ctx, args...)
	var errb bytes.Buffer
	c.Stdout, c.Stderr = w, &errb
	if err := c.Run(); err != nil {
		return fmt.Errorf("ipfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// AddOnlyHash returns Kubo's `ipfs add --only-hash --cid-version=1` CID of r.
func (n *Node) AddOnlyHash(r io.Reader) (string, error) {
	out, err := n.Run(r, "add", "--only-hash", "--cid-version=1", "-Q")
	return strings.TrimSpace(out), err
}

// Start starts the daemon and waits until its API answers. The daemon stops at the end of the
// test.
func (n *Node) Start() {
	n.t.Helper()
	c := n.cmd(context.Background(), "daemon", "--enable-gc=false")
	n.logs = &bytes.Buffer{}
	c.Stderr = n.logs
	out, err := c.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.daemon = c
	n.exited = make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Daemon is ready") {
				close(ready)
				signalled = true
			}
		}
		c.Wait()
		close(n.exited)
	}()
	n.t.Cleanup(n.Stop)
	select {
	case <-ready:
	case <-n.exited:
		n.t.Fatalf("kubo daemon exited: %s", n.logs.String())
	case <-time.After(2 * time.Minute):
		n.t.Fatalf("kubo daemon not ready after 2 minutes: %s", n.logs.String())
	}
}

// Stop stops the daemon (by its own process, never by name) and waits for it.
func (n *Node) Stop() {
	if n.daemon == nil {
		return
	}
	n.daemon.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.daemon.Process.Kill()
		<-n.exited
	}
	n.daemon = nil
}

// Pid returns the daemon's process id.
func (n *Node) Pid() int { return n.daemon.Process.Pid }

// Identity returns the daemon's peer ID and its loopback TCP swarm addresses (without /p2p/).
func (n *Node) Identity() (string, []string) {
	n.t.Helper()
	var id struct {
		ID        string
		Addresses []string
	}
	if err := json.Unmarshal([]byte(n.MustRun("id")), &id); err != nil {
		n.t.Fatal(err)
	}
	var addrs []string
	for _, a := range id.Addresses {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			addrs = append(addrs, strings.TrimSuffix(a, "/p2p/"+id.ID))
		}
	}
	if len(addrs) == 0 {
		n.t.Fatal(errors.New("kubo daemon has no loopback TCP address"))
	}
	return id.ID, addrs
}

// CPUTime returns the CPU time (user and system) the daemon has used so far, from
// /proc/PID/stat (Linux).
func (n *Node) CPUTime() time.Duration {
	n.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.Pid()))
	if err != nil {
		n.t.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from its end.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		n.t.Fatalf("short /proc stat: %q", s)
	}
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100
