// Package blobtest is the conformance suite every doip.BlobStore runs: a store built over
// corestore/blobs runs it as the simple stores in package doip do.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/datomspace/datomspace/doip"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TestStore runs the suite against stores newStore makes (each subtest gets a fresh one).
func TestStore(t *testing.T, newStore func(t *testing.T) doip.BlobStore) {
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		rnd := rand.New(rand.NewPCG(1, 1))
		for _, size := range []int{0, 1, 1000, 256 << 10, 3<<20 + 17} {
			b := make([]byte, size)
			for i := range b {
				b[i] = byte(rnd.IntN(256))
			}
			c, n, err := s.Put(ctx, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(size) || !c.Defined() {
				t.Fatalf("Put of %d bytes: size %d, cid %s", size, n, c)
			}
			rc, n2, err := s.Open(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || n2 != int64(size) || !bytes.Equal(got, b) {
				t.Fatalf("Open of %d bytes: %d bytes (size %d), %v", size, len(got), n2, err)
			}
		}
	})
	t.Run("content addressed", func(t *testing.T) {
		s := newStore(t)
		c1, _, err := s.Put(ctx, bytes.NewReader([]byte("same")))
		if err != nil {
			t.Fatal(err)
		}
		c2, _, err := s.Put(ctx, bytes.NewReader([]byte("same")))
		if err != nil {
			t.Fatal(err)
		}
		c3, _, err := s.Put(ctx, bytes.NewReader([]byte("other")))
		if err != nil {
			t.Fatal(err)
		}
		if !c1.Equals(c2) || c1.Equals(c3) {
			t.Fatalf("cids %s %s %s", c1, c2, c3)
		}
	})
	t.Run("missing", func(t *testing.T) {
		s := newStore(t)
		m, _ := mh.Sum([]byte("never stored"), mh.SHA2_256, -1)
		if _, _, err := s.Open(ctx, cid.NewCidV1(cid.Raw, m)); !errors.Is(err, doip.ErrBlobNotFound) {
			t.Fatalf("Open of a missing blob: %v, want ErrBlobNotFound", err)
		}
	})
	t.Run("failed put", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		if _, _, err := s.Put(ctx, io.MultiReader(bytes.NewReader([]byte("part")), errReader{boom})); !errors.Is(err, boom) {
			t.Fatalf("Put of a failing reader: %v", err)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
