package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const peopleTx = `[{"db/ident":"person/email","db/valueType":"db.type/string","db/unique":"db.unique/identity"},
 {"db/ident":"person/age","db/valueType":"int64"},
 {"db/ident":"person/tags","db/valueType":"string","db/cardinality":"many"},
 {"db/id":"wang","person/name":"Wang Wei","person/email":"wang@example.cn","person/city":"Beijing","person/age":34,"person/tags":["a","b"]},
 {"db/id":"li","person/name":"Li Na","person/email":"li@example.cn","person/city":"Beijing","person/age":41}]`

// TestDatomsReadLikeDatomic (14.15–14.20) as a user runs them: Datomic's type names and schema
// used in the transaction that installs it; predicates in Datomic's shape, in JSON and in EDN;
// pull by lookup ref; dump; cat of a datom core as a table; put --type.
func TestDatomsReadLikeDatomic(t *testing.T) {
	repo := newRepo(t, "r")
	if r := ds(t, repo, peopleTx, "transact", "people", "--file", "-"); r.code != 0 {
		t.Fatalf("schema and data in one transaction: %+v", r)
	}
	cases := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"EDN query with a predicate", []string{"query", "people", `[:find ?name :where [?p :person/city "Beijing"] [?p :person/name ?name] [?p :person/age ?age] [(> ?age 35)]]`},
			[]string{"Li Na"}, []string{"Wang Wei"}},
		{"JSON predicate in Datomic's shape", []string{"query", "people", `{"find":["?name"],"where":[["?p","person/name","?name"],["?p","person/age","?age"],[[">","?age",35]]]}`},
			[]string{"Li Na"}, []string{"Wang Wei"}},
		{"pull by lookup ref", []string{"pull", "people", `["person/email","wang@example.cn"]`}, []string{"wang", "Wang Wei", "person/tags"}, nil},
		{"dump", []string{"dump", "people", "--json"}, []string{`"db/id":"li"`, `"person/tags":["a","b"]`}, nil},
		{"cat shows the datom table", []string{"cat", "people"}, []string{"E", "OP", "person/name", "Wang Wei", "add"}, nil},
	}
	for _, tc := range cases {
		r := ds(t, repo, "", tc.args...)
		if r.code != 0 {
			t.Errorf("%s: %+v", tc.name, r)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: %q not in %q", tc.name, w, r.stdout)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%s: %q in %q", tc.name, w, r.stdout)
			}
		}
	}
	// A clause that looks like a predicate but is written as data says how to write it.
	if r := ds(t, repo, "", "query", "people", `{"find":["?a"],"where":[[">","?age",30]]}`); r.code != 1 || !strings.Contains(r.stderr, "predicate") {
		t.Errorf("a predicate written as a data clause: %+v", r)
	}
	// put takes a string unless --type says otherwise.
	if r := ds(t, repo, "", "put", "people", "li", "person/note", `{"a":1}`); r.code != 0 {
		t.Fatalf("put of a JSON-looking string: %+v", r)
	}
	if r := ds(t, repo, "", "pull", "people", "li", "--json"); !strings.Contains(r.stdout, `"person/note":["{\"a\":1}"]`) {
		t.Errorf("put stored %s", r.stdout)
	}
	if r := ds(t, repo, "", "put", "people", "li", "person/age", "42", "--type", "int64"); r.code != 0 {
		t.Fatalf("put --type int64: %+v", r)
	}
	if r := ds(t, repo, "", "pull", "people", "li", "--json"); !strings.Contains(r.stdout, `"person/age":[42]`) {
		t.Errorf("put --type int64 stored %s", r.stdout)
	}
	// A retraction of a value that is not there is refused.
	if r := ds(t, repo, `[{"e":"li","a":"person/city","v":"Paris","op":"retract"}]`, "transact", "people", "--file", "-"); r.code != 1 || !strings.Contains(r.stderr, "retract") {
		t.Errorf("retraction of nothing: %+v", r)
	}
}

// TestSameErrorWithAndWithoutADaemon (14.11, 14.10): JSON with trailing data and semantic query
// errors say the same, clear thing through a daemon and without one, with no Go type names; a core
// name that is a key is refused.
func TestSameErrorWithAndWithoutADaemon(t *testing.T) {
	repo := newRepo(t, "r")
	ds(t, repo, peopleTx, "transact", "people", "--file", "-")
	bad := [][]string{
		{"query", "people", `{"find":["?e"],"where":[["?e","person/name","?n"]]}}`},
		{"query", "people", `{"find":"?e","where":[["?e","person/name","?n"]]}`},
		{"query", "people", `{"find":["?e"],"where":[["?e"]]}`},
		{"transact", "people", "--file", "-"},
		{"create", strings.Repeat("ab", 32)},
		{"create", "line\nbreak"},
	}
	stdin := []string{"", "", "", `[{"e":"x","a":"p/q","v":1}] trailing`, "", ""}
	direct := make([]result, len(bad))
	for i, args := range bad {
		direct[i] = ds(t, repo, stdin[i], args...)
	}
	startServe(t, repo)
	for i, args := range bad {
		r := ds(t, repo, stdin[i], args...)
		if r.code != 1 || r.stderr != direct[i].stderr {
			t.Errorf("%v: through the daemon %+v, without one %+v", args, r, direct[i])
		}
		for _, goish := range []string{"Go value", "Go struct", "MarshalJSON", "json.RawMessage", "unmarshal"} {
			if strings.Contains(r.stderr, goish) {
				t.Errorf("%v: the error shows Go: %q", args, r.stderr)
			}
		}
	}
	if !strings.Contains(direct[1].stderr, "find") || strings.Contains(direct[1].stderr, "malformed JSON") {
		t.Errorf("a semantic query error: %q", direct[1].stderr)
	}
	if !strings.Contains(direct[4].stderr, "key") {
		t.Errorf("a core name that is a key: %q", direct[4].stderr)
	}
}

// TestProgressOnATerminal (14.6): on a terminal, progress is not drawn between blocks printed to
// that terminal, the first frame is never 0/0, and with --out the last frame says it is syncing.
func TestProgressOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) is needed to run the CLI on a pseudo-terminal")
	}
	// Enough blocks that printing them to a terminal takes many progress periods (200 ms).
	const n = 20000
	alice := newRepo(t, "alice")
	key := coreWith(t, alice, "big")
	line := strings.Repeat("x", 1000) + "\n"
	if r := ds(t, alice, strings.Repeat(line, n), "append", "big", "--stdin"); r.code != 0 {
		t.Fatalf("append: %+v", r)
	}
	_, addrs := startServe(t, alice)
	onTTY := func(args ...string) string {
		t.Helper()
		cmdline := binPath + " " + strings.Join(args, " ")
		c := exec.Command("script", "-qec", cmdline, "/dev/null")
		c.Env = append(os.Environ(), "DATOMSPACE_PATH="+newRepo(t, "bob"))
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
		return string(out)
	}
	out := onTTY("get", key, "--peer", addrs[0])
	if strings.Count(out, strings.Repeat("x", 1000)) != n {
		t.Fatalf("get printed %d blocks to the terminal", strings.Count(out, strings.Repeat("x", 1000)))
	}
	if strings.Contains(out, "get: ") || strings.Contains(out, "MB/s") {
		t.Errorf("progress drawn on the terminal the blocks go to:\n%.500s", out)
	}
	file := filepath.Join(t.TempDir(), "out")
	out = onTTY("get", key, "--peer", addrs[0], "--out", file)
	if strings.Contains(out, "0/0 blocks") {
		t.Errorf("a 0/0 progress frame:\n%s", out)
	}
	if !strings.Contains(out, "wrote blocks 0..19999 (20000 blocks)") {
		t.Errorf("get --out on a terminal:\n%.2000s", out)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != n*1001 {
		t.Errorf("out file: %v %v", st, err)
	}
}

// TestMakeDemo (14.21): the demo tells the seed's story on loopback, in under 30 seconds once
// built, and leaves nothing behind.
func TestMakeDemo(t *testing.T) {
	tmp := t.TempDir()
	c := exec.Command("sh", "../../testnet/demo.sh", binPath)
	c.Env = append(os.Environ(), "TMPDIR="+tmp)
	t0 := time.Now()
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("the demo took %s", d)
	}
	for _, want := range []string{"finds Alice through the DHT", "verify against its signature", "Li Na", "wang@example.cn", "done"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo did not show %q:\n%s", want, out)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "datomspace-demo*")); len(left) != 0 {
		t.Errorf("the demo left %v", left)
	}
	// Nor does it leave a process running: none names the demo's directory.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), tmp) {
			t.Errorf("the demo left a process running: %s", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
