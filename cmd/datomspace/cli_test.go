package main

import (
	"bytes"
	"encoding/json"
	"io"
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
		{"bad key", []string{"info", strings.Repeat("a", 63)}, 1, "no core named"},
		{"unknown key", []string{"cat", strings.Repeat("ab", 32)}, 1, "not found"},
		{"bad hex", []string{"append", "c", "--hex", "zz"}, 1, "not hex"},
		{"bad index", []string{"cat", "c", "--start", "-3"}, 1, "--start"},
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
	ds(t, repo, "", "create", "c")
	holder := exec.Command(binPath, "append", "c", "--stdin")
	holder.Env = append(os.Environ(), "DATOMSPACE_PATH="+repo)
	w, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "first\n")
	time.Sleep(500 * time.Millisecond) // the holder has opened the repo
	t0 := time.Now()
	r := ds(t, repo, "", "info", "c")
	if r.code != 1 || !strings.Contains(r.stderr, "in use by another process") {
		t.Fatalf("locked repo: %+v", r)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("the second process hung")
	}
	w.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if r := ds(t, repo, "", "cat", "c"); r.stdout != "first\n" {
		t.Fatalf("after unlock: %+v", r)
	}
}
