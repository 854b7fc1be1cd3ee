package corestore

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawNodePage encodes a node page with the given mask and one (size, hash) record per set bit,
// whatever the bits are: the bytes a corrupt page could hold.
func rawNodePage(mask uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, mask)
	for s := 0; s < 64; s++ {
		if mask&(1<<s) != 0 {
			b = binary.LittleEndian.AppendUint64(b, uint64(s+1))
			b = append(b, make([]byte, 32)...)
			b[len(b)-1] = byte(s)
		}
	}
	return b
}

// TestDecodeNodePageRejectsHighMaskBits is the regression test for issue 13 item 8: the length
// check counted mask bits 32-63, which name no slot, so a corrupt page was accepted and the
// records after the low slots' were silently dropped.
func TestDecodeNodePageRejectsHighMaskBits(t *testing.T) {
	cases := []struct {
		name string
		mask uint64
		ok   bool
	}{
		{"empty", 0, true},
		{"all 32 slots", 1<<32 - 1, true},
		{"slot 31 only", 1 << 31, true},
		{"bit 32", 1 << 32, false},
		{"bit 63 with slot 0", 1<<63 | 1, false},
		{"16 low and 16 high bits", 0xffff | 0xffff<<32, false},
		{"every bit", ^uint64(0), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := rawNodePage(tc.mask)
			p, err := decodeNodePage(b)
			if !tc.ok {
				if !errors.Is(err, errDecode) || !strings.Contains(err.Error(), "mask") {
					t.Fatalf("decodeNodePage(mask %#x) = %v; want a malformed-record error about the mask", tc.mask, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(p.encode()) != string(b) {
				t.Fatal("an accepted page does not round-trip")
			}
			for s := uint(0); s < nodesPerPage; s++ {
				size, h, ok := p.get(s)
				if ok != (tc.mask&(1<<s) != 0) || (ok && (size != uint64(s+1) || h[31] != byte(s))) {
					t.Fatalf("slot %d: size %d hash[31] %d present %v", s, size, h[31], ok)
				}
			}
		})
	}
}

// TestNodePageCorpusHasIssueInputs keeps the reproducers of issue 13 item 8 in the seed corpus,
// so that `go test` (which runs the corpus) fails if the fix is lost.
func TestNodePageCorpusHasIssueInputs(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeNodePage")
	for _, name := range []string{"c83a51960e4ed2fd", "issue13-bit32", "issue13-low16-high16", "809f5da83b686721", "32968ebce1b4ae69"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("corpus entry %s: %v", name, err)
		}
	}
	// The issue's two names, read as bytes, are 8-byte pages with set bits and no records.
	for _, h := range []string{"809f5da83b686721", "32968ebce1b4ae69"} {
		b, _ := hex.DecodeString(h)
		if _, err := decodeNodePage(b); err == nil {
			t.Errorf("%s accepted", h)
		}
	}
}
