package corestore

import (
	"context"
	"errors"
	"testing"
)

// TestDelete: a replica with blocks, and an empty writable core, are deleted whole and stay
// deleted across a reopen; a writable core with blocks is refused; a stale handle cannot write.
func TestDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	owner := openStore(t, t.TempDir())
	oc, err := owner.Create(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Append(ctx, blocksN(500, "x")...); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir)
	rep, err := s.Replica(ctx, oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	fetch(t, oc, rep, 0, 500)
	empty, err := s.Create(ctx, "empty")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := s.Create(ctx, "mine")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mine.Append(ctx, []byte("only copy")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, mine.Key()); !errors.Is(err, ErrNotDeletable) {
		t.Fatalf("delete of a writable core with blocks: %v", err)
	}
	for _, k := range []Key{rep.Key(), empty.Key()} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
	}
	if _, err := rep.Append(ctx, []byte("x")); err == nil {
		t.Fatal("a stale handle appended")
	}
	for _, kind := range []byte{kindSegment, kindNodePage, kindBitfield} {
		if n := countPrefix(t, s, coreRecordKey(kind, rep.id)); n != 0 {
			t.Errorf("%d records of kind %d left", n, kind)
		}
	}
	s.Close()
	s = openStore(t, dir)
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0] != mine.Key() {
		t.Fatalf("after reopen: %v %v", keys, err)
	}
	// The replica can be fetched again from scratch.
	rep2, err := s.Replica(ctx, oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	fetch(t, oc, rep2, 0, 500)
	if rep2.Held() != 500 {
		t.Fatalf("refetched %d blocks", rep2.Held())
	}
}
