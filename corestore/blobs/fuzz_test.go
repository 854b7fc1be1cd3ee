package blobs

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// FuzzDecode feeds arbitrary blocks to Decode under the CID of their own bytes, so the fuzzer
// gets past the hash check into the dag-pb and UnixFS parsing. Decode must never panic, and a
// node it accepts must be consistent.
func FuzzDecode(f *testing.F) {
	f.Add(false, []byte("raw leaf"))
	f.Add(true, []byte{})
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, pb bool, data []byte) {
		codec := uint64(cid.Raw)
		if pb {
			codec = cid.DagProtobuf
		}
		c := sumCID(codec, data)
		n, err := Decode(c, data, lim)
		if err != nil {
			return
		}
		total := uint64(len(n.Data))
		for _, l := range n.Links {
			total += l.Size
			if err := CheckCID(l.CID); err != nil {
				t.Fatalf("accepted a link to %s: %v", l.CID, err)
			}
		}
		if total != n.FileSize {
			t.Fatalf("accepted a node whose sizes do not add up: %d != %d", total, n.FileSize)
		}
		if len(n.Links) > lim.MaxLinks {
			t.Fatalf("accepted %d links", len(n.Links))
		}
		// Flipping a byte must be caught by the hash.
		if len(data) > 0 {
			bad := append([]byte{}, data...)
			bad[0] ^= 0x80
			if _, err := Decode(c, bad, lim); err == nil {
				t.Fatal("accepted a block whose bytes do not match its CID")
			}
		}
	})
}

// FuzzDecodeCID feeds arbitrary CID bytes and blocks: whatever a peer sends as a CID.
func FuzzDecodeCID(f *testing.F) {
	f.Add(sumCID(cid.Raw, []byte("x")).Bytes(), []byte("x"))
	f.Add(cid.NewCidV0(sumCID(cid.Raw, []byte("x")).Hash()).Bytes(), []byte("x"))
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, cb, data []byte) {
		c, err := cid.Cast(cb)
		if err != nil {
			return
		}
		if _, err := Decode(c, data, lim); err != nil {
			return
		}
		if err := CheckCID(c); err != nil {
			t.Fatalf("decoded a block under unsupported %s", c)
		}
		if Verify(c, data) != nil {
			t.Fatal("decoded a block that does not verify")
		}
	})
}

// FuzzParseCID: ParseCID never panics and accepts only supported CIDs.
func FuzzParseCID(f *testing.F) {
	for _, s := range []string{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", "zb2rh", "b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCID(s)
		if err != nil {
			return
		}
		if CheckCID(c) != nil {
			t.Fatalf("ParseCID accepted %s", c)
		}
	})
}

// FuzzAdd imports arbitrary input, repeated to reach several leaves: Add and CIDOf agree, the
// blob reads back byte for byte and is complete.
func FuzzAdd(f *testing.F) {
	f.Add([]byte("hello"), uint16(1))
	f.Add([]byte{0}, uint16(0))
	f.Add(bytes.Repeat([]byte{1, 2, 3}, 1000), uint16(300))
	f.Fuzz(func(t *testing.T, chunk []byte, repeat uint16) {
		// At most 1 MiB (four leaves and a root): inputs of several MiB took long enough under
		// the fuzzer's instrumentation that a worker missed the end of a short run ("context
		// deadline exceeded" in CI's 3 s smoke run).
		if len(chunk)*int(repeat) > 1<<20 {
			return
		}
		data := bytes.Repeat(chunk, int(repeat))
		ctx := context.Background()
		s, err := New(dssync.MutexWrap(ds.NewMapDatastore()))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := s.Add(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want, err := CIDOf(ctx, bytes.NewReader(data))
		if err != nil || want != ref {
			t.Fatalf("CIDOf %+v, %v; Add %+v", want, err, ref)
		}
		if ok, err := s.Complete(ctx, ref.CID); !ok || err != nil {
			t.Fatalf("not complete: %v", err)
		}
		r, err := s.Open(ctx, ref.CID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(data))
		}
	})
}
