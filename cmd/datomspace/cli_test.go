package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var binPath string

// TestMain builds the real binary once; the tests run it as a user would, as separate processes.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "datomspace-cli-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "datomspace")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func ds(t *testing.T, repo string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "DATOMSPACE_PATH="+repo)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestCLIWorkflow(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	pk := "0101010101010101010101010101010101010101010101010101010101010101"
	r := ds(t, repo, "", "init", "--primary-key", pk)
	if r.code != 0 || !strings.Contains(r.stderr, "warning") {
		t.Fatalf("init: %+v", r)
	}
	// The vector "abc": primary key 01..01, name "notes", blocks a b c.
	r = ds(t, repo, "", "create", "notes")
	key := strings.TrimSpace(r.stdout)
	if r.code != 0 || key != "c7e301a9282f31f7804b06af440a97868b31e6647ed7514a9d44a9b83b14e64d" {
		t.Fatalf("create: %+v", r)
	}
	if r = ds(t, repo, "", "append", "notes", "--hex", "61", "62"); r.code != 0 {
		t.Fatalf("append: %+v", r)
	}
	if r = ds(t, repo, "c\n", "append", key, "--stdin"); r.code != 0 {
		t.Fatalf("append --stdin: %+v", r)
	}
	r = ds(t, repo, "", "info", "notes", "--json")
	var info map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("info --json: %v: %q", err, r.stdout)
	}
	want := map[string]any{
		"key":          key,
		"discoveryKey": "d480ffd5d2eab0078da8724f4ec9f0fc79de36640f8a47ec45212125ab90adc8",
		"length":       3.0,
		"byteLength":   3.0,
		"fork":         0.0,
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("info %s = %v, want %v", k, info[k], v)
		}
	}
	for _, k := range []string{"treeHash", "signature"} {
		if s, _ := info[k].(string); len(s) == 0 {
			t.Errorf("info has no %s", k)
		}
	}
	r = ds(t, repo, "", "cat", "notes", "--start", "1")
	if r.stdout != "b\nc\n" {
		t.Fatalf("cat: %q", r.stdout)
	}
	r = ds(t, repo, "", "cat", "notes", "--json", "--end", "1")
	if !strings.Contains(r.stdout, `"text":"a"`) {
		t.Fatalf("cat --json: %q", r.stdout)
	}
	r = ds(t, repo, "", "cores", "--json")
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, key) {
		t.Fatalf("cores --json: %q", r.stdout)
	}
	if r = ds(t, repo, "", "verify", "notes"); r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}
}

// TestCLIBadInput: a malformed argument gets one clear line and exit 1; bad usage exit 2.
func TestCLIBadInput(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	if r := ds(t, repo, "", "info", "x"); r.code != 1 || !strings.Contains(r.stderr, "datomspace init") {
		t.Fatalf("no repo: %+v", r)
	}
	ds(t, repo, "", "init")
	ds(t, repo, "", "create", "c")
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"unknown core", []string{"info", "nope"}, 1, "datomspace create nope"},
		{"bad key", []string{"info", strings.Repeat("a", 63)}, 1, "not a valid key"},
		{"unknown key", []string{"cat", strings.Repeat("ab", 32)}, 1, "not found"},
		{"bad hex", []string{"append", "c", "--hex", "zz"}, 1, "not hex"},
		{"bad index", []string{"cat", "c", "--start", "-3"}, 2, "--start"},
		{"end past length", []string{"cat", "c", "--end", "5"}, 1, "past the core's length"},
		{"init twice", []string{"init"}, 1, "already exists"},
		{"bad primary key", []string{"init", "--repo", filepath.Join(t.TempDir(), "r2"), "--primary-key", "xyz"}, 1, "64 hex"},
		{"no blocks", []string{"append", "c"}, 2, "usage"},
		{"unknown flag", []string{"info", "c", "--bogus"}, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
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
}

// TestCLILockedRepo: while one process holds the repo, another says so at once instead of
// hanging or corrupting anything.
func TestCLILockedRepo(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	key := strings.TrimSpace(ds(t, repo, "", "create", "c").stdout)
	ds(t, repo, "", "append", "c", "first")
	// Without a daemon, a live get runs a node on the repo and holds it while it follows.
	holder := exec.Command(binPath, "get", key, "--live")
	holder.Env = append(os.Environ(), "DATOMSPACE_PATH="+repo)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	first := make([]byte, 6)
	if _, err := io.ReadFull(out, first); err != nil || string(first) != "first\n" {
		t.Fatalf("holder printed %q, %v", first, err)
	}
	t0 := time.Now()
	r := ds(t, repo, "", "info", "c")
	if r.code != 1 || !strings.Contains(r.stderr, "in use by another process") {
		t.Fatalf("locked repo: %+v", r)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("the second process hung")
	}
	holder.Process.Kill()
	holder.Wait()
	if r := ds(t, repo, "", "cat", "c"); r.stdout != "first\n" {
		t.Fatalf("after unlock: %+v", r)
	}
}

// startServe runs `datomspace serve` on repo and waits until it printed its addresses.
func startServe(t *testing.T, repo string, args ...string) (*exec.Cmd, []string) {
	t.Helper()
	cmd, st := startServeJSON(t, repo, args...)
	return cmd, st.Addrs
}

// serveStatus is what `serve --json` prints first.
type serveStatus struct {
	Addrs []string `json:"addrs"`
	API   []string `json:"api"`
}

// startServeJSON runs `datomspace serve --json` on repo and returns what it printed first.
func startServeJSON(t *testing.T, repo string, args ...string) (*exec.Cmd, serveStatus) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "DATOMSPACE_PATH="+repo)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 64<<10)
		n, _ := out.Read(b)
		line <- string(b[:n])
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		var v serveStatus
		if err := json.Unmarshal([]byte(l), &v); err != nil || len(v.Addrs) == 0 {
			t.Fatalf("serve printed %q (stderr %q)", l, errb.String())
		}
		return cmd, v
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start: %s", errb.String())
	}
	return nil, serveStatus{}
}

// TestCLINetworkBadInput: each gets one clear line and exit code 1.
func TestCLINetworkBadInput(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	key := strings.TrimSpace(ds(t, repo, "", "create", "c").stdout)
	// A bootstrap peer that is gone.
	other := filepath.Join(t.TempDir(), "other")
	ds(t, other, "", "init")
	cmd, addrs := startServe(t, other)
	cmd.Process.Kill()
	cmd.Wait()
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"bad key", []string{"get", "not-a-key"}, "64 hex characters"},
		{"bootstrap without peer id", []string{"get", key, "--ephemeral", "--bootstrap", "/ip4/127.0.0.1/tcp/1"}, "/p2p/"},
		{"unreachable bootstrap", []string{"get", strings.Repeat("ab", 32), "--ephemeral", "--timeout", "3s", "--bootstrap", addrs[0]}, "no bootstrap peer could be reached"},
		{"nobody has it", []string{"get", strings.Repeat("ab", 32), "--ephemeral", "--timeout", "2s"}, "no peer that holds the core was found"},
		{"peers without daemon", []string{"peers"}, "no daemon is running"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ds(t, repo, "", tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.says) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want exit 1 and one line containing %q", r.code, r.stderr, tc.says)
			}
		})
	}
}

// TestCLIDaemon: with a daemon running, commands go through its API; a second serve is refused
// with a clear line; after the daemon is killed, commands fall back to the repo.
func TestCLIDaemon(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	cmd, _ := startServe(t, repo)
	key := strings.TrimSpace(ds(t, repo, "", "create", "notes").stdout)
	if r := ds(t, repo, "", "append", "notes", "x", "y"); r.code != 0 {
		t.Fatalf("append through the daemon: %+v", r)
	}
	if r := ds(t, repo, "", "id", "--json"); !strings.Contains(r.stdout, `"running":true`) {
		t.Fatalf("id through the daemon: %+v", r)
	}
	if r := ds(t, repo, "", "serve"); r.code != 1 || !strings.Contains(r.stderr, "in use by another process") {
		t.Fatalf("second serve: %+v", r)
	}
	cmd.Process.Kill() // gone without cleaning up: its socket stays behind
	cmd.Wait()
	r := ds(t, repo, "", "cat", key)
	if r.code != 0 || r.stdout != "x\ny\n" {
		t.Fatalf("after the daemon died: %+v", r)
	}
}

// TestCLIDatoms runs the datom commands as a user would, on a repo and on a replica of it.
func TestCLIDatoms(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	if r := ds(t, repo, "", "transact", "contacts", "--file", "testdata/contacts-tx.json"); r.code != 0 || !strings.HasPrefix(r.stdout, "tx 0:") {
		t.Fatalf("transact: %+v", r)
	}
	if r := ds(t, repo, "", "put", "contacts", "contact/1", "contact/age", "31", "--type", "int64"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	if r := ds(t, repo, "", "put", "contacts", "contact/1", "contact/city", "Shanghai"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	r := ds(t, repo, "", "pull", "contacts", "contact/1", "--json")
	if !strings.Contains(r.stdout, `"contact/city":["Shanghai"]`) || !strings.Contains(r.stdout, `"contact/age":[31]`) {
		t.Fatalf("pull: %+v", r)
	}
	if r := ds(t, repo, "", "pull", "contacts", "contact/1", "--as-of", "0", "--json"); !strings.Contains(r.stdout, `"contact/city":["Beijing"]`) {
		t.Fatalf("pull --as-of: %+v", r)
	}
	q := `{"find":["?e","?name"],"where":[["?e","contact/name","?name"],["?e","contact/city","Beijing"]]}`
	if r := ds(t, repo, "", "query", "contacts", q, "--json"); !strings.Contains(r.stdout, `"?e":{"ref":"contact/3"},"?name":"Wei"`) || strings.Contains(r.stdout, "Alice") {
		t.Fatalf("query: %+v", r)
	}
	if r := ds(t, repo, "", "history", "contacts", "contact/1", "contact/city"); strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stdout, "retract") {
		t.Fatalf("history: %+v", r)
	}
	checkReindex := func(how string) {
		t.Helper()
		r := ds(t, repo, "", "reindex", "--json")
		var res struct {
			Cores []struct {
				Datom           bool
				Indexed, Length uint64
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || len(res.Cores) != 1 ||
			!res.Cores[0].Datom || res.Cores[0].Indexed != 3 || res.Cores[0].Length != 3 {
			t.Fatalf("reindex --json %s: %v %+v", how, err, r)
		}
		if got := ds(t, repo, "", "query", "contacts", q, "--json").stdout; !strings.Contains(got, `"?e":{"ref":"contact/3"},"?name":"Wei"`) {
			t.Fatalf("query after reindex %s: %s", how, got)
		}
	}
	checkReindex("without a daemon")
	if r := ds(t, repo, "", "reindex"); r.code != 0 || !strings.Contains(r.stdout, "rebuilt the indexes of 1 datom core (1 core in all)") ||
		!strings.Contains(r.stdout, "3 of 3") {
		t.Fatalf("reindex: %+v", r)
	}
	bad := []struct {
		name string
		args []string
		in   string
		code int
		says string
	}{
		{"wrong type", []string{"put", "contacts", "contact/9", "contact/age", "old"}, "", 1, "rejected"},
		{"not an int64", []string{"put", "contacts", "contact/9", "contact/age", "old", "--type", "int64"}, "", 1, "int64"},
		{"malformed item", []string{"transact", "contacts", "--file", "-"}, `[{"e":"x","a":"b/c","v":1},{"e":"x"}]`, 1, "item 1"},
		{"not JSON", []string{"transact", "contacts", "--file", "-"}, `[{`, 1, "JSON"},
		{"bad query", []string{"query", "contacts", `{"find":`}, "", 1, "query"},
	}
	for _, tc := range bad {
		r := ds(t, repo, tc.in, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || strings.Contains(r.stderr, "panic") {
			t.Errorf("%s: exit %d, stderr %q", tc.name, r.code, r.stderr)
		}
	}
	if r := ds(t, repo, "", "info", "contacts", "--json"); !strings.Contains(r.stdout, `"length":3`) {
		t.Fatalf("a rejected transaction appended something: %s", r.stdout)
	}
	r = ds(t, repo, "", "query", "--all", `{"find":["?e"],"where":[["?e","nope/x","?v"]]}`)
	if r.code != 0 || !strings.Contains(r.stderr, "unknown attribute nope/x") {
		t.Fatalf("unknown attribute: %+v", r)
	}
	// A replica answers the same query with the same rows, and get shows the datoms as a table.
	key := strings.TrimSpace(ds(t, repo, "", "info", "contacts", "--json").stdout)
	var info struct{ Key string }
	json.Unmarshal([]byte(key), &info)
	_, addrs := startServe(t, repo)
	checkReindex("through the daemon")
	reader := filepath.Join(t.TempDir(), "reader")
	ds(t, reader, "", "init")
	r = ds(t, reader, "", "get", info.Key, "--peer", addrs[0])
	if r.code != 0 || !strings.Contains(r.stdout, "contact/name") || !strings.Contains(r.stdout, "OP") {
		t.Fatalf("get of a datom core: %+v", r)
	}
	want := ds(t, repo, "", "query", "contacts", q, "--json").stdout
	if got := ds(t, reader, "", "query", info.Key, q, "--json").stdout; got != want {
		t.Fatalf("replica query:\n got %s\nwant %s", got, want)
	}
}

// TestCLITCPAPIToken: `serve --api` on loopback refuses a request without the token and one from
// a foreign origin, and answers one with the token `api token` prints, as real processes.
func TestCLITCPAPIToken(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	_, v := startServeJSON(t, repo, "--api", "127.0.0.1:0")
	if len(v.API) != 2 {
		t.Fatalf("serve printed %+v", v)
	}
	tok := strings.TrimSpace(ds(t, repo, "", "api", "token").stdout)
	if len(tok) != 64 {
		t.Fatalf("api token printed %q", tok)
	}
	post := func(hdr map[string]string) int {
		req, _ := http.NewRequest("POST", "http://"+v.API[1]+"/v1/cores", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post(nil); got != 401 {
		t.Errorf("no token: %d", got)
	}
	if got := post(map[string]string{"Authorization": "Bearer " + tok, "Origin": "http://evil.example"}); got != 403 {
		t.Errorf("foreign origin: %d", got)
	}
	if got := post(map[string]string{"Authorization": "Bearer " + tok}); got != 200 {
		t.Errorf("with the token: %d", got)
	}
}
