package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func jsonField(t *testing.T, out, field string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", out, err)
	}
	return m[field]
}

// until runs the command until check accepts its result, or fails after a minute.
func until(t *testing.T, what string, check func() (result, bool)) result {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, ok := check()
		if ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last %+v", what, r)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestCLIGrantedAssetStory is the story with real processes: Alice makes a granted asset; Bob is
// refused; Alice grants, Bob gets it; a replica serves Bob too; Alice revokes; Bob is refused by
// Alice and by the replica.
func TestCLIGrantedAssetStory(t *testing.T) {
	dir := t.TempDir()
	alice, bob, rep := filepath.Join(dir, "alice"), filepath.Join(dir, "bob"), filepath.Join(dir, "replica")
	for _, r := range []string{alice, bob, rep} {
		if r := ds(t, r, "", "init"); r.code != 0 {
			t.Fatalf("init: %+v", r)
		}
	}
	key := strings.TrimSpace(ds(t, alice, "", "create", "contacts").stdout)
	for _, args := range [][]string{{"put", "contacts", "person/1", "person/name", "Ana Lima"}, {"put", "contacts", "person/1", "person/email", "ana@example.org"}} {
		if r := ds(t, alice, "", args...); r.code != 0 {
			t.Fatalf("put: %+v", r)
		}
	}
	if r := ds(t, alice, "", "asset", "create", "contacts", "--core", "contacts", "--level", "granted", "--category", "people"); r.code != 0 || !strings.Contains(r.stdout, "granted") {
		t.Fatalf("asset create: %+v", r)
	}
	if r := ds(t, alice, "", "asset", "ls"); !strings.Contains(r.stdout, "contacts") || !strings.Contains(r.stdout, "granted") {
		t.Fatalf("asset ls: %+v", r)
	}
	if r := ds(t, alice, "", "asset", "show", "contacts", "--json"); jsonField(t, r.stdout, "level") != "granted" {
		t.Fatalf("asset show: %+v", r)
	}
	listen := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	aliceCmd, addrs := startServe(t, alice, "--listen", listen)
	aliceAddr := addrs[0]
	bobID := jsonField(t, ds(t, bob, "", "id", "--json").stdout, "peerID").(string)
	repID := jsonField(t, ds(t, rep, "", "id", "--json").stdout, "peerID").(string)

	// Bob is refused, and told why.
	r := ds(t, bob, "", "get", key, "--peer", aliceAddr, "--timeout", "15s")
	if r.code != 1 || !strings.Contains(r.stderr, "no grant") || !strings.Contains(r.stderr, "datomspace grant") {
		t.Fatalf("bob without a grant: %+v", r)
	}
	// Alice grants; Bob gets it.
	r = ds(t, alice, "", "grant", "contacts", bobID, "--expires", "720h")
	grantID := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(grantID) != 64 {
		t.Fatalf("grant: %+v", r)
	}
	if r := ds(t, alice, "", "grants", "contacts", "--json"); !strings.Contains(r.stdout, grantID) || !strings.Contains(r.stdout, `"status":"active"`) {
		t.Fatalf("grants: %+v", r)
	}
	r = ds(t, bob, "", "get", key, "--peer", aliceAddr, "--timeout", "15s")
	if r.code != 0 || !strings.Contains(r.stdout, "Ana Lima") {
		t.Fatalf("bob with a grant: %+v", r)
	}

	// A replica with a replicate grant follows the core, and the owner's grants with it.
	if r := ds(t, alice, "", "grant", "contacts", repID, "--actions", "replicate"); r.code != 0 {
		t.Fatalf("grant the replica: %+v", r)
	}
	startServe(t, rep, "--follow", key, "--peer", aliceAddr)
	until(t, "the replica holds the core", func() (result, bool) {
		r := ds(t, rep, "", "info", key, "--json")
		return r, r.code == 0 && jsonField(t, r.stdout, "contiguousLength") == 2.0
	})
	grantsKey := jsonField(t, ds(t, alice, "", "info", "datomspace/grants", "--json").stdout, "key").(string)
	aliceGrantsLen := func() float64 {
		return jsonField(t, ds(t, alice, "", "info", "datomspace/grants", "--json").stdout, "length").(float64)
	}
	until(t, "the replica holds Alice's grants", func() (result, bool) {
		r := ds(t, rep, "", "info", grantsKey, "--json")
		return r, r.code == 0 && jsonField(t, r.stdout, "contiguousLength") == aliceGrantsLen()
	})
	repAddr := ""
	for _, a := range jsonListField(t, ds(t, rep, "", "id", "--json").stdout, "addrs") {
		repAddr = a
	}

	// With Alice gone, the replica serves Bob.
	aliceCmd.Process.Kill()
	aliceCmd.Wait()
	if r := ds(t, bob, "", "rm", key, "--yes"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	r = ds(t, bob, "", "get", key, "--peer", repAddr, "--timeout", "15s")
	if r.code != 0 || !strings.Contains(r.stdout, "Ana Lima") {
		t.Fatalf("bob from the replica: %+v", r)
	}
	// A stranger is refused by the replica.
	stranger := filepath.Join(dir, "stranger")
	ds(t, stranger, "", "init")
	if r := ds(t, stranger, "", "get", key, "--peer", repAddr, "--timeout", "15s"); r.code != 1 || !strings.Contains(r.stderr, "no grant") {
		t.Fatalf("a stranger at the replica: %+v", r)
	}

	// Alice comes back and revokes: Alice refuses Bob, and the replica does once it has heard.
	aliceCmd, _ = startServe(t, alice, "--listen", listen)
	if r := ds(t, alice, "", "revoke", grantID[:12]); r.code != 0 || !strings.Contains(r.stdout, grantID) {
		t.Fatalf("revoke: %+v", r)
	}
	// (Bob's node finds the replica too, through the DHT: until the replica has heard of the
	// revocation it may still serve him, within the grant's max-stale.)
	until(t, "the revocation reaches the replica", func() (result, bool) {
		r := ds(t, rep, "", "info", grantsKey, "--json")
		return r, r.code == 0 && jsonField(t, r.stdout, "contiguousLength") == aliceGrantsLen()
	})
	r = ds(t, bob, "", "get", key, "--peer", aliceAddr, "--timeout", "15s")
	if r.code != 1 || !strings.Contains(r.stderr, "grant revoked") {
		t.Fatalf("bob at alice after the revocation: %+v", r)
	}
	aliceCmd.Process.Kill() // only the replica is left to ask
	aliceCmd.Wait()
	r = ds(t, bob, "", "get", key, "--peer", repAddr, "--timeout", "15s")
	if r.code != 1 || !strings.Contains(r.stderr, "grant revoked") {
		t.Fatalf("bob at the replica after the revocation: %+v", r)
	}
	if r := ds(t, alice, "", "grants", "--json"); !strings.Contains(r.stdout, `"status":"revoked"`) {
		t.Fatalf("grants after the revocation: %+v", r)
	}
}

func jsonListField(t *testing.T, out, field string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
		t.Fatalf("not JSON: %q", out)
	}
	var outl []string
	for _, v := range m[field].([]any) {
		outl = append(outl, v.(string))
	}
	return outl
}
