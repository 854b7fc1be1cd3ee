//go:build linux

package corestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated returns the disk space the store's data file takes.
func allocated(t *testing.T, s *Store) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(s.dir, DataFileName), &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestDroppedBlocksFreeDiskSpace: blocks a replica clears, or loses to a truncation, give their
// disk space back, while the blocks it keeps stay readable.
func TestDroppedBlocksFreeDiskSpace(t *testing.T) {
	ctx := context.Background()
	probe, err := os.CreateTemp(t.TempDir(), "punch")
	if err != nil {
		t.Fatal(err)
	}
	probe.Write(make([]byte, 8192))
	if err := punchHole(probe, 0, 4096); err != nil {
		t.Skipf("the file system cannot punch holes: %v", err)
	}
	probe.Close()
	owner, _ := openStore(t, t.TempDir()).Create(ctx, "o")
	blocks := make([][]byte, 64)
	for i := range blocks {
		blocks[i] = bytes.Repeat([]byte{byte(i)}, 64<<10)
	}
	owner.Append(ctx, blocks...)
	s := openStore(t, t.TempDir())
	rep, _ := s.Replica(ctx, owner.Key())
	syncReplica(t, owner, rep, 0, 64)
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	full := allocated(t, s)
	if full < 4<<20 {
		t.Fatalf("the data file takes %d bytes for 4 MiB of blocks", full)
	}
	if err := rep.Clear(ctx, 8, 40); err != nil {
		t.Fatal(err)
	}
	// Until the clear is durable, its bytes stay: after a power loss the database could still
	// point to them.
	if got := allocated(t, s); got < full {
		t.Fatalf("the data file shrank from %d to %d bytes before the clear was synced", full, got)
	}
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := allocated(t, s); got > full-(2<<20) {
		t.Fatalf("clearing 2 MiB of blocks left the data file at %d bytes, from %d", got, full)
	}
	// A new fork from block 20 on drops the replica's blocks past it.
	if err := owner.Truncate(ctx, 20); err != nil {
		t.Fatal(err)
	}
	owner.Append(ctx, []byte("new"))
	syncReplica(t, owner, rep, 20, 21)
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := allocated(t, s); got > 1<<20 {
		t.Fatalf("after the fork the data file takes %d bytes for 8 blocks of 64 KiB", got)
	}
	got, err := rep.GetRange(ctx, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if !bytes.Equal(b, blocks[i]) {
			t.Fatalf("kept block %d changed", i)
		}
	}
	checkReplica(t, rep, append(append([][]byte(nil), blocks[:20]...), []byte("new")))
}
