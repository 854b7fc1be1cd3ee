package corestore

import (
	"context"
	"testing"
)

// TestHeld: a writable core holds its whole length; a cleared range is not held.
func TestHeld(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	c, err := s.Create(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < 70000; lo += 10000 {
		blocks := make([][]byte, 10000)
		for i := range blocks {
			blocks[i] = []byte{byte(i)}
		}
		if _, err := c.Append(ctx, blocks...); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Held(); got != 70000 {
		t.Fatalf("held %d, want 70000", got)
	}
	if err := c.Clear(ctx, 100, 40100); err != nil {
		t.Fatal(err)
	}
	if got := c.Held(); got != 30000 {
		t.Fatalf("held after clear %d, want 30000", got)
	}
}
