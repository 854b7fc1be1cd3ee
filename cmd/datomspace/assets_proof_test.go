package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIProveAndCheck: a proof written by `prove` verifies with `check-proof` alone (no repo),
// says who signed what and when, and fails once any byte of it changes.
func TestCLIProveAndCheck(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	ds(t, repo, "", "init")
	ds(t, repo, "", "create", "contacts")
	ds(t, repo, "", "put", "contacts", "person/1", "person/name", "Ana Lima")
	ds(t, repo, "", "put", "contacts", "person/1", "person/email", "ana@example.org")
	id := jsonField(t, ds(t, repo, "", "id", "--json").stdout, "peerID").(string)
	file := filepath.Join(dir, "ana.proof")
	if r := ds(t, repo, "", "prove", "contacts", "person/1", "person/email", "--out", file); r.code != 0 || !strings.Contains(r.stdout, "block 1") {
		t.Fatalf("prove: %+v", r)
	}
	nowhere := filepath.Join(dir, "no-repo-here")
	r := ds(t, nowhere, "", "check-proof", file)
	if r.code != 0 || !strings.Contains(r.stdout, "valid") || !strings.Contains(r.stdout, id) ||
		!strings.Contains(r.stdout, `person/1 person/email "ana@example.org"`) || !strings.Contains(r.stdout, "written at") {
		t.Fatalf("check-proof: %+v", r)
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Fatal("check-proof made a repo")
	}
	if r := ds(t, nowhere, "", "check-proof", file, "--json"); jsonField(t, r.stdout, "valid") != true || jsonField(t, r.stdout, "owner") != id {
		t.Fatalf("check-proof --json: %+v", r)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(b) / 3, len(b) / 2, len(b) - 40, len(b) - 1} {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x10
		broken := filepath.Join(dir, "broken.proof")
		os.WriteFile(broken, bad, 0o644)
		if r := ds(t, nowhere, "", "check-proof", broken); r.code != 1 || !strings.Contains(r.stderr, "does not verify") {
			t.Fatalf("byte %d flipped: %+v", i, r)
		}
	}
	if r := ds(t, repo, "", "prove", "contacts", "person/9", "--out", file); r.code != 1 || !strings.Contains(r.stderr, "person/9") {
		t.Fatalf("an entity the core does not have: %+v", r)
	}
}

// TestCLIEncryptedCore: create --encrypted, info --json says so, cat decrypts, truncate forks;
// a replica with the wrong key is refused by the key check.
func TestCLIEncryptedCore(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	ds(t, repo, "", "init")
	key := "4242424242424242424242424242424242424242424242424242424242424242"
	r := ds(t, repo, "", "create", "secrets", "--encryption-key", key, "--json")
	if r.code != 0 || jsonField(t, r.stdout, "encrypted") != true {
		t.Fatalf("create: %+v", r)
	}
	ds(t, repo, "", "append", "secrets", "one", "two", "three")
	r = ds(t, repo, "", "info", "secrets", "--json")
	if jsonField(t, r.stdout, "encrypted") != true || jsonField(t, r.stdout, "keyHeld") != true || jsonField(t, r.stdout, "byteLength") != 11.0 {
		t.Fatalf("info: %+v", r)
	}
	if kc, _ := jsonField(t, r.stdout, "keyCheck").(string); len(kc) != 64 {
		t.Fatalf("info keyCheck: %+v", r)
	}
	if r := ds(t, repo, "", "cat", "secrets"); r.stdout != "one\ntwo\nthree\n" {
		t.Fatalf("cat: %+v", r)
	}
	if r := ds(t, repo, "", "truncate", "secrets", "2", "--json"); r.code != 0 || jsonField(t, r.stdout, "fork") != 1.0 || jsonField(t, r.stdout, "length") != 2.0 {
		t.Fatalf("truncate: %+v", r)
	}
	ds(t, repo, "", "append", "secrets", "tres")
	if r := ds(t, repo, "", "cat", "secrets"); r.stdout != "one\ntwo\ntres\n" {
		t.Fatalf("cat after the fork: %+v", r)
	}
	if r := ds(t, repo, "", "truncate", "secrets", "9"); r.code != 1 {
		t.Fatalf("truncate past the end: %+v", r)
	}
	r = ds(t, repo, "", "create", "generated", "--encrypted", "--json")
	if r.code != 0 || jsonField(t, r.stdout, "encrypted") != true {
		t.Fatalf("create --encrypted: %+v", r)
	}
	if r := ds(t, repo, "", "create", "bad", "--encryption-key", "xyz"); r.code != 1 || !strings.Contains(r.stderr, "64 hex") {
		t.Fatalf("a bad key: %+v", r)
	}
	if r := ds(t, repo, "", "create", "bad", "--encryption-key", key, "--encrypted"); r.code != 2 {
		t.Fatalf("both: %+v", r)
	}
	if r := ds(t, repo, "", "setkey", "secrets", "--block-key", strings.Repeat("11", 32)); r.code != 1 || !strings.Contains(r.stderr, "wrong encryption key") {
		t.Fatalf("a wrong key: %+v", r)
	}
}

// TestCLIEncryptedAndComputeAssets: a reader's get of an encrypted asset has the key released by
// itself and prints plaintext; a reader without a grant is told why it cannot read; a compute
// asset is queried, not downloaded.
func TestCLIEncryptedAndComputeAssets(t *testing.T) {
	dir := t.TempDir()
	alice, bob, eve := filepath.Join(dir, "alice"), filepath.Join(dir, "bob"), filepath.Join(dir, "eve")
	for _, r := range []string{alice, bob, eve} {
		ds(t, r, "", "init")
	}
	key := jsonField(t, ds(t, alice, "", "create", "secrets", "--encrypted", "--json").stdout, "key").(string)
	ds(t, alice, "", "put", "secrets", "doc/1", "doc/text", "meet at noon")
	if r := ds(t, alice, "", "asset", "create", "secrets", "--core", "secrets", "--level", "encrypted"); r.code != 0 {
		t.Fatalf("asset create: %+v", r)
	}
	stats := strings.TrimSpace(ds(t, alice, "", "create", "stats").stdout)
	ds(t, alice, "", "put", "stats", "city/1", "city/name", "Porto")
	q := `[:find ?n :where [?e :city/name ?n]]`
	if r := ds(t, alice, "", "asset", "create", "stats", "--core", "stats", "--level", "compute", "--query", q); r.code != 0 {
		t.Fatalf("asset create compute: %+v", r)
	}
	bobID := jsonField(t, ds(t, bob, "", "id", "--json").stdout, "peerID").(string)
	ds(t, alice, "", "grant", "secrets", bobID)
	ds(t, alice, "", "grant", "stats", bobID, "--actions", "query")
	_, addrs := startServe(t, alice)
	if r := ds(t, bob, "", "get", key, "--peer", addrs[0], "--timeout", "15s"); r.code != 0 || !strings.Contains(r.stdout, "meet at noon") {
		t.Fatalf("bob's get of the encrypted asset: %+v", r)
	}
	if r := ds(t, bob, "", "info", key, "--json"); jsonField(t, r.stdout, "keyHeld") != true {
		t.Fatalf("bob's info: %+v", r)
	}
	r := ds(t, eve, "", "get", key, "--peer", addrs[0], "--timeout", "15s")
	t.Logf("eve is told: %s", r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "not held") || !strings.Contains(r.stderr, "no grant") || strings.Contains(r.stdout, "noon") {
		t.Fatalf("eve's get of the encrypted asset: %+v", r)
	}
	if r := ds(t, bob, "", "get", stats, "--peer", addrs[0], "--timeout", "15s"); r.code != 1 || !strings.Contains(r.stderr, "compute only") {
		t.Fatalf("bob's get of the compute asset: %+v", r)
	}
	if r := ds(t, bob, "", "asset", "query", stats, q, "--peer", addrs[0]); r.code != 0 || !strings.Contains(r.stdout, "Porto") {
		t.Fatalf("bob's query: %+v", r)
	}
	if r := ds(t, bob, "", "asset", "query", stats, `[:find ?e :where [?e :city/name _]]`, "--peer", addrs[0]); r.code != 1 || !strings.Contains(r.stderr, "query not allowed") {
		t.Fatalf("a query outside the allowed set: %+v", r)
	}
}
