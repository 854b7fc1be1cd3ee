package protocols

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/datomspace/datomspace/corestore"
)

func sampleMessages() []Message {
	h := corestore.Hash{1, 2, 3}
	return []Message{
		&Open{DiscoveryKey: bytes.Repeat([]byte{7}, 32), Capability: bytes.Repeat([]byte{9}, 32)},
		&Sync{Fork: 2, Length: 1000, Signature: bytes.Repeat([]byte{5}, 64), Contiguous: 999, Writable: true},
		&Request{ID: 17, Fork: 1, Start: 5, End: 900, Upgrade: true, HaveLength: 4, NeedManifest: true},
		&Cancel{ID: 3},
		&Data{ID: 17, Fork: 1, Start: 5, Blocks: [][]byte{[]byte("a"), {}, []byte("ccc")},
			Nodes: []corestore.Node{{Index: 3, Size: 10, Hash: h}, {Index: 0, Size: 0, Hash: h}},
			Upgrade: &corestore.Upgrade{From: 4, Fork: 1, Length: 8, Roots: []corestore.Node{{Index: 7, Size: 99, Hash: h}},
				Signature: bytes.Repeat([]byte{8}, 64), Manifest: []byte{1, 0, 0}}},
		&NoData{ID: 4},
		&Want{Start: 10, Length: 0},
		&Unwant{Start: 10, Length: 5},
		&Range{Drop: true, Start: 1, Length: 2},
		&Bitfield{Start: 8, Bits: []byte{0xff, 0x01}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		t.Run(reflect.TypeOf(m).Elem().Name(), func(t *testing.T) {
			got, err := DecodeMessage(EncodeMessage(m))
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := m.(*Data); ok {
				// The empty block decodes as an empty, non-nil slice.
				gd := got.(*Data)
				if len(gd.Blocks) != len(d.Blocks) || string(gd.Blocks[2]) != "ccc" || len(gd.Blocks[1]) != 0 ||
					!reflect.DeepEqual(gd.Nodes, d.Nodes) || !reflect.DeepEqual(gd.Upgrade, d.Upgrade) {
					t.Fatalf("data: got %+v", gd)
				}
				return
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("got %+v, want %+v", got, m)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	envelope := func(num protowire.Number, body []byte) []byte {
		b := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	badHash := protowire.AppendTag(nil, 5, protowire.BytesType)
	badHash = protowire.AppendBytes(badHash, appendBytes(nil, 3, []byte{1, 2}))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated tag", []byte{0x80}},
		{"truncated envelope", []byte{0x0a, 0x05, 0x01}},
		{"envelope wrong wire type", []byte{0x08, 0x01}},
		{"field wrong wire type", envelope(2, []byte{0x0a, 0x00})},
		{"short node hash", envelope(5, badHash)},
		{"only unknown fields", protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1)},
		{"two upgrades", envelope(5, append(envelope(6, nil), envelope(6, nil)...))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := DecodeMessage(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

func TestReadFrameLimits(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"huge length", binary.AppendUvarint(nil, 1<<62), 1 << 20, ErrMessageTooLarge},
		{"just over", append(binary.AppendUvarint(nil, 11), make([]byte, 11)...), 10, ErrMessageTooLarge},
		{"truncated body", append(binary.AppendUvarint(nil, 10), 1, 2), 100, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bufio.NewReader(bytes.NewReader(tc.in)), tc.max)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Frames round-trip, and encodeFrame agrees with AppendFrame.
	var buf []byte
	for _, m := range sampleMessages() {
		f := encodeFrame(m)
		if !bytes.Equal(f, AppendFrame(nil, m)) {
			t.Fatalf("encodeFrame(%T) differs from AppendFrame", m)
		}
		buf = append(buf, f...)
	}
	br := bufio.NewReader(bytes.NewReader(buf))
	for range sampleMessages() {
		if _, err := ReadMessage(br, DefaultMaxMessageSize); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCapability(t *testing.T) {
	ids := make([]peer.ID, 2)
	for i := range ids {
		sk, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = peer.IDFromPrivateKey(sk); err != nil {
			t.Fatal(err)
		}
	}
	a, b := ids[0], ids[1]
	key := corestore.Key{1}
	init := Capability(key, a, b, true)
	tests := []struct {
		name string
		got  []byte
		ok   bool
	}{
		{"right", init, true},
		{"responder's value", Capability(key, a, b, false), false},
		{"swapped peers", Capability(key, b, a, true), false},
		{"other key", Capability(corestore.Key{2}, a, b, true), false},
		{"discovery key as key", Capability(corestore.DiscoveryKey(key), a, b, true), false},
		{"short", init[:31], false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkCapability(tc.got, key, a, b, true); got != tc.ok {
				t.Fatalf("check = %v, want %v", got, tc.ok)
			}
		})
	}
}

func TestIntervals(t *testing.T) {
	var iv intervals
	iv.add(10, 20)
	iv.add(30, 40)
	iv.add(20, 30) // bridges both
	if iv.len() != 1 || iv.runFrom(15) != 40 || iv.has(40) || !iv.has(10) {
		t.Fatalf("merge: %+v", iv.s)
	}
	iv.remove(15, 25)
	if iv.len() != 2 || iv.has(20) || !iv.has(25) || iv.runFrom(10) != 15 {
		t.Fatalf("remove: %+v", iv.s)
	}
	if n, ok := iv.nextFrom(16); !ok || n != 25 {
		t.Fatalf("nextFrom = %d %v", n, ok)
	}
	capped := intervals{max: 2}
	capped.add(0, 1)
	capped.add(5, 6)
	if capped.add(10, 11) || !capped.add(1, 2) {
		t.Fatal("cap not enforced, or a merge refused")
	}
}
