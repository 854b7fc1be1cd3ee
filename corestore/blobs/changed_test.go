package blobs

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestChanged: Changed fires when Add records a blob and when GC collects one, and not for a
// GC that removes no recorded blob.
func TestChanged(t *testing.T) {
	ctx := context.Background()
	s := newBadgerStore(t)
	fired := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}
	ch := s.Changed()
	if fired(ch) {
		t.Fatal("Changed fired before any change")
	}
	ref, err := s.Add(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 3*ChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	if !fired(ch) {
		t.Fatal("Changed did not fire after Add")
	}
	if err := s.Pin(ctx, ref.CID); err != nil {
		t.Fatal(err)
	}
	ch = s.Changed()
	if _, err := s.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if fired(ch) {
		t.Fatal("Changed fired for a GC that kept every blob")
	}
	if err := s.Unpin(ctx, ref.CID); err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx, nil)
	if err != nil || len(res.Roots) != 1 {
		t.Fatalf("GC: %+v, %v", res, err)
	}
	if !fired(ch) {
		t.Fatal("Changed did not fire after GC collected a blob")
	}
}
