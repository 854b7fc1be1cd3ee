package blobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

var regenKubo = flag.Bool("regen-kubo", false, "recompute testdata/kubo-cids.json with the Kubo binary")

// vector is one CID conformance case. The bytes are generated: Kind "random" is Size bytes of
// ChaCha8 seeded with Seed, "zeros" Size zero bytes, "text" the bytes of Text.
type vector struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Size int64  `json:"size"`
	Seed uint64 `json:"seed,omitempty"`
	Text string `json:"text,omitempty"`
	CID  string `json:"cid"`
}

func (v vector) reader() io.Reader {
	switch v.Kind {
	case "random":
		return io.LimitReader(seeded(v.Seed), v.Size)
	case "zeros":
		return io.LimitReader(zeros{}, v.Size)
	default:
		return bytes.NewReader([]byte(v.Text))
	}
}

// seeded returns the deterministic byte stream of seed (ChaCha8 is specified byte for byte).
func seeded(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// vectorCases are the cases: the three of DESIGN.md, the chunk and link boundaries, a DAG of
// depth 2 (45 MiB is more than 174 leaves of 256 KiB) and random sizes.
func vectorCases() []vector {
	vs := []vector{
		{Name: "empty", Kind: "text"},
		{Name: "hello-json", Kind: "text", Size: 17, Text: `{"hello":"world"}`},
		{Name: "1MiB-zeros", Kind: "zeros", Size: 1 << 20},
		{Name: "1-byte", Kind: "random", Size: 1, Seed: 1},
		{Name: "256KiB-1", Kind: "random", Size: ChunkSize - 1, Seed: 2},
		{Name: "256KiB", Kind: "random", Size: ChunkSize, Seed: 3},
		{Name: "256KiB+1", Kind: "random", Size: ChunkSize + 1, Seed: 4},
		{Name: "174-leaves", Kind: "random", Size: LinksPerNode * ChunkSize, Seed: 5},
		{Name: "174-leaves+1", Kind: "random", Size: LinksPerNode*ChunkSize + 1, Seed: 6},
		{Name: "45MiB", Kind: "random", Size: 45 << 20, Seed: 7},
		{Name: "45MiB-zeros", Kind: "zeros", Size: 45 << 20},
	}
	r := rand.New(rand.NewPCG(42, 42))
	for i := range 8 {
		size := r.Int64N(3 << 20)
		if i == 0 {
			size = r.Int64N(4096)
		}
		vs = append(vs, vector{Name: "random-" + string(rune('a'+i)), Kind: "random", Size: size, Seed: 100 + uint64(i)})
	}
	return vs
}

const vectorsFile = "testdata/kubo-cids.json"

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestRegenKuboVectors writes testdata/kubo-cids.json from Kubo's CIDs when -regen-kubo is set.
func TestRegenKuboVectors(t *testing.T) {
	if !*regenKubo {
		t.Skip("run with -regen-kubo to recompute " + vectorsFile)
	}
	k := kubotest.NewRepo(t, kubotest.Require(t))
	vs := vectorCases()
	for i := range vs {
		c, err := k.AddOnlyHash(vs[i].reader())
		if err != nil {
			t.Fatal(err)
		}
		vs[i].CID = c
	}
	b, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(filepath.FromSlash(vectorsFile), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDesignCIDs checks the table in DESIGN.md, typed in here, against CIDOf.
func TestDesignCIDs(t *testing.T) {
	for _, c := range []struct {
		in  io.Reader
		cid string
	}{
		{bytes.NewReader(nil), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{bytes.NewReader([]byte(`{"hello":"world"}`)), "bafkreietui4xdkiu4xvmx4fi2jivjtndbhb4drzpxomrjvd4mdz4w2avra"},
		{io.LimitReader(zeros{}, 1<<20), "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"},
	} {
		ref, err := CIDOf(context.Background(), c.in)
		if err != nil {
			t.Fatal(err)
		}
		if ref.CID.String() != c.cid {
			t.Errorf("CIDOf = %s, DESIGN.md says %s", ref.CID, c.cid)
		}
	}
}

// TestKuboVectors checks CIDOf and Add against the CIDs Kubo computed for the same bytes (kept
// in testdata), and that the blob reads back byte for byte.
func TestKuboVectors(t *testing.T) {
	ctx := context.Background()
	vs := loadVectors(t)
	if len(vs) != len(vectorCases()) {
		t.Fatalf("%s has %d cases, the test %d: regenerate it", vectorsFile, len(vs), len(vectorCases()))
	}
	s := newBadgerStore(t)
	for i, v := range vs {
		if want := vectorCases()[i]; want.Name != v.Name || want.Size != v.Size || want.Seed != v.Seed {
			t.Fatalf("%s case %d is %+v, the test's %+v: regenerate it", vectorsFile, i, v, want)
		}
		t.Run(v.Name, func(t *testing.T) {
			ref, err := CIDOf(ctx, v.reader())
			if err != nil {
				t.Fatal(err)
			}
			if ref.CID.String() != v.CID || ref.Size != uint64(v.Size) {
				t.Fatalf("CIDOf = %s (%d bytes), Kubo %s (%d bytes)", ref.CID, ref.Size, v.CID, v.Size)
			}
			if v.Size > LinksPerNode*ChunkSize {
				// Deeper than one level of links: the root's children are inner nodes.
				if n := rootNode(t, ref.CID, v.reader()); n.Links[0].CID.Type() != cid.DagProtobuf {
					t.Fatalf("%s: the root's first child is %s, not an inner node", v.Name, n.Links[0].CID)
				}
			}
			if testing.Short() && v.Size > 8<<20 {
				return
			}
			added, err := s.Add(ctx, v.reader())
			if err != nil {
				t.Fatal(err)
			}
			if added != ref {
				t.Fatalf("Add = %+v, CIDOf %+v", added, ref)
			}
			r, err := s.Open(ctx, added.CID)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != ref.Size {
				t.Fatalf("reader size %d, want %d", r.Size(), ref.Size)
			}
			got, want := sha256.New(), sha256.New()
			if _, err := io.Copy(got, r); err != nil {
				t.Fatal(err)
			}
			io.Copy(want, v.reader())
			if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
				t.Fatal("read back different bytes")
			}
		})
	}
}

// rootNode returns the decoded root block of the blob of r.
func rootNode(t *testing.T, root cid.Cid, r io.Reader) Node {
	t.Helper()
	s, err := New(dssync.MutexWrap(ds.NewMapDatastore()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	n, err := s.node(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKuboLive compares CIDOf with the Kubo binary itself, when it is present.
func TestKuboLive(t *testing.T) {
	k := kubotest.NewRepo(t, kubotest.Require(t))
	for _, v := range vectorCases() {
		want, err := k.AddOnlyHash(v.reader())
		if err != nil {
			t.Fatal(err)
		}
		ref, err := CIDOf(context.Background(), v.reader())
		if err != nil {
			t.Fatal(err)
		}
		if ref.CID.String() != want {
			t.Errorf("%s: CIDOf = %s, Kubo %s", v.Name, ref.CID, want)
		}
	}
}
