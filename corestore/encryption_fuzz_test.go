package corestore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzCoreKey is the core key the encryption record fuzz target decodes records for.
var fuzzCoreKey = Key{7, 7, 7}

// FuzzDecodeEncRecord decodes encryption records: an accepted record re-encodes to the same
// bytes, and its parts agree (the block key passes the key check value and derives from the
// encryption key).
func FuzzDecodeEncRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeEncRecord(fuzzCoreKey, b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("record does not round-trip: %x", b)
		}
		if r.Block != nil && !r.Check.Matches(*r.Block) {
			t.Fatal("accepted a block key that fails its key check value")
		}
		if r.Key != nil && DeriveBlockKey(fuzzCoreKey, *r.Key) != *r.Block {
			t.Fatal("accepted an encryption key that does not derive the block key")
		}
	})
}

// FuzzDecryptBlock decrypts arbitrary stored bytes: it never panics, and encrypting the plaintext
// again at the fork the padding names gives back the same stored bytes.
func FuzzDecryptBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, key []byte, index uint64, stored []byte) {
		var bk BlockKey
		copy(bk[:], key)
		pt, err := DecryptBlock(bk, index, stored)
		fork, ferr := BlockFork(bk, index, stored)
		if len(stored) < EncryptionPadding {
			if err == nil || ferr == nil {
				t.Fatal("accepted a block shorter than the padding")
			}
			return
		}
		if err != nil || ferr != nil {
			t.Fatalf("decrypt: %v %v", err, ferr)
		}
		if again := EncryptBlock(bk, index, fork, pt); !bytes.Equal(again, stored) {
			t.Fatal("encrypt(decrypt(stored)) differs from stored")
		}
	})
}

// TestEncryptionFuzzCorpus writes the seed corpora of the encryption fuzz targets when
// -update-corpus is set, and otherwise checks that they exist.
func TestEncryptionFuzzCorpus(t *testing.T) {
	if *updateCorpus {
		ek := EncryptionKey{4, 2}
		bk := DeriveBlockKey(fuzzCoreKey, ek)
		records := []encRecord{{}, {Check: bk.Check()}, {Check: bk.Check(), Block: &bk}, {Check: bk.Check(), Block: &bk, Key: &ek}}
		dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEncRecord")
		os.MkdirAll(dir, 0o755)
		for i, r := range records {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", r.encode())), 0o644)
		}
		dir = filepath.Join("testdata", "fuzz", "FuzzDecryptBlock")
		os.MkdirAll(dir, 0o755)
		for i, st := range [][]byte{EncryptBlock(bk, 3, 1, []byte("hello")), EncryptBlock(bk, 0, 0, nil), {1, 2, 3}} {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)),
				[]byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint64(%d)\n[]byte(%q)\n", bk[:], i*3, st)), 0o644)
		}
	}
	for _, name := range []string{"FuzzDecodeEncRecord", "FuzzDecryptBlock"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) == 0 {
			t.Errorf("fuzz target %s has no seed corpus in testdata/fuzz", name)
		}
	}
}
