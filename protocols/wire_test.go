package protocols

import (
	"bufio"
	"bytes"
	"context"
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
		&NoData{ID: 5, Reason: NoDataTooLarge},
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
	for _, m := range sampleMessages() {
		if _, err := ReadMessage(br, DefaultMaxMessageSize); err != nil {
			t.Fatal(err)
		}
		if d, ok := m.(*Data); ok && d.frameLen() != len(encodeFrame(d)) {
			t.Fatalf("frameLen %d, frame %d bytes", d.frameLen(), len(encodeFrame(d)))
		}
	}
}

// TestLargestBlockFitsOneFrame: corestore.MaxBlockSize and DefaultMaxMessageSize agree by
// construction (the package does not build otherwise); this checks the bound they rest on. A
// Data message with a block of MaxBlockSize bytes and everything else at its largest (every
// integer a 10-byte varint, as many Merkle nodes as a proof of one block can carry, an upgrade
// with 64 roots, the largest signature and manifest the decoder takes) fits in one default frame,
// is read back through the limit and decodes.
func TestLargestBlockFitsOneFrame(t *testing.T) {
	if DefaultMaxMessageSize != 16<<20 || corestore.MaxBlockSize != DefaultMaxMessageSize-blockProofRoom {
		t.Fatalf("frame %d, block %d", DefaultMaxMessageSize, corestore.MaxBlockSize)
	}
	big := ^uint64(0)
	node := corestore.Node{Index: big, Size: big, Hash: corestore.Hash{0xff}}
	nodes := make([]corestore.Node, maxBlockProofNodes)
	roots := make([]corestore.Node, maxWireRoots)
	for i := range nodes {
		nodes[i] = node
	}
	for i := range roots {
		roots[i] = node
	}
	d := &Data{ID: big, Fork: big, Start: big, Blocks: [][]byte{make([]byte, corestore.MaxBlockSize)}, Nodes: nodes,
		Upgrade: &corestore.Upgrade{From: big, Fork: big, Length: big, Roots: roots,
			Signature: make([]byte, maxWireSigBytes), Manifest: make([]byte, maxWireManifest)}}
	f := encodeFrame(d)
	overhead := len(f) - corestore.MaxBlockSize
	t.Logf("largest one-block frame: %d bytes, %d beyond the block; bound %d, room %d", len(f), overhead, maxBlockProofOverhead, blockProofRoom)
	if overhead > maxBlockProofOverhead {
		t.Fatalf("the largest one-block Data carries %d bytes beyond its block, more than the bound %d", overhead, maxBlockProofOverhead)
	}
	if len(f) > DefaultMaxMessageSize {
		t.Fatalf("frame of %d bytes, limit %d", len(f), DefaultMaxMessageSize)
	}
	m, err := ReadMessage(bufio.NewReader(bytes.NewReader(f)), DefaultMaxMessageSize)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*Data); len(got.Blocks[0]) != corestore.MaxBlockSize || len(got.Nodes) != len(nodes) || len(got.Upgrade.Roots) != len(roots) {
		t.Fatal("the largest frame does not decode to what was sent")
	}
}

// TestProofNodesOfOneBlockWithinBound: real proofs of one block, with upgrades from every length
// of a tree with many roots, carry no more Merkle nodes than maxBlockProofNodes allows for.
func TestProofNodesOfOneBlockWithinBound(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	c, err := s.Create(ctx, "roots")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1<<10 - 1 // ten roots
	var blocks [][]byte
	for i := range n {
		blocks = append(blocks, []byte{byte(i)})
	}
	if _, err := c.Append(ctx, blocks...); err != nil {
		t.Fatal(err)
	}
	most := 0
	for have := uint64(0); have < n; have += 7 {
		for _, i := range []uint64{0, have / 2, n - 1} {
			p, err := c.Prove(ctx, corestore.ProofRequest{Start: i, End: i + 1, Upgrade: true, HaveLength: have, NeedManifest: true})
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, len(p.Nodes))
			if len(p.Nodes) > maxBlockProofNodes {
				t.Fatalf("proof of block %d from %d: %d nodes", i, have, len(p.Nodes))
			}
		}
	}
	t.Logf("at most %d nodes in a proof of one block of a %d-block core (bound %d)", most, n, maxBlockProofNodes)
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
