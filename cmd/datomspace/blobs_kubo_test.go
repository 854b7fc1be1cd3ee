package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
)

// TestBlobsKuboInterop runs Kubo and datomspace as real processes on 127.0.0.1: a Kubo daemon
// connected to a `datomspace serve` (ipfs swarm connect) cats a 50 MiB blob that datomspace
// added, over bitswap; and `datomspace get CID --peer KUBO-ADDR` gets a 50 MiB file that Kubo
// added. The bytes are compared by SHA-256. It needs Kubo (kubotest.Require: it skips without
// one, and fails when DATOMSPACE_REQUIRE_INTEROP is set).
func TestBlobsKuboInterop(t *testing.T) {
	bin := kubotest.Require(t)
	k := kubotest.NewRepo(t, bin)
	k.Start()
	kid, kaddrs := k.Identity()
	if len(kaddrs) == 0 {
		t.Fatal("Kubo has no loopback TCP address")
	}
	kuboAddr := kaddrs[0] + "/p2p/" + kid
	dir := t.TempDir()

	// Kubo fetches from datomspace.
	ours := newRepo(t, "ours")
	_, addrs := startServe(t, ours)
	file, sum := randomFile(t, dir, 50<<20, 7)
	c := addBlob(t, ours, "", file)
	if got, err := k.AddOnlyHash(mustOpen(t, file)); err != nil || got != c {
		t.Fatalf("Kubo's CID of the same bytes: %s, %v; datomspace's: %s", got, err, c)
	}
	k.MustRun("swarm", "connect", addrs[0])
	h := sha256.New()
	if err := k.RunTo(h, "cat", c); err != nil {
		t.Fatalf("ipfs cat of datomspace's blob: %v", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		t.Fatal("ipfs cat gave other bytes than datomspace added")
	}

	// datomspace fetches from Kubo, without a daemon.
	kfile, ksum := randomFile(t, dir, 50<<20, 8)
	kc, err := k.Run(mustOpen(t, kfile), "add", "--cid-version=1", "-Q")
	if err != nil {
		t.Fatal(err)
	}
	kc = strings.TrimSpace(kc)
	theirs := newRepo(t, "theirs")
	out := filepath.Join(dir, "from-kubo.bin")
	r := ds(t, theirs, "", "get", kc, "--peer", kuboAddr, "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "fetched and verified") {
		t.Fatalf("datomspace get from Kubo: %+v", r)
	}
	if fileSHA(t, out) != ksum {
		t.Fatal("datomspace get from Kubo wrote other bytes than Kubo added")
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
