package corestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestAppendRefusesBlocksOverMaxBlockSize: a block over MaxBlockSize (issue 13 item 5: 20 MiB)
// is ErrBlockTooLarge, whose message gives the limit, and nothing of the call is appended; a block
// of exactly MaxBlockSize is appended and read back.
func TestAppendRefusesBlocksOverMaxBlockSize(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, err := s.Create(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	for _, call := range [][][]byte{
		{make([]byte, 20<<20)},
		{make([]byte, MaxBlockSize+1)},
		{[]byte("small"), make([]byte, MaxBlockSize+1), []byte("small")},
	} {
		_, err := c.Append(ctx, call...)
		if !errors.Is(err, ErrBlockTooLarge) || !strings.Contains(err.Error(), strconv.Itoa(MaxBlockSize)) {
			t.Fatalf("append of %d blocks with one over the limit: %v; want ErrBlockTooLarge giving the limit", len(call), err)
		}
		if c.Length() != 1 {
			t.Fatalf("a refused append changed the length to %d", c.Length())
		}
	}
	max := make([]byte, MaxBlockSize)
	max[MaxBlockSize-1] = 7
	if n, err := c.Append(ctx, max); err != nil || n != 2 {
		t.Fatalf("append of a MaxBlockSize block: %d, %v", n, err)
	}
	got, err := c.Get(ctx, 1)
	if err != nil || len(got) != MaxBlockSize || got[MaxBlockSize-1] != 7 {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	if err := c.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEncryptedBlockLimitCountsPadding: an encrypted core stores EncryptionPadding bytes before
// each block, so its largest plaintext block is MaxBlockSize - EncryptionPadding.
func TestEncryptedBlockLimitCountsPadding(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	key, err := ParseEncryptionKey(strings.Repeat("01", 32))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(ctx, "sealed", WithEncryptionKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, make([]byte, MaxBlockSize-EncryptionPadding+1)); !errors.Is(err, ErrBlockTooLarge) {
		t.Fatalf("append of a plaintext block whose stored form is over the limit: %v", err)
	}
	if _, err := c.Append(ctx, make([]byte, MaxBlockSize-EncryptionPadding)); err != nil {
		t.Fatal(err)
	}
	if stored, err := c.GetStored(ctx, 0); err != nil || len(stored) != MaxBlockSize {
		t.Fatalf("stored block: %d bytes, %v; want %d", len(stored), err, MaxBlockSize)
	}
}

// TestAppendToReplicaIsReadOnly: appending to a replica is ErrReadOnly, wrapped with the core.
func TestAppendToReplicaIsReadOnly(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	r, err := s.Replica(ctx, Key{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Append(ctx, []byte("x"))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), r.Key().String()) {
		t.Fatalf("append to a replica: %v; want ErrReadOnly naming the core", err)
	}
}

// TestLargeBatchOfSmallBlocks: a call with more small blocks than one Badger transaction takes
// is split into several atomic appends, not refused as too large (65,536 one-byte blocks were
// ErrTooLarge before maxTxnBlocks was halved).
func TestLargeBatchOfSmallBlocks(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, _ := s.Create(ctx, "many")
	const n = 1<<16 + 10
	blocks := make([][]byte, n)
	for i := range blocks {
		blocks[i] = []byte{byte(i)}
	}
	if l, err := c.Append(ctx, blocks...); err != nil || l != n {
		t.Fatalf("append of %d one-byte blocks: %d, %v", n, l, err)
	}
	if b, err := c.Get(ctx, n-1); err != nil || b[0] != byte((n-1)%256) {
		t.Fatalf("last block: %v, %v", b, err)
	}
}

// TestTxnTooBigIsErrTooLarge: when Badger refuses a transaction as too big, the error is
// ErrTooLarge for errors.Is.
func TestTxnTooBigIsErrTooLarge(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, _ := s.Create(ctx, "c")
	err := c.commit(func(*badger.Txn) error { return fmt.Errorf("set: %w", badger.ErrTxnTooBig) })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v; want ErrTooLarge", err)
	}
}

// TestCheckName: the names a core may have, and that Store.Create gives CheckName's error, which
// always carries ErrBadName's statement of the rule.
func TestCheckName(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	key := s.KeyForName("some core")
	hexKey := key.String()
	good := []string{
		"contacts", "a", strings.Repeat("x", maxNameLen), "联系人", "name with spaces", "émoji 🙂",
		hexKey[:63], hexKey + "0", strings.Repeat("g", 64), // not keys: 63 or 65 characters, or not hex
		EncodeZBase32(key[:])[:51],
	}
	bad := []string{
		"", strings.Repeat("x", maxNameLen+1),
		"a\nb", "line\n", "a\rb", "tab\there", "nul\x00", "del\x7f", "c1\u0085", "ls\u2028", "ps\u2029",
		"\xff\xfe", "ok\xc3",
		hexKey, strings.ToUpper(hexKey), " " + hexKey + " ", EncodeZBase32(key[:]),
	}
	for _, name := range good {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v; want nil", name, err)
		}
	}
	for _, name := range bad {
		err := CheckName(name)
		if !errors.Is(err, ErrBadName) || !strings.HasSuffix(err.Error(), ErrBadName.Error()) {
			t.Errorf("CheckName(%q) = %v; want ErrBadName ending with the rule", name, err)
			continue
		}
		_, cerr := s.Create(ctx, name)
		if cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("Create(%q) = %v; want CheckName's error %v", name, cerr, err)
		}
	}
	if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("refused names created cores: %d, %v", len(keys), err)
	}
	if c, err := s.Create(ctx, "contacts"); err != nil || c.Name() != "contacts" {
		t.Fatalf("Create(contacts): %v", err)
	}
}
