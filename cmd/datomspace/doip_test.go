package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// doipStatus is what `serve --json` says of its DOIP service.
type doipStatus struct {
	Prefix     string `json:"prefix"`
	ServiceID  string `json:"serviceId"`
	Repository string `json:"repository"`
	TLS        string `json:"tls"`
	TCP21      string `json:"tcp21"`
}

// servedNode is a `serve --json` process and what it printed.
type servedNode struct {
	cmd *exec.Cmd
	serveStatus
}

// serveDOIP runs `datomspace serve --json` with args on repo.
func serveDOIP(t *testing.T, repo string, args ...string) *servedNode {
	t.Helper()
	cmd, st := startServeJSON(t, repo, args...)
	return &servedNode{cmd, st}
}

// stop ends the node as Ctrl-C would and waits for it.
func (n *servedNode) stop(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGINT)
	ch := make(chan struct{})
	go func() { n.cmd.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		t.Fatal("serve did not stop on SIGINT")
	}
}

func okDS(t *testing.T, repo string, args ...string) string {
	t.Helper()
	r := ds(t, repo, "", args...)
	if r.code != 0 {
		t.Fatalf("datomspace %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// eventually retries f until it returns true, for at most d.
func eventually(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestCLIDOIPEndToEnd runs DOIP as users would, with real processes: a repository and a
// registry on two nodes; the repository joins the registry; a client creates objects with
// elements on the repository; Search on the registry finds them; Retrieve over TLS and over
// the libp2p tunnel returns the same bytes; a third node that `get --follow`s the repository
// core answers Retrieve with the owner offline; Quit stops the forwarding; `doip resolve` finds
// the repository's prefix through the bootstrap peer's DHT; DOIP 2.1 gives the same objects.
func TestCLIDOIPEndToEnd(t *testing.T) {
	dir := t.TempDir()
	regRepo, repoRepo, repRepo, client := newRepo(t, "registry"), newRepo(t, "repository"), newRepo(t, "replica"), newRepo(t, "client")
	reg := serveDOIP(t, regRepo, "--doip", "127.0.0.1:0", "--doip-prefix", "registry", "--doip-allow-join", "*")
	boot := reg.Addrs[0]
	repo := serveDOIP(t, repoRepo, "--doip", "127.0.0.1:0", "--doip21", "127.0.0.1:0", "--doip-prefix", "20.500.123", "--bootstrap", boot,
		"--doip-allow-create", "alice")
	if repo.DOIP.Prefix != "20.500.123" || repo.DOIP.ServiceID != "20.500.123/service" || repo.DOIP.TLS == "" || repo.DOIP.TCP21 == "" {
		t.Fatalf("serve's DOIP: %+v", repo.DOIP)
	}
	// The prefix is saved in the repo's config.
	if cfg, _ := os.ReadFile(filepath.Join(repoRepo, "config.json")); !strings.Contains(string(cfg), `"prefix": "20.500.123"`) {
		t.Fatalf("config: %s", cfg)
	}

	// The repository's owner creates two objects, one with a 3 MiB element, through its daemon.
	big := filepath.Join(dir, "scan.bin")
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	hello := filepath.Join(dir, "hello.txt")
	os.WriteFile(hello, []byte("Hello World\n"), 0o600)
	id1 := strings.TrimSpace(okDS(t, repoRepo, "doip", "create", "--type", "Document", "--attributes", `{"name":"Hello World","topic":"federation"}`, "--file", hello))
	id2 := strings.TrimSpace(okDS(t, repoRepo, "doip", "create", "--type", "Scan", "--attributes", `{"name":"A scan","topic":"federation"}`, "--file", "scan="+big))
	for _, id := range []string{id1, id2} {
		if !strings.HasPrefix(id, "20.500.123/") {
			t.Fatalf("created id %q", id)
		}
	}
	// A client without rights may read but not write.
	if r := ds(t, client, "", "doip", "delete", id1, "--peer", repo.DOIP.TLS); r.code != 1 || !strings.Contains(r.stderr, "not authorized") {
		t.Fatalf("anonymous delete: %+v", r)
	}

	// A user the owner adds creates objects with a password; a wrong one is refused.
	if r := ds(t, repoRepo, "s3cret\n", "doip", "user", "add", "alice"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	if out := okDS(t, repoRepo, "doip", "user", "ls"); out != "alice\n" {
		t.Fatalf("user ls: %q", out)
	}
	byAlice := strings.TrimSpace(okDS(t, client, "doip", "create", "--peer", repo.DOIP.TLS, "--user", "alice", "--password", "s3cret", "--attributes", `{"name":"by alice"}`))
	if out := okDS(t, client, "doip", "retrieve", byAlice, "--peer", repo.DOIP.TLS, "--json"); !strings.Contains(out, `"createdBy":"alice"`) {
		t.Fatalf("alice's object: %s", out)
	}
	if r := ds(t, client, "", "doip", "create", "--peer", repo.DOIP.TLS, "--user", "alice", "--password", "wrong"); r.code != 1 || !strings.Contains(r.stderr, "wrong username or password") {
		t.Fatalf("wrong password: %+v", r)
	}

	// The repository joins the registry; the registry's search finds both objects.
	if out := okDS(t, repoRepo, "doip", "join", "--peer", reg.DOIP.TLS); !strings.Contains(out, "joined") {
		t.Fatalf("join: %s", out)
	}
	out := okDS(t, client, "doip", "search", "federation", "--peer", reg.DOIP.TLS, "--ids", "--json")
	var found struct {
		Size    int      `json:"size"`
		Results []string `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &found); err != nil || found.Size != 2 || !strings.HasPrefix(out, `{"size":2,`) {
		t.Fatalf("registry search: %s %v", out, err)
	}
	if out := okDS(t, client, "doip", "search", "+type:Scan +name:scan", "--peer", reg.DOIP.TLS); !strings.Contains(out, id2) || strings.Contains(out, id1) {
		t.Fatalf("registry search for the scan: %s", out)
	}

	// Retrieve over TLS and through the tunnel (the client runs no daemon: a short-lived node)
	// gives the same bytes.
	want := sha256File(t, big)
	tlsOut, tunOut := filepath.Join(dir, "tls.bin"), filepath.Join(dir, "tunnel.bin")
	okDS(t, client, "doip", "retrieve", id2, "--element", "scan", "--out", tlsOut, "--peer", repo.DOIP.TLS, "--pin", repo.PeerID)
	okDS(t, client, "doip", "retrieve", id2, "--element", "scan", "--out", tunOut, "--peer", repo.Addrs[0])
	if sha256File(t, tlsOut) != want || sha256File(t, tunOut) != want {
		t.Fatal("the element's bytes differ over TLS or the tunnel")
	}
	// A wrong pin is refused.
	if r := ds(t, client, "", "doip", "hello", "--peer", repo.DOIP.TLS, "--pin", reg.PeerID); r.code != 1 || !strings.Contains(r.stderr, "pinned") {
		t.Fatalf("wrong pin: %+v", r)
	}

	// DOIP 2.1: Hello, Retrieve and Search give the same objects; the owner creates through it.
	if out := okDS(t, client, "doip", "hello", "--peer", repo.DOIP.TCP21); !strings.Contains(out, "20.500.123/service") || !strings.Contains(out, "DOIP 2.1") {
		t.Fatalf("2.1 hello: %s", out)
	}
	out21 := filepath.Join(dir, "21.bin")
	okDS(t, client, "doip", "retrieve", id2, "--element", "scan", "--out", out21, "--peer", repo.DOIP.TCP21)
	if sha256File(t, out21) != want {
		t.Fatal("the element's bytes differ over DOIP 2.1")
	}
	var o20, o21 map[string]any
	json.Unmarshal([]byte(okDS(t, client, "doip", "retrieve", id1, "--json", "--peer", repo.DOIP.TLS)), &o20)
	json.Unmarshal([]byte(okDS(t, client, "doip", "retrieve", id1, "--json", "--peer", repo.DOIP.TCP21)), &o21)
	if o20["object"] == nil || !jsonEqual(o20["object"], o21["object"]) {
		t.Fatalf("2.0 and 2.1 retrieve differ:\n%v\n%v", o20, o21)
	}
	if out := okDS(t, client, "doip", "search", "hello", "--peer", repo.DOIP.TCP21, "--ids"); !strings.Contains(out, id1) {
		t.Fatalf("2.1 search: %s", out)
	}
	id3 := strings.TrimSpace(okDS(t, repoRepo, "doip", "create", "--peer", repo.DOIP.TCP21, "--attributes", `{"name":"over 2.1"}`, "--file", hello))
	if out := okDS(t, client, "doip", "retrieve", id3, "--element", "hello.txt", "--peer", repo.DOIP.TLS); out != "Hello World\n" {
		t.Fatalf("an object created over 2.1, retrieved over TLS: %q", out)
	}

	// A third node follows the repository core and serves it read-only, bytes included.
	replica := serveDOIP(t, repRepo, "--doip", "127.0.0.1:0", "--doip-prefix", "replica", "--bootstrap", boot)
	okDS(t, repRepo, "get", repo.DOIP.Repository, "--follow", "--peer", repo.Addrs[0], "--out", filepath.Join(dir, "blocks"))
	repOut := filepath.Join(dir, "replica.bin")
	eventually(t, "the replica to serve the scan's bytes", 2*time.Minute, func() bool {
		r := ds(t, client, "", "doip", "retrieve", id2, "--element", "scan", "--out", repOut, "--peer", replica.DOIP.TLS)
		return r.code == 0
	})

	// Quit stops the forwarding.
	okDS(t, repoRepo, "doip", "quit", "--peer", reg.DOIP.TLS)
	if out := okDS(t, client, "doip", "search", "federation", "--peer", reg.DOIP.TLS, "--json", "--ids"); !strings.HasPrefix(out, `{"size":0,`) {
		t.Fatalf("registry search after quit: %s", out)
	}

	// The owner goes offline; the replica answers, over TLS and through the tunnel.
	repo.stop(t)
	if r := ds(t, client, "", "doip", "hello", "--peer", repo.DOIP.TLS); r.code != 1 {
		t.Fatalf("the owner still answers: %+v", r)
	}
	repTun := filepath.Join(dir, "replica-tunnel.bin")
	okDS(t, client, "doip", "retrieve", id2, "--element", "scan", "--out", repOut, "--peer", replica.DOIP.TLS)
	okDS(t, client, "doip", "retrieve", id2, "--element", "scan", "--out", repTun, "--peer", replica.Addrs[0])
	if sha256File(t, repOut) != want || sha256File(t, repTun) != want {
		t.Fatal("the replica's bytes differ")
	}
	if out := okDS(t, client, "doip", "retrieve", id1, "--peer", replica.DOIP.TLS); !strings.Contains(out, "Hello World") {
		t.Fatalf("replica retrieve: %s", out)
	}
	if out := okDS(t, client, "doip", "search", "federation", "--peer", replica.DOIP.TLS, "--service", "20.500.123/service", "--ids"); !strings.Contains(out, "2 results") {
		t.Fatalf("replica search: %s", out)
	}
	if r := ds(t, repRepo, "", "doip", "delete", id1, "--peer", replica.DOIP.TLS); r.code != 1 || !strings.Contains(r.stderr, "read-only replica") {
		t.Fatalf("delete on the replica: %+v", r)
	}

	// resolve finds the replica by the prefix alone, through the bootstrap peer's DHT.
	var res struct {
		Prefix   string `json:"prefix"`
		Services []struct {
			Peer    string          `json:"peer"`
			Service json.RawMessage `json:"service"`
			Error   string          `json:"error"`
		} `json:"services"`
	}
	eventually(t, "resolve to find the replica", time.Minute, func() bool {
		r := ds(t, client, "", "doip", "resolve", id2, "--bootstrap", boot, "--json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
			return false
		}
		for _, s := range res.Services {
			if s.Peer == replica.PeerID && s.Error == "" && strings.Contains(string(s.Service), `"prefix":"20.500.123"`) {
				return true
			}
		}
		return false
	})
	if out := okDS(t, client, "doip", "resolve", "20.500.123", "--bootstrap", boot); !strings.Contains(out, "prefix 20.500.123") || !strings.Contains(out, replica.PeerID) {
		t.Fatalf("resolve: %s", out)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestCLIDOIPBadInput: bad usage exits 2 with the usage line; errors exit 1 with one line that
// says what went wrong.
func TestCLIDOIPBadInput(t *testing.T) {
	repo := newRepo(t, "repo")
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no subcommand", []string{"doip"}, 2, "needs a subcommand"},
		{"unknown subcommand", []string{"doip", "frob"}, 2, "unknown doip subcommand"},
		{"retrieve without id", []string{"doip", "retrieve"}, 2, "one object ID"},
		{"element and full", []string{"doip", "retrieve", "a/b", "--element", "e", "--full", "--out", "x"}, 2, "do not go together"},
		{"element as json", []string{"doip", "retrieve", "a/b", "--element", "e", "--json"}, 2, "--out"},
		{"attributes not an object", []string{"doip", "create", "--attributes", "[1]"}, 2, "JSON object"},
		{"missing file", []string{"doip", "create", "--file", "/nonexistent/x"}, 1, "no such file"},
		{"join without a registry", []string{"doip", "join"}, 2, "--peer"},
		{"password without user", []string{"doip", "hello", "--password", "p"}, 2, "--user"},
		{"bad prefix", []string{"serve", "--doip-prefix", "a/b"}, 2, "slashes"},
		{"allow without doip", []string{"serve", "--doip-allow-join", "*"}, 2, "need DOIP"},
		{"resolve without id", []string{"doip", "resolve"}, 2, "one ID"},
		{"negative ttl", []string{"doip", "token", "--ttl", "-1s"}, 2, "positive"},
		{"bad url", []string{"doip", "hello", "--peer", "http://example.org"}, 1, "not a DOIP URL"},
		{"no such object", []string{"doip", "retrieve", "a/b"}, 1, "not found"},
		{"bad query", []string{"doip", "search", "a AND ("}, 1, "position"},
		{"update of nothing", []string{"doip", "update", "a/b"}, 2, "needs --type"},
		{"nobody serves it", []string{"doip", "resolve", "nobody/x", "--timeout", "1s"}, 1, "no peer serving the DOIP prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ds(t, repo, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", r.code, tc.code, r.stderr, tc.says)
			}
			if tc.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("error is not one line: %q", r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("panicked: %s", r.stderr)
			}
		})
	}
	if r := ds(t, repo, "", "doip", "--help"); r.code != 0 || !strings.Contains(r.stdout, "resolve ID") || !strings.Contains(r.stdout, "doip21://") {
		t.Fatalf("doip --help: %+v", r)
	}
	if r := ds(t, repo, "", "help"); !strings.Contains(r.stdout, "doip") {
		t.Fatalf("help does not list doip: %s", r.stdout)
	}
}
