package blobsync

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestWireRoundTrip(t *testing.T) {
	var cs []cid.Cid
	for i := range MaxWants {
		w := testWant(cid.Raw, i)
		if i%2 == 0 {
			w.CID = cid.NewCidV0(w.CID.Hash())
		}
		cs = append(cs, w.CID)
	}
	b := appendRequest(nil, cs)
	b = appendRequest(b, cs[:1])
	r := bufio.NewReader(bytes.NewReader(b))
	for _, want := range [][]cid.Cid{cs, cs[:1]} {
		got, err := readRequest(r)
		if err != nil || len(got) != len(want) {
			t.Fatalf("readRequest = %d CIDs, %v", len(got), err)
		}
		for i := range got {
			if !got[i].Equals(want[i]) {
				t.Fatalf("CID %d: %s, want %s", i, got[i], want[i])
			}
		}
	}
	if _, err := readRequest(r); err != io.EOF {
		t.Fatalf("after the last request: %v, want EOF", err)
	}
	resp := appendBlockHeader(nil, 5)
	resp = append(resp, "hello"...)
	resp = append(resp, StatusDontHave)
	resp = appendBlockHeader(resp, 0)
	rr := bufio.NewReader(bytes.NewReader(resp))
	if b, ok, err := readResponse(rr, nil, 10); err != nil || !ok || string(b) != "hello" {
		t.Fatalf("block: %q %v %v", b, ok, err)
	}
	if _, ok, err := readResponse(rr, nil, 10); err != nil || ok {
		t.Fatalf("don't-have: %v %v", ok, err)
	}
	if b, ok, err := readResponse(rr, nil, 10); err != nil || !ok || len(b) != 0 {
		t.Fatalf("empty block: %q %v %v", b, ok, err)
	}
}

func TestWireRejects(t *testing.T) {
	sha512, _ := mh.Sum([]byte("x"), mh.SHA2_512, -1)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"zero CIDs", []byte{0}},
		{"too many CIDs", appendRequest(nil, make([]cid.Cid, 0))[:0]},
		{"count overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"empty CID", []byte{1, 0}},
		{"long CID", []byte{1, MaxCIDLen + 1}},
		{"truncated", []byte{1, 36, 1, 0x55}},
		{"not a CID", []byte{1, 3, 9, 9, 9}},
		{"unsupported hash", appendRequest(nil, []cid.Cid{cid.NewCidV1(cid.Raw, sha512)})},
	} {
		if c.name == "too many CIDs" {
			c.b = []byte{0x81, 0x02} // 257
		}
		_, err := readRequest(bufio.NewReader(bytes.NewReader(c.b)))
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", c.name, err)
		}
	}
	for _, b := range [][]byte{{}, {7}, {0}, {0, 11}, {0, 3, 'a'}} {
		if _, _, err := readResponse(bufio.NewReader(bytes.NewReader(b)), nil, 10); !errors.Is(err, ErrProtocol) {
			t.Errorf("response %x: %v, want ErrProtocol", b, err)
		}
	}
}

// FuzzReadRequest: what a client sends to a server. Never a panic; what parses re-encodes to
// the bytes it came from, and holds only supported CIDs.
func FuzzReadRequest(f *testing.F) {
	f.Add(appendRequest(nil, []cid.Cid{testWant(cid.Raw, 1).CID, testWant(cid.DagProtobuf, 2).CID}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		cs, err := readRequest(r)
		if err != nil {
			return
		}
		for _, c := range cs {
			if blobs.CheckCID(c) != nil {
				t.Fatalf("accepted %s", c)
			}
		}
		used := len(b) - r.Buffered()
		if enc := appendRequest(nil, cs); !bytes.Equal(enc, b[:used]) {
			t.Fatalf("re-encoded %x, read %x", enc, b[:used])
		}
	})
}

// FuzzReadResponse: what a server sends to a client.
func FuzzReadResponse(f *testing.F) {
	f.Add(append(appendBlockHeader(nil, 3), "abc"...))
	f.Add([]byte{StatusDontHave})
	f.Fuzz(func(t *testing.T, b []byte) {
		data, ok, err := readResponse(bufio.NewReader(bytes.NewReader(b)), nil, 1<<16)
		if err != nil {
			return
		}
		if !ok && len(data) != 0 || len(data) > 1<<16 {
			t.Fatalf("ok %v with %d bytes", ok, len(data))
		}
	})
}
