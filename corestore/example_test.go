package corestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/datomspace/datomspace/corestore"
)

// A store keeps a disk reserve: when a write would eat into it, the write fails with ErrDiskFull,
// nothing is written, and the same write succeeds once space is freed.
func ExampleWithDiskReserve() {
	dir, err := os.MkdirTemp("", "corestore-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := corestore.Open(ctx, dir, corestore.WithDiskReserve(4<<20), corestore.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	c, err := s.Create(ctx, "log")
	if err != nil {
		panic(err)
	}
	_, err = c.Append(ctx, []byte("hello"))
	switch {
	case errors.Is(err, corestore.ErrDiskFull):
		fmt.Println("the disk is full: free space and retry")
	case err != nil:
		panic(err)
	default:
		fmt.Println("appended; read-only:", s.ReadOnly())
	}
	// Output: appended; read-only: false
}
