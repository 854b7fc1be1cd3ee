package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// randomFile writes n random bytes (from seed) to a new file in dir and returns its path and
// SHA-256.
func randomFile(t *testing.T, dir string, n int, seed uint64) (string, string) {
	t.Helper()
	path := filepath.Join(dir, "random-"+hex.EncodeToString([]byte{byte(seed)})+".bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	var key [32]byte
	key[0] = byte(seed)
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8(key), int64(n))); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func textSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// addBlob runs `add` and returns the CID it printed.
func addBlob(t *testing.T, repo, stdin string, args ...string) string {
	t.Helper()
	r := ds(t, repo, stdin, append([]string{"add"}, args...)...)
	c := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(c, "baf") {
		t.Fatalf("add %v: %+v", args, r)
	}
	return c
}

// oneLine checks that a failed command said one line containing want, exit code 1.
func checkOneLine(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("%s: exit %d, stderr %q; want exit 1 and one line containing %q", what, r.code, r.stderr, want)
	}
}

// TestBlobsBetweenDaemons: a blob added through one daemon (from a file and from standard
// input, with Kubo's CID) is printed by cat there and fetched by another daemon's get --peer,
// verified, written atomically to --out; a second get finds it held.
func TestBlobsBetweenDaemons(t *testing.T) {
	a := newRepo(t, "a")
	_, aAddrs := startServe(t, a)
	file, sum := randomFile(t, t.TempDir(), 20<<20+12345, 1)
	c := addBlob(t, a, "", file)
	if r := ds(t, a, "", "cat", c); r.code != 0 || textSHA(r.stdout) != sum {
		t.Fatalf("cat through the daemon: exit %d, %d bytes, %s", r.code, len(r.stdout), r.stderr)
	}
	hello := addBlob(t, a, `{"hello":"world"}`, "-")
	if hello != "bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra" {
		t.Fatalf("add - of DESIGN.md's example: %s", hello)
	}
	r := ds(t, a, "", "add", file, "--json")
	var info struct {
		CID    string
		Size   uint64
		Pinned bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.CID != c || info.Size != 20<<20+12345 || !info.Pinned {
		t.Fatalf("add --json: %q, %v", r.stdout, err)
	}

	b := newRepo(t, "b")
	startServe(t, b)
	out := filepath.Join(t.TempDir(), "got.bin")
	r = ds(t, b, "", "get", c, "--peer", aAddrs[0], "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "wrote 21.0 MB (fetched and verified)") {
		t.Fatalf("get CID --peer: %+v", r)
	}
	if fileSHA(t, out) != sum {
		t.Fatal("get wrote other bytes")
	}
	if _, err := os.Stat(out + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("a partial file was left: %v", err)
	}
	if r := ds(t, b, "", "cat", c); textSHA(r.stdout) != sum {
		t.Fatalf("cat on the fetching daemon: %+v", r.stderr)
	}
	r = ds(t, b, "", "get", c, "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "held by this repo already") {
		t.Fatalf("second get: %+v", r)
	}
	if r := ds(t, b, "", "get", hello, "--peer", aAddrs[0]); r.code != 0 || r.stdout != `{"hello":"world"}` {
		t.Fatalf("get to standard output: %+v", r)
	}
}

// TestBlobsGetThroughTheDHT: a get that knows only a bootstrap peer finds the blob's provider in
// the DHT (its daemon announced the blob when it was added) and fetches it, without a daemon.
func TestBlobsGetThroughTheDHT(t *testing.T) {
	boot := newRepo(t, "boot")
	_, bootAddrs := startServe(t, boot)
	alice := newRepo(t, "alice")
	startServe(t, alice, "--bootstrap", bootAddrs[0])
	file, sum := randomFile(t, t.TempDir(), 5<<20, 2)
	c := addBlob(t, alice, "", file)
	bob := newRepo(t, "bob")
	out := filepath.Join(t.TempDir(), "got.bin")
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := ds(t, bob, "", "get", c, "--bootstrap", bootAddrs[0], "--timeout", "10s", "--out", out)
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(r.stderr, "no peer that holds the blob") {
			t.Fatalf("get through the DHT: %+v", r)
		}
		time.Sleep(500 * time.Millisecond) // the announce is on its way
	}
	if fileSHA(t, out) != sum {
		t.Fatal("get through the DHT wrote other bytes")
	}
}

// blockFiles counts the block files of a repo's block directory.
func blockFiles(repo string) int {
	n := 0
	filepath.WalkDir(filepath.Join(repo, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".data") {
			n++
		}
		return nil
	})
	return n
}

// TestBlobsGetResumes: a get stopped by Ctrl-C (SIGINT) says how far it got, leaves no file, and
// keeps what arrived; the same get again fetches only the rest.
func TestBlobsGetResumes(t *testing.T) {
	a := newRepo(t, "a")
	_, aAddrs := startServe(t, a)
	file, sum := randomFile(t, t.TempDir(), 96<<20, 3)
	c := addBlob(t, a, "", file)
	b := newRepo(t, "b")
	out := filepath.Join(t.TempDir(), "got.bin")
	cmd, wait := start(t, b, "get", c, "--peer", aAddrs[0], "--out", out)
	deadline := time.Now().Add(60 * time.Second)
	for blockFiles(b) < 40 {
		if time.Now().After(deadline) {
			t.Fatal("the get did not start fetching")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	r := wait()
	if r.code == 0 {
		t.Fatalf("the get finished before the interrupt (%d blocks held): use a larger blob", blockFiles(b))
	}
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "download interrupted at") || !strings.Contains(r.stderr, "running the same command again resumes") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("interrupted get: %+v", r)
	}
	for _, p := range []string{out, out + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s exists after an interrupted get: %v", p, err)
		}
	}
	held := blockFiles(b)
	r = ds(t, b, "", "get", c, "--peer", aAddrs[0], "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "held already") {
		t.Fatalf("resumed get: %+v (%d blocks were held)", r, held)
	}
	if fileSHA(t, out) != sum {
		t.Fatal("the resumed get wrote other bytes")
	}
	t.Logf("interrupted with %d blocks held: %s", held, strings.TrimSpace(r.stderr))
}

// TestBlobsPinAndGC: gc removes the blobs nothing keeps and keeps the pinned ones and those a
// datom refers to, without a daemon and with one; it says what it freed.
func TestBlobsPinAndGC(t *testing.T) {
	repo := newRepo(t, "repo")
	dir := t.TempDir()
	pinned, pinnedSum := randomFile(t, dir, 3<<20, 4)
	loose, _ := randomFile(t, dir, 2<<20, 5)
	p := addBlob(t, repo, "", pinned)
	u := addBlob(t, repo, "", loose, "--pin=false")
	body := strings.Repeat("a value large enough to be a blob. ", 3000)
	tx, _ := json.Marshal([]map[string]any{{"db/id": "doc/1", "doc/body": body}})
	if r := ds(t, repo, string(tx), "transact", "docs", "--file", "-"); r.code != 0 {
		t.Fatalf("transact: %+v", r)
	}
	r := ds(t, repo, "", "pull", "docs", "doc/1", "--json")
	var ent struct {
		Attrs map[string][]struct {
			Blob string
			Size uint64
			Type string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &ent); err != nil || len(ent.Attrs["doc/body"]) != 1 {
		t.Fatalf("pull: %q %v", r.stdout, err)
	}
	d := ent.Attrs["doc/body"][0]
	if !strings.HasPrefix(d.Blob, "baf") || d.Size != uint64(len(body)) || d.Type != "string" {
		t.Fatalf("pull shows the large value as %+v", d)
	}
	if r := ds(t, repo, "", "pin", "ls"); !strings.Contains(r.stdout, p) || strings.Contains(r.stdout, u) {
		t.Fatalf("pin ls: %+v", r)
	}
	r = ds(t, repo, "", "gc")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 blob") || !strings.Contains(r.stdout, "2.1 MB") || !strings.Contains(r.stdout, u) {
		t.Fatalf("gc: %+v", r)
	}
	checkOneLine(t, "cat of a collected blob", ds(t, repo, "", "cat", u), "not in the repo")
	if r := ds(t, repo, "", "cat", p); textSHA(r.stdout) != pinnedSum {
		t.Fatalf("gc removed a pinned blob: %+v", r.stderr)
	}
	// With a daemon: unpin, and gc takes the blob; the datom's blob stays.
	startServe(t, repo)
	if r := ds(t, repo, "", "pin", "rm", p); r.code != 0 || !strings.Contains(r.stdout, "unpinned "+p) {
		t.Fatalf("pin rm: %+v", r)
	}
	r = ds(t, repo, "", "gc", "--json")
	var gc struct {
		Blobs []string
		Bytes uint64
	}
	if err := json.Unmarshal([]byte(r.stdout), &gc); err != nil || len(gc.Blobs) != 1 || gc.Blobs[0] != p || gc.Bytes < 3<<20 {
		t.Fatalf("gc --json through the daemon: %q, %v", r.stdout, err)
	}
	r = ds(t, repo, "", "pull", "docs", "doc/1", "--resolve", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"doc/body":["`+body+`"]`) {
		t.Fatalf("the datom's blob after gc: %.200s %s", r.stdout, r.stderr)
	}
	if r := ds(t, repo, "", "gc"); !strings.Contains(r.stdout, "nothing to remove") {
		t.Fatalf("a gc with nothing to remove: %+v", r)
	}
	if r := ds(t, repo, "", "pin", "add", p); !strings.Contains(r.stdout, "does not hold it yet") {
		t.Fatalf("pin add of a blob not held: %+v", r)
	}
}

// TestBlobsReplicaResolves: a replica of a datom core shows a large value as its CID and size,
// and pull --resolve fetches the blob from the owner and prints the value.
func TestBlobsReplicaResolves(t *testing.T) {
	owner := newRepo(t, "owner")
	_, ownerAddrs := startServe(t, owner)
	body := strings.Repeat("resolved from a replica. ", 8000) // 200 kB
	tx, _ := json.Marshal([]map[string]any{{"db/id": "doc/1", "doc/title": "big", "doc/body": body}})
	r := ds(t, owner, string(tx), "transact", "docs", "--file", "-", "--json")
	var res struct{ Core string }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
		t.Fatalf("transact: %+v", r)
	}
	reader := newRepo(t, "reader")
	startServe(t, reader, "--bootstrap", ownerAddrs[0])
	if r := ds(t, reader, "", "get", res.Core, "--peer", ownerAddrs[0]); r.code != 0 {
		t.Fatalf("get of the datom core: %+v", r)
	}
	r = ds(t, reader, "", "pull", res.Core, "doc/1")
	if r.code != 0 || !strings.Contains(r.stdout, "blob of text baf") || !strings.Contains(r.stdout, "200.0 kB") {
		t.Fatalf("pull on the replica: %+v", r)
	}
	r = ds(t, reader, "", "pull", res.Core, "doc/1", "--resolve", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"doc/body":["`+body+`"]`) {
		t.Fatalf("pull --resolve on the replica: %.300s %s", r.stdout, r.stderr)
	}
	if r := ds(t, reader, "", "gc"); !strings.Contains(r.stdout, "nothing to remove") {
		t.Fatalf("gc on the replica removed the resolved blob: %+v", r)
	}
}

// setConfig sets a key of a repo's config.json.
func setConfig(t *testing.T, repo, key string, v any) {
	t.Helper()
	path := filepath.Join(repo, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg[key] = v
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// putBlocks writes blocks straight into a repo's block directory, as a hostile peer's store
// would hold them.
func putBlocks(t *testing.T, repo string, nodes ...*merkledag.ProtoNode) {
	t.Helper()
	dir, err := blobs.OpenBlockDir(filepath.Join(repo, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	bs := blockstore.NewBlockstoreNoPrefix(dir)
	for _, n := range nodes {
		if err := bs.Put(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
}

// fileNode is a UnixFS file node over children of size each.
func fileNode(t *testing.T, children []cid.Cid, size uint64) *merkledag.ProtoNode {
	t.Helper()
	fsn := unixfs.NewFSNode(unixfs.TFile)
	n := merkledag.NodeWithData(nil)
	n.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
	for _, c := range children {
		fsn.AddBlockSize(size)
		if err := n.AddRawLink("", &ipldLink{Cid: c, Size: size}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := fsn.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	n.SetData(b)
	return n
}

// TestBlobsBadInput: each of these gets one clear line and exit code 1, and leaves nothing
// pinned or written: a CID that does not parse, an unsupported codec, a blob not held, a blob
// over the repo's maximum (added or fetched), a provider whose block does not match its CID (it
// is disconnected), a DAG wider or deeper than the limits.
func TestBlobsBadInput(t *testing.T) {
	a := newRepo(t, "a")
	dir := t.TempDir()
	big, _ := randomFile(t, dir, 3<<20, 6)
	// A hostile DAG: a node with more links than allowed, and a chain deeper than allowed,
	// over one 1-byte raw leaf.
	leaf := cid.NewCidV1(cid.Raw, must(mhSum([]byte("x"))))
	wide := fileNode(t, repeatCID(leaf, 1100), 1)
	deep := fileNode(t, []cid.Cid{leaf}, 1)
	chain := []*merkledag.ProtoNode{deep}
	for range 40 {
		deep = fileNode(t, []cid.Cid{deep.Cid()}, 1)
		chain = append(chain, deep)
	}
	putBlocks(t, a, append(chain, wide)...)
	leafFile := filepath.Join(dir, "x")
	os.WriteFile(leafFile, []byte("x"), 0o600)
	addBlob(t, a, "", leafFile)
	c := addBlob(t, a, "", big)
	_, aAddrs := startServe(t, a)

	b := newRepo(t, "b")
	setConfig(t, b, "blobMaxSize", 1<<20)
	out := filepath.Join(dir, "out.bin")
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"unparsable CID", []string{"get", "bafybeigarbage"}, "invalid CID"},
		{"unsupported codec", []string{"get", "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}, "unsupported CID"},
		{"cat of a blob not held", []string{"cat", c}, "not in the repo"},
		{"add over the maximum", []string{"add", big}, "blob too large"},
		{"get over the maximum", []string{"get", c, "--peer", aAddrs[0], "--out", out}, "blob too large"},
		{"too many links", []string{"get", wide.Cid().String(), "--peer", aAddrs[0], "--out", out}, "too many links"},
		{"too deep", []string{"get", deep.Cid().String(), "--peer", aAddrs[0], "--out", out}, "too deep"},
		{"range flags with a CID", []string{"get", c, "--start", "3"}, "--start is for cores"},
		// 64 hex characters are a core key, even when they start as a CID does
		{"a core key that starts with baf", []string{"get", "baf" + strings.Repeat("0", 61), "--timeout", "200ms"}, "no peer that holds the core"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ds(t, b, "", tc.args...)
			if tc.name == "range flags with a CID" {
				if r.code != 2 || !strings.Contains(r.stderr, tc.says) {
					t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
				}
				return
			}
			checkOneLine(t, tc.name, r, tc.says)
		})
	}
	if r := ds(t, b, "", "pin", "ls"); strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("something was pinned: %+v", r)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed get wrote %s", out)
	}

	// A provider that sends a block that does not match its CID is disconnected, and the get
	// says so in one line.
	setConfig(t, b, "blobMaxSize", 0)
	corruptBlock(t, a, c)
	r := ds(t, b, "", "get", c, "--peer", aAddrs[0], "--out", out)
	checkOneLine(t, "corrupt block", r, "does not match its CID")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed get wrote %s", out)
	}
}

// corruptBlock flips a byte of one leaf of blob c in repo's block directory.
func corruptBlock(t *testing.T, repo, c string) {
	t.Helper()
	var leaf string
	filepath.WalkDir(filepath.Join(repo, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".data") && leaf == "" {
			if st, _ := d.Info(); st != nil && st.Size() == blobs.ChunkSize {
				leaf = p
			}
		}
		return nil
	})
	if leaf == "" {
		t.Fatal("no leaf block found")
	}
	b, err := os.ReadFile(leaf)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff
	if err := os.WriteFile(leaf, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func repeatCID(c cid.Cid, n int) []cid.Cid {
	out := make([]cid.Cid, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type ipldLink = format.Link

func mhSum(b []byte) (mh.Multihash, error) { return mh.Sum(b, mh.SHA2_256, -1) }

// TestBlobsNamesAreNotCIDs: cat takes a core's name, a key or a CID; a name that starts as CIDs
// do is still a name.
func TestBlobsNamesAreNotCIDs(t *testing.T) {
	repo := newRepo(t, "repo")
	coreWith(t, repo, "bafflegab", "x")
	coreWith(t, repo, "Qmail", "y")
	for name, want := range map[string]string{"bafflegab": "x\n", "Qmail": "y\n"} {
		if r := ds(t, repo, "", "cat", name); r.code != 0 || r.stdout != want {
			t.Errorf("cat %s: %+v", name, r)
		}
	}
	c := addBlob(t, repo, "z", "-")
	if r := ds(t, repo, "", "cat", c); r.stdout != "z" {
		t.Errorf("cat %s: %+v", c, r)
	}
}
