package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newRepo inits a repo in a fresh directory.
func newRepo(t *testing.T, name string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), name)
	if r := ds(t, repo, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	return repo
}

// coreWith creates core name in repo with blocks and returns its key.
func coreWith(t *testing.T, repo, name string, blocks ...string) string {
	t.Helper()
	key := strings.TrimSpace(ds(t, repo, "", "create", name).stdout)
	if len(blocks) > 0 {
		if r := ds(t, repo, "", append([]string{"append", name}, blocks...)...); r.code != 0 {
			t.Fatalf("append: %+v", r)
		}
	}
	return key
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs the CLI in the background; wait returns its result.
func start(t *testing.T, repo string, args ...string) (cmd *exec.Cmd, wait func() result) {
	t.Helper()
	cmd = exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "DATOMSPACE_PATH="+repo)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, func() result {
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{out.String(), errb.String(), code}
	}
}

// TestGetWaitsForTheOwner (14.1): --timeout means keep looking and waiting: a get started before
// the owner comes up finds it through the DHT once it does; a negative timeout is bad usage; and a
// get that gives up says what it tried.
func TestGetWaitsForTheOwner(t *testing.T) {
	boot := newRepo(t, "boot")
	_, bootAddrs := startServe(t, boot)
	alice := newRepo(t, "alice")
	key := coreWith(t, alice, "contacts", "Alice <alice@example.org>", "Bob <bob@example.org>")
	bob := newRepo(t, "bob")
	t0 := time.Now()
	_, wait := start(t, bob, "get", key, "--bootstrap", bootAddrs[0], "--timeout", "25s")
	time.Sleep(3 * time.Second)
	startServe(t, alice, "--bootstrap", bootAddrs[0])
	r := wait()
	if r.code != 0 || r.stdout != "Alice <alice@example.org>\nBob <bob@example.org>\n" {
		t.Fatalf("get before the owner came up: %+v after %s", r, time.Since(t0))
	}
	if r := ds(t, bob, "", "get", key, "--timeout", "-1s"); r.code != 2 || !strings.Contains(r.stderr, "--timeout") {
		t.Fatalf("negative timeout: %+v", r)
	}
	r = ds(t, newRepo(t, "carol"), "", "get", strings.Repeat("ab", 32), "--bootstrap", bootAddrs[0], "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.stderr, "within 2s") || !strings.Contains(r.stderr, "DHT lookup") {
		t.Fatalf("get that gives up: %+v", r)
	}
}

// TestGetRanges (14.2, 14.4, 14.7): a range past the end fails at once with the core's length
// unless --live, which waits for the blocks; an empty core says so; a daemon honours --peer; the
// message after --out names the blocks written.
func TestGetRanges(t *testing.T) {
	alice := newRepo(t, "alice")
	key := coreWith(t, alice, "notes", "a", "b", "c")
	empty := coreWith(t, alice, "empty")
	_, addrs := startServe(t, alice)
	bob := newRepo(t, "bob")
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"end past the length", []string{"get", key, "--end", "10"}, 1, "has length 3"},
		{"start past the length", []string{"get", key, "--start", "10"}, 1, "length 3"},
		{"empty core", []string{"get", empty}, 0, "is empty"},
	}
	for _, tc := range cases {
		t0 := time.Now()
		r := ds(t, bob, "", append(tc.args, "--peer", addrs[0])...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || time.Since(t0) > 15*time.Second {
			t.Errorf("%s: %+v after %s", tc.name, r, time.Since(t0))
		}
	}
	// --live waits for blocks past the end, and stops at --end.
	_, wait := start(t, bob, "get", key, "--live", "--end", "5", "--peer", addrs[0])
	time.Sleep(2 * time.Second)
	ds(t, alice, "", "append", "notes", "d", "e", "f")
	if r := wait(); r.code != 0 || r.stdout != "a\nb\nc\nd\ne\n" {
		t.Fatalf("live range: %+v", r)
	}
	// With a daemon on Bob's repo, --peer is used by the daemon, and --out says what it wrote.
	startServe(t, bob)
	out := filepath.Join(t.TempDir(), "out.txt")
	r := ds(t, bob, "", "get", key, "--end", "2", "--out", out, "--peer", addrs[0])
	if r.code != 0 || !strings.Contains(r.stderr, "wrote blocks 0..1 (2 blocks)") {
		t.Fatalf("get --out through a daemon: %+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "a\nb\n" {
		t.Fatalf("out file %q", b)
	}
	// Bob's own copy of Alice's core is not his own; his own core is, and get says so.
	mine := coreWith(t, bob, "mine", "x")
	if r := ds(t, bob, "", "get", mine); r.code != 0 || r.stdout != "x\n" || !strings.Contains(r.stderr, "local copy") {
		t.Fatalf("get of one's own core: %+v", r)
	}
}

// TestGetLeavesNothingBehind (14.5, 14.9): a get that finds no peer, or is interrupted, leaves no
// replica and no --out file; a rejected transaction leaves no core; rm deletes a replica.
func TestGetLeavesNothingBehind(t *testing.T) {
	bob := newRepo(t, "bob")
	unknown := strings.Repeat("cd", 32)
	if r := ds(t, bob, "", "get", unknown, "--timeout", "1s"); r.code != 1 {
		t.Fatalf("get of an unknown key: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd, wait := start(t, bob, "get", unknown, "--timeout", "30s", "--out", out)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	r := wait()
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted") || strings.Contains(r.stderr, "[0, 0)") {
		t.Fatalf("interrupted get: %+v", r)
	}
	for _, p := range []string{out, out + ".partial"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
	if r := ds(t, bob, "", "transact", "db", "--file", "-"); r.code != 2 {
		t.Logf("transact without input: %+v", r)
	}
	if r := ds(t, bob, `[{"e":"x","a":"a/b","v":1},{"e":"x"}]`, "transact", "db", "--file", "-"); r.code != 1 {
		t.Fatalf("a rejected transaction: %+v", r)
	}
	if r := ds(t, bob, "", "cores", "--json"); r.stdout != "" {
		t.Fatalf("debris after failures: %q", r.stdout)
	}
	// rm: a replica goes; one's own core with blocks stays; without a terminal rm wants --yes.
	alice := newRepo(t, "alice")
	key := coreWith(t, alice, "notes", "a", "b", "c")
	_, addrs := startServe(t, alice)
	if r := ds(t, bob, "", "get", key, "--peer", addrs[0]); r.code != 0 {
		t.Fatalf("get: %+v", r)
	}
	if r := ds(t, bob, "", "rm", key); r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("rm without --yes: %+v", r)
	}
	if r := ds(t, bob, "", "rm", key, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("rm --yes: %+v", r)
	}
	if r := ds(t, bob, "", "info", key); r.code != 1 {
		t.Fatalf("info after rm: %+v", r)
	}
	if r := ds(t, alice, "", "rm", "notes", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "your own") {
		t.Fatalf("rm of one's own core: %+v", r)
	}
}

// TestSparseVerify (14.8): verify on a sparse replica says how many blocks are held and verified
// and how many are missing; cores shows the held count.
func TestSparseVerify(t *testing.T) {
	alice := newRepo(t, "alice")
	key := coreWith(t, alice, "notes", "a", "b", "c", "d", "e")
	_, addrs := startServe(t, alice)
	bob := newRepo(t, "bob")
	if r := ds(t, bob, "", "get", key, "--start", "1", "--end", "3", "--peer", addrs[0]); r.code != 0 || r.stdout != "b\nc\n" {
		t.Fatalf("sparse get: %+v", r)
	}
	r := ds(t, bob, "", "verify", key)
	if r.code != 0 || !strings.Contains(r.stdout, "the 2 blocks held here") || !strings.Contains(r.stdout, "3 blocks are not held here") {
		t.Fatalf("verify of a sparse replica: %+v", r)
	}
	if r := ds(t, bob, "", "cores"); !strings.Contains(r.stdout, "HELD") || !regexpLine(r.stdout, key, "5", "2") {
		t.Fatalf("cores: %s", r.stdout)
	}
}

// regexpLine reports whether some line of s holds every field, in order.
func regexpLine(s string, fields ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		i := 0
		for _, x := range f {
			if i < len(fields) && x == fields[i] {
				i++
			}
		}
		if i == len(fields) {
			return true
		}
	}
	return false
}

// TestSecondServeOnTakenPort (14.3): a listen address another serve holds is an error.
func TestSecondServeOnTakenPort(t *testing.T) {
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	startServe(t, newRepo(t, "a"), "--listen", addr)
	r := ds(t, newRepo(t, "b"), "", "serve", "--listen", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("second serve on a taken port: %+v", r)
	}
}

// TestHelpAndUsage (14.13, 14.12): help for every command, exit codes, typos, --repo first.
func TestHelpAndUsage(t *testing.T) {
	repo := newRepo(t, "r")
	for _, c := range commands() {
		r := ds(t, repo, "", c.name, "--help")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: datomspace "+c.name) || !strings.Contains(r.stdout, c.summary) {
			t.Errorf("%s --help: %+v", c.name, r)
		}
		if regexp.MustCompile(`\n  -[a-z]`).MatchString(r.stdout) {
			t.Errorf("%s --help shows a flag with one dash: %s", c.name, r.stdout)
		}
	}
	if r := ds(t, repo, "", "help", "get"); r.code != 0 || !strings.Contains(r.stdout, "--timeout DURATION") {
		t.Errorf("help get: %+v", r)
	}
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"craete", "x"}, 2, "did you mean `create`"},
		{[]string{"info", "x", "--bogus"}, 2, "--bogus"},
		{[]string{"get", strings.Repeat("ab", 32), "--timeout", "soon"}, 2, "--timeout"},
		{[]string{"get", strings.Repeat("a", 63)}, 1, "not a valid key"},
		{[]string{"--repo", repo, "cores"}, 0, ""},
		{[]string{"version"}, 0, ""},
	}
	for _, tc := range cases {
		r := ds(t, repo, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%v: %+v", tc.args, r)
		}
		if tc.code == 2 && strings.Count(r.stderr, "\n") > 2 {
			t.Errorf("%v: a usage error of more than two lines: %q", tc.args, r.stderr)
		}
	}
	if r := ds(t, "/nonexistent", "", "--repo", repo, "cores"); r.code != 0 {
		t.Errorf("--repo before the command: %+v", r)
	}
	// create "" says the same with a daemon and without.
	direct := ds(t, repo, "", "create", "")
	startServe(t, repo)
	daemon := ds(t, repo, "", "create", "")
	if direct.code != 1 || direct.stderr != daemon.stderr {
		t.Errorf("create \"\": %q without a daemon, %q with one", direct.stderr, daemon.stderr)
	}
}

// TestWording (14.14): singular counts, JSON that keeps < and >, and query --json one row a line.
func TestWording(t *testing.T) {
	repo := newRepo(t, "r")
	coreWith(t, repo, "c")
	if r := ds(t, repo, "", "append", "c", "Alice <alice@example.org>"); !strings.Contains(r.stdout, "appended 1 block,") {
		t.Errorf("append of one block: %q", r.stdout)
	}
	if r := ds(t, repo, "", "cat", "c", "--json"); !strings.Contains(r.stdout, "<alice@example.org>") {
		t.Errorf("cat --json escapes: %q", r.stdout)
	}
	ds(t, repo, "", "transact", "db", "--file", "testdata/contacts-tx.json")
	r := ds(t, repo, "", "query", "db", `{"find":["?e","?name"],"where":[["?e","contact/name","?name"]]}`, "--json")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 || !strings.Contains(lines[0], `"?name":`) {
		t.Errorf("query --json: %+v", r)
	}
}

// TestAppendStdinSaysWhatItAppended (13.3): an append --stdin that fails part way says how many
// lines were appended before the failure, and where to resume.
func TestAppendStdinSaysWhatItAppended(t *testing.T) {
	repo := newRepo(t, "r")
	coreWith(t, repo, "c")
	in := strings.Repeat("61\n", 1500) + "zz\n" + "62\n"
	r := ds(t, repo, in, "append", "c", "--stdin", "--hex")
	if r.code != 1 || !strings.Contains(r.stderr, "line 1501") || !strings.Contains(r.stderr, "the first 1000 lines were appended (length 1000)") ||
		!strings.Contains(r.stderr, "from line 1001 on") {
		t.Fatalf("partial append: %+v", r)
	}
	if r := ds(t, repo, "zz\n", "append", "c", "--stdin", "--hex"); !strings.Contains(r.stderr, "nothing was appended") {
		t.Fatalf("failed append of nothing: %+v", r)
	}
}
