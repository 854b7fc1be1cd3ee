package corestore

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Every decoder of stored or remote bytes has a fuzz target. Seed corpora live in
// testdata/fuzz/<Target>/; regenerate them with `go test ./corestore -run TestWriteFuzzCorpus -update-corpus`.

func FuzzDecodeHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		again, err := decodeHeader(h.encode())
		if err != nil {
			t.Fatalf("re-decoding an accepted header: %v", err)
		}
		if !bytes.Equal(again.encode(), h.encode()) {
			t.Fatal("header does not round-trip")
		}
	})
}

func FuzzDecodeNodePage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeNodePage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.encode(), b) {
			t.Fatal("node page does not round-trip")
		}
	})
}

func FuzzDecodeSegment(f *testing.F) {
	// External blocks are stood in for by zeros of their length, from one shared buffer.
	zeros := sync.OnceValue(func() []byte { return make([]byte, maxTxnBytes) })
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := segmentCount(b)
		if err != nil {
			return
		}
		file, external := segmentFile(b, n)
		var blocks [][]byte
		for i := 0; i < n; i++ {
			var blk []byte
			if external {
				lo, hi, err := segmentSpan(b, n, i)
				if err != nil {
					return // offsets inside are inconsistent: rejected, not a panic
				}
				blk = zeros()[:hi-lo]
			} else if blk, err = segmentBlock(b, i); err != nil {
				return
			}
			blocks = append(blocks, blk)
		}
		if _, _, err := segmentSpan(b, n, n); err == nil {
			t.Fatal("block past the end accepted")
		}
		if !external {
			if enc := encodeSegment(blocks); len(enc) != len(b) {
				t.Fatalf("re-encoded segment is %d bytes, input %d", len(enc), len(b))
			}
			return
		}
		if !bytes.Equal(encodeExternalSegment(blocks, file), b) {
			t.Fatal("external segment does not round-trip")
		}
		// Any part of it describes the same bytes of the data file.
		lo, hi := n/3, n-n/3
		part := rebaseExternal(b, n, lo, hi)
		m, err := segmentCount(part)
		if err != nil || m != hi-lo {
			t.Fatalf("blocks [%d, %d) of an external segment: %d blocks, %v", lo, hi, m, err)
		}
		if pf, _ := segmentFile(part, m); pf != file+uint64(segmentOffset(b, lo)) {
			t.Fatalf("blocks [%d, %d) start at %d in the data file, want %d", lo, hi, pf, file+uint64(segmentOffset(b, lo)))
		}
	})
}

func FuzzDecodeUnsynced(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUnsynced(b)
		if err != nil {
			return
		}
		if !bytes.Equal(u.encode(), b) {
			t.Fatal("unsynced record does not round-trip")
		}
	})
}

func FuzzDecodeBitPage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeBitPage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.encode(), b) {
			t.Fatal("bit page does not round-trip")
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatal("manifest does not round-trip")
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if k2, err := ParseKey(k.String()); err != nil || k2 != k {
			t.Fatal("key does not round-trip through hex")
		}
	})
}

// fuzzProofFixture is a small core, a replica's view of it at length 5, and a valid upgrade proof.
type fuzzProofFixture struct {
	core  *Core
	local Tree
	proof *Proof
}

func newFuzzProofFixture(t testing.TB) fuzzProofFixture {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), WithPrimaryKey([32]byte{7}), WithDurability(false))
	c, _ := s.Create(ctx, "fuzz")
	c.Append(ctx, blocksN(5, "f")...)
	local := c.Tree()
	c.Append(ctx, blocksN(20, "g")...)
	p, err := c.Prove(ctx, ProofRequest{Start: 3, End: 9, Upgrade: true, HaveLength: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyProof(c.Key(), c.Manifest(), local, c.rootsAt, p); err != nil {
		t.Fatal(err)
	}
	return fuzzProofFixture{c, local, p}
}

// FuzzVerifyProof mutates a valid proof at fuzzer-chosen places; every real change must be
// rejected and nothing may panic.
func FuzzVerifyProof(f *testing.F) {
	fx := newFuzzProofFixture(f)
	f.Fuzz(func(t *testing.T, field uint8, pos uint16, bit uint8, delta uint64) {
		q := cloneProof(fx.proof)
		changed := true
		switch field % 8 {
		case 0:
			b := q.Blocks[int(pos)%len(q.Blocks)]
			if len(b) == 0 {
				return
			}
			b[int(pos)%len(b)] ^= 1 << (bit % 8)
		case 1:
			n := &q.Nodes[int(pos)%len(q.Nodes)]
			n.Hash[int(pos)%32] ^= 1 << (bit % 8)
		case 2:
			n := &q.Nodes[int(pos)%len(q.Nodes)]
			n.Index += delta
			changed = delta != 0
		case 3:
			q.Upgrade.Signature[int(pos)%64] ^= 1 << (bit % 8)
		case 4:
			q.Upgrade.Length += delta
			changed = delta != 0
		case 5:
			q.Start += delta
			changed = delta != 0
		case 6:
			q.Nodes = q.Nodes[:int(pos)%len(q.Nodes)]
		case 7:
			q.Blocks = append(q.Blocks, bytes.Repeat([]byte{bit}, int(pos%64)))
		}
		_, err := verifyProof(fx.core.Key(), fx.core.Manifest(), fx.local, fx.core.rootsAt, q)
		if changed && err == nil {
			t.Fatalf("mutation %d accepted", field%8)
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// TestWriteFuzzCorpus writes seed corpora made from real encodings when -update-corpus is set,
// and otherwise checks that every fuzz target has a seed corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	ctx := context.Background()
	seeds := map[string][][]byte{}
	if *updateCorpus {
		s := openStore(t, t.TempDir(), WithPrimaryKey([32]byte{3}))
		c, _ := s.Create(ctx, "seed")
		c.Append(ctx, blocksN(70, "s")...)
		c.Truncate(ctx, 40)
		c.Clear(ctx, 3, 9)
		h := c.hdr.Load()
		seeds["FuzzDecodeHeader"] = [][]byte{h.encode(), (&header{Key: Key{1}}).encode()}
		pg, _ := c.nodePage(0)
		pg1, _ := c.nodePage(1)
		seeds["FuzzDecodeNodePage"] = [][]byte{pg.encode(), pg1.encode(), (&nodePage{}).encode()}
		seeds["FuzzDecodeSegment"] = [][]byte{encodeSegment(blocksN(3, "x")), encodeSegment(nil), encodeSegment([][]byte{{}, {1}}),
			encodeExternalSegment(blocksN(5, "x"), 4096), encodeExternalSegment(nil, 0)}
		seeds["FuzzDecodeUnsynced"] = [][]byte{unsynced{ID: 3, Start: 100, Count: 16, Size: 1 << 20}.encode(), make([]byte, 31)}
		bp, _ := c.bitPage(0)
		seeds["FuzzDecodeBitPage"] = [][]byte{bp.encode()}
		seeds["FuzzDecodeManifest"] = [][]byte{c.Manifest().Encode(), {1, 0, 0, 1, 1, 0}}
		for name, list := range seeds {
			dir := filepath.Join("testdata", "fuzz", name)
			os.MkdirAll(dir, 0o755)
			for i, b := range list {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644)
			}
		}
		keyDir := filepath.Join("testdata", "fuzz", "FuzzParseKey")
		os.MkdirAll(keyDir, 0o755)
		ck := c.Key()
		for i, k := range []string{ck.String(), EncodeZBase32(ck[:]), "zz"} {
			os.WriteFile(filepath.Join(keyDir, fmt.Sprintf("seed-%d", i)), []byte(fmt.Sprintf("go test fuzz v1\nstring(%q)\n", k)), 0o644)
		}
		proofDir := filepath.Join("testdata", "fuzz", "FuzzVerifyProof")
		os.MkdirAll(proofDir, 0o755)
		for field := 0; field < 8; field++ {
			os.WriteFile(filepath.Join(proofDir, fmt.Sprintf("seed-%d", field)),
				[]byte(fmt.Sprintf("go test fuzz v1\nuint8(%d)\nuint16(%d)\nuint8(%d)\nuint64(%d)\n", field, field*7, field, field+1)), 0o644)
		}
	}
	for _, name := range []string{"FuzzDecodeHeader", "FuzzDecodeNodePage", "FuzzDecodeSegment", "FuzzDecodeBitPage",
		"FuzzDecodeUnsynced", "FuzzDecodeManifest", "FuzzParseKey", "FuzzVerifyProof"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) == 0 {
			t.Errorf("fuzz target %s has no seed corpus in testdata/fuzz", name)
		}
	}
}

// TestParseKeyForms checks the two accepted key forms and the rejected ones.
func TestParseKeyForms(t *testing.T) {
	k := Key{1, 2, 3, 250}
	cases := []struct {
		in string
		ok bool
	}{
		{k.String(), true},
		{EncodeZBase32(k[:]), true},
		{"  " + k.String() + "\n", true},
		{k.String()[:63], false},
		{k.String()[:62] + "zz", false},
		{"", false},
		{EncodeZBase32(k[:])[:51] + "!", false},
	}
	for _, tc := range cases {
		got, err := ParseKey(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != k) {
			t.Errorf("ParseKey(%q) = %v, %v", tc.in, got, err)
		}
	}
}
