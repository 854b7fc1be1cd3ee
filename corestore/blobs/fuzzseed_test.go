package blobs

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

var regenFuzz = flag.Bool("regen-fuzz", false, "rewrite the seed corpora in testdata/fuzz from real blocks")

// TestRegenFuzzSeeds writes the fuzz seed corpora from real blocks: the nodes of imports of one
// and two levels, a raw leaf, a directory, a CIDv0-style leaf with its data inside dag-pb.
func TestRegenFuzzSeeds(t *testing.T) {
	if !*regenFuzz {
		t.Skip("run with -regen-fuzz to rewrite testdata/fuzz")
	}
	ctx := context.Background()
	s, err := New(dssync.MutexWrap(ds.NewMapDatastore()))
	if err != nil {
		t.Fatal(err)
	}
	type seed struct {
		c    cid.Cid
		data []byte
	}
	var seeds []seed
	for _, size := range []int{10, 3 * ChunkSize, (LinksPerNode + 2) * ChunkSize} {
		ref, err := s.Add(ctx, bytes.NewReader(bytes.Repeat([]byte{byte(size)}, size)))
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.node(ctx, ref.CID)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, seed{ref.CID, truncated(n.block)})
		for _, l := range n.Links {
			if l.CID.Type() == cid.DagProtobuf {
				b, _ := s.Block(ctx, l.CID)
				seeds = append(seeds, seed{l.CID, b})
				break
			}
		}
	}
	dir := pbNode(t, ft.NewFSNode(ft.TDirectory))
	seeds = append(seeds, seed{sumCID(cid.DagProtobuf, dir), dir})
	leaf := ft.NewFSNode(ft.TFile)
	leaf.SetData([]byte("cidv0 leaf"))
	lb := pbNode(t, leaf)
	seeds = append(seeds, seed{cid.NewCidV0(sumCID(cid.DagProtobuf, lb).Hash()), lb})
	for i, sd := range seeds {
		pb := sd.c.Type() == cid.DagProtobuf
		write(t, "FuzzDecode", i, fmt.Sprintf("bool(%v)\n[]byte(%q)\n", pb, sd.data))
		write(t, "FuzzDecodeCID", i, fmt.Sprintf("[]byte(%q)\n[]byte(%q)\n", sd.c.Bytes(), sd.data))
		write(t, "FuzzParseCID", i, fmt.Sprintf("string(%q)\n", sd.c.String()))
		rb, err := Ref{CID: sd.c, Size: uint64(len(sd.data)) << (i * 3)}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		write(t, "FuzzRefUnmarshal", i, fmt.Sprintf("[]byte(%q)\n", rb))
	}
	write(t, "FuzzAdd", 0, fmt.Sprintf("[]byte(%q)\nuint16(%d)\n", "abcdefghij", 30000))
	write(t, "FuzzAdd", 1, fmt.Sprintf("[]byte(%q)\nuint16(%d)\n", "", 5))
}

// truncated keeps a raw leaf's seed small.
func truncated(b []byte) []byte {
	if len(b) > 4096 {
		return b[:4096]
	}
	return b
}

func write(t *testing.T, target string, i int, body string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}
