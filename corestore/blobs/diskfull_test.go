package blobs

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// fullDisk is a datastore that fails every write after the first n with ENOSPC, as a full disk
// does.
type fullDisk struct {
	ds.Batching
	left atomic.Int64
}

func (f *fullDisk) Put(ctx context.Context, k ds.Key, v []byte) error {
	if f.left.Add(-1) < 0 {
		return &pathError{syscall.ENOSPC}
	}
	return f.Batching.Put(ctx, k, v)
}

func (f *fullDisk) Batch(ctx context.Context) (ds.Batch, error) {
	return ds.NewBasicBatch(f), nil
}

type pathError struct{ err error }

func (e *pathError) Error() string { return "write /blobs/blocks/XX/CIQ.data: " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// TestAddFullDisk: an Add on a full disk fails with the disk's error, says so in one line, and
// records and pins nothing.
func TestAddFullDisk(t *testing.T) {
	ctx := context.Background()
	meta := dssync.MutexWrap(ds.NewMapDatastore())
	blocks := &fullDisk{Batching: dssync.MutexWrap(ds.NewMapDatastore())}
	blocks.left.Store(20)
	s, err := New(meta, WithBlockDatastore(blocks))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Add(ctx, io.LimitReader(seeded(5), 64*ChunkSize+1), WithPin())
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Add on a full disk: %v, want ENOSPC", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("error %q is not one clear line", err)
	}
	if pins, _ := s.Pins(ctx); len(pins) != 0 {
		t.Fatal("a failed Add pinned")
	}
	if roots, _ := s.Roots(ctx); len(roots) != 0 {
		t.Fatal("a failed Add recorded a blob")
	}
	t.Log(err)
}
