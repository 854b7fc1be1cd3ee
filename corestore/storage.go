package corestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Storage layout. One Badger database holds every core. Each core has a local 8-byte id; its
// records are keyed by a one-byte kind, the id, and a big-endian position, so a core's blocks,
// nodes and bitfield are each one contiguous key range.
//
//	meta                            -> storeMeta
//	kindKeyIndex  || coreKey        -> id (u64 BE)
//	kindDiscIndex || discoveryKey   -> coreKey
//	kindHeader    || id             -> header
//	kindSegment   || id || start    -> segment: a run of blocks appended or downloaded together
//	kindNodePage  || id || page     -> nodePage: tree nodes [32*page, 32*page+32)
//	kindBitfield  || id || page     -> bitfield page: blocks [32768*page, 32768*page+32768)
//	kindEncryption || id            -> encRecord: what the store knows of the core's encryption
//	kindUnsynced  || file offset    -> unsynced: a replica's blocks written to the data file, which
//	                                   may not be on disk yet (see Store.recoverUnsynced)
//	dataSyncedKey                   -> u64 BE: every byte of the data file below it is on disk
//
// A replica's segments are external: their blocks are in the data file (see dataFile).
const (
	kindMeta      byte = 0x00
	kindKeyIndex  byte = 0x01
	kindDiscIndex byte = 0x02
	kindHeader    byte = 0x03
	kindSegment   byte = 0x04
	kindNodePage  byte = 0x05
	kindBitfield  byte = 0x06
	kindUnsynced  byte = 0x07
)

var (
	metaKey       = []byte{kindMeta, 'm', 'e', 't', 'a'}
	dataSyncedKey = []byte{kindMeta, 'd', 's', 'y', 'n', 'c'}
)

// unsynced records that a replica wrote blocks [Start, Start+Count) of core ID, Size bytes, to
// the data file at the offset in its key, and that the write may not be on disk yet.
type unsynced struct{ ID, Start, Count, Size uint64 }

func unsyncedKey(off uint64) []byte { return binary.BigEndian.AppendUint64([]byte{kindUnsynced}, off) }

func (u unsynced) encode() []byte {
	b := make([]byte, 0, 32)
	for _, v := range []uint64{u.ID, u.Start, u.Count, u.Size} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// maxUnsyncedSize bounds the bytes one unsynced record may name: one proof's blocks, far less.
const maxUnsyncedSize = 1 << 40

func decodeUnsynced(b []byte) (unsynced, error) {
	if len(b) != 32 {
		return unsynced{}, fmt.Errorf("%w: unsynced record of %d bytes", errDecode, len(b))
	}
	u := unsynced{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]),
		binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint64(b[24:])}
	if u.Count == 0 || u.Size == 0 || u.Size > maxUnsyncedSize || u.Start+u.Count < u.Start {
		return unsynced{}, fmt.Errorf("%w: unsynced record of %d blocks from %d, %d bytes", errDecode, u.Count, u.Start, u.Size)
	}
	return u, nil
}

func keyIndexKey(k Key) []byte { return append([]byte{kindKeyIndex}, k[:]...) }

func discIndexKey(dk Key) []byte { return append([]byte{kindDiscIndex}, dk[:]...) }

func coreRecordKey(kind byte, id uint64) []byte {
	b := make([]byte, 9, 17)
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], id)
	return b
}

func posKey(kind byte, id, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(coreRecordKey(kind, id), pos)
}

// posFromKey returns the position of a kind||id||pos key.
func posFromKey(k []byte) (uint64, bool) {
	if len(k) != 17 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[9:]), true
}

// errDecode marks bytes that fail to decode; callers wrap it with ErrCorrupt or ErrBadMessage.
var errDecode = errors.New("malformed record")

// storeMeta is the store-wide record.
type storeMeta struct {
	Version    uint8
	PrimaryKey [32]byte
	NextID     uint64
}

const storeVersion = 1

func (m storeMeta) encode() []byte {
	b := []byte{m.Version}
	b = append(b, m.PrimaryKey[:]...)
	return binary.BigEndian.AppendUint64(b, m.NextID)
}

func decodeStoreMeta(b []byte) (storeMeta, error) {
	var m storeMeta
	if len(b) != 41 {
		return m, fmt.Errorf("%w: store meta is %d bytes", errDecode, len(b))
	}
	m.Version = b[0]
	if m.Version != storeVersion {
		return m, fmt.Errorf("%w: store version %d, this build reads %d", errDecode, m.Version, storeVersion)
	}
	copy(m.PrimaryKey[:], b[1:33])
	m.NextID = binary.BigEndian.Uint64(b[33:])
	return m, nil
}

// header is everything about a core that is read on open, in one record, so header reads are O(1).
type header struct {
	Key      Key
	Manifest *Manifest // nil for a replica that has not yet received it
	// Name is set for a named writable core; its key pair is derived from the primary key.
	Name string
	Tree Tree
	// Truncations lists (fork, length) for each truncation, oldest first; a prover uses it to
	// find the prefix a peer on an older fork still shares.
	Truncations []truncation
	// CleanupFrom/CleanupTo is a pending removal of records for blocks [from, to), left by a
	// truncation that was cut short; it is finished when the core opens.
	CleanupFrom, CleanupTo uint64
	// Conflict is set when two validly signed trees disagreed; the core is frozen.
	Conflict *conflict
}

type truncation struct{ Fork, Length uint64 }

// conflict is the evidence that froze a core: the other signed tree.
type conflict struct {
	Fork, Length uint64
	TreeHash     Hash
	Signature    []byte
}

const headerVersion = 1

const (
	hdrFlagManifest = 1 << iota
	hdrFlagConflict
)

func (h *header) encode() []byte {
	b := make([]byte, 0, 256+len(h.Tree.Roots)*50)
	b = append(b, headerVersion)
	var flags byte
	if h.Manifest != nil {
		flags |= hdrFlagManifest
	}
	if h.Conflict != nil {
		flags |= hdrFlagConflict
	}
	b = append(b, flags)
	b = append(b, h.Key[:]...)
	if h.Manifest != nil {
		b = append(b, h.Manifest.Encode()...)
	}
	b = appendBytes(b, []byte(h.Name))
	b = binary.AppendUvarint(b, h.Tree.Fork)
	b = binary.AppendUvarint(b, h.Tree.Length)
	b = binary.AppendUvarint(b, h.Tree.ByteLength)
	b = appendNodes(b, h.Tree.Roots)
	b = appendBytes(b, h.Tree.Signature)
	b = binary.AppendUvarint(b, uint64(len(h.Truncations)))
	for _, t := range h.Truncations {
		b = binary.AppendUvarint(b, t.Fork)
		b = binary.AppendUvarint(b, t.Length)
	}
	b = binary.AppendUvarint(b, h.CleanupFrom)
	b = binary.AppendUvarint(b, h.CleanupTo)
	if c := h.Conflict; c != nil {
		b = binary.AppendUvarint(b, c.Fork)
		b = binary.AppendUvarint(b, c.Length)
		b = append(b, c.TreeHash[:]...)
		b = appendBytes(b, c.Signature)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendNodes(b []byte, ns []Node) []byte {
	b = binary.AppendUvarint(b, uint64(len(ns)))
	for _, n := range ns {
		b = binary.AppendUvarint(b, n.Index)
		b = binary.AppendUvarint(b, n.Size)
		b = append(b, n.Hash[:]...)
	}
	return b
}

// reader decodes untrusted bytes; the first error sticks and every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or invalid %s", errDecode, what)
	}
}

func (r *reader) byte1(what string) byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) fixed(n int, what string) []byte {
	if r.err != nil || len(r.b) < n {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(max int, what string) []byte {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(max) {
		r.err = fmt.Errorf("%w: %s of %d bytes exceeds %d", errDecode, what, n, max)
		return nil
	}
	return r.fixed(int(n), what)
}

func (r *reader) nodes(max int, what string) []Node {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(max) {
		r.err = fmt.Errorf("%w: %d %s exceeds %d", errDecode, n, what, max)
		return nil
	}
	out := make([]Node, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		var nd Node
		nd.Index = r.uvarint(what)
		nd.Size = r.uvarint(what)
		copy(nd.Hash[:], r.fixed(32, what))
		out = append(out, nd)
	}
	return out
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes after %s", errDecode, len(r.b), what)
	}
	return r.err
}

const (
	maxNameLen        = 1024
	maxTruncations    = 1 << 16
	maxSignatureBytes = 64
)

func decodeHeader(b []byte) (*header, error) {
	r := &reader{b: b}
	if v := r.byte1("header version"); r.err == nil && v != headerVersion {
		return nil, fmt.Errorf("%w: header version %d, this build reads %d", errDecode, v, headerVersion)
	}
	flags := r.byte1("header flags")
	h := &header{}
	copy(h.Key[:], r.fixed(32, "core key"))
	if flags&hdrFlagManifest != 0 {
		mb := r.fixed(ManifestSize, "manifest")
		if r.err == nil {
			m, err := DecodeManifest(mb)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errDecode, err)
			}
			h.Manifest = &m
		}
	}
	h.Name = string(r.bytes(maxNameLen, "name"))
	h.Tree.Fork = r.uvarint("fork")
	h.Tree.Length = r.uvarint("length")
	h.Tree.ByteLength = r.uvarint("byte length")
	h.Tree.Roots = r.nodes(maxRoots, "roots")
	h.Tree.Signature = append([]byte(nil), r.bytes(maxSignatureBytes, "signature")...)
	nt := r.uvarint("truncations")
	if r.err == nil && nt > maxTruncations {
		return nil, fmt.Errorf("%w: %d truncations", errDecode, nt)
	}
	for i := uint64(0); i < nt && r.err == nil; i++ {
		h.Truncations = append(h.Truncations, truncation{Fork: r.uvarint("truncation"), Length: r.uvarint("truncation")})
	}
	h.CleanupFrom = r.uvarint("cleanup")
	h.CleanupTo = r.uvarint("cleanup")
	if flags&hdrFlagConflict != 0 {
		c := &conflict{Fork: r.uvarint("conflict"), Length: r.uvarint("conflict")}
		copy(c.TreeHash[:], r.fixed(32, "conflict"))
		c.Signature = append([]byte(nil), r.bytes(maxSignatureBytes, "conflict signature")...)
		h.Conflict = c
	}
	if err := r.done("header"); err != nil {
		return nil, err
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// check validates the header's internal consistency: roots match the length and byte length.
func (h *header) check() error {
	want := fullRoots(h.Tree.Length)
	if len(want) != len(h.Tree.Roots) {
		return fmt.Errorf("%w: %d roots for length %d", errDecode, len(h.Tree.Roots), h.Tree.Length)
	}
	var size uint64
	for i, r := range h.Tree.Roots {
		if r.Index != want[i] {
			return fmt.Errorf("%w: root %d at index %d, want %d", errDecode, i, r.Index, want[i])
		}
		size += r.Size
	}
	if size != h.Tree.ByteLength {
		return fmt.Errorf("%w: roots cover %d bytes, header says %d", errDecode, size, h.Tree.ByteLength)
	}
	if h.Manifest != nil && h.Manifest.Key() != h.Key {
		return fmt.Errorf("%w: manifest does not hash to the core key", errDecode)
	}
	return nil
}

// Segment encoding. An inline segment holds its blocks:
//
//	u32 count, u32 offsets[count+1] relative to the data, then the data.
//
// An external segment's blocks are in the store's data file (see dataFile); it has the high bit
// of count set and ends with where its data begins in that file:
//
//	u32 count|segExternal, u32 offsets[count+1], u64 file offset.
//
// Block i of either is at data[off[i]:off[i+1]], found in O(1). All integers are little-endian.
const segExternal = 1 << 31

func encodeSegment(blocks [][]byte) []byte {
	out := appendSegmentTable(nil, 0, blocks)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

// encodeExternalSegment describes blocks written back to back at offset off of the data file.
func encodeExternalSegment(blocks [][]byte, off uint64) []byte {
	out := appendSegmentTable(make([]byte, 0, 16+4*len(blocks)), segExternal, blocks)
	return binary.LittleEndian.AppendUint64(out, off)
}

// appendSegmentTable appends the count, with flags, and the offsets table of blocks; for an
// inline segment it reserves room for the data.
func appendSegmentTable(out []byte, flags uint32, blocks [][]byte) []byte {
	hdr := 4 + 4*(len(blocks)+1)
	if out == nil {
		total := 0
		for _, b := range blocks {
			total += len(b)
		}
		out = make([]byte, 0, hdr+total)
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(blocks))|flags)
	off := 0
	for _, b := range blocks {
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		off += len(b)
	}
	return binary.LittleEndian.AppendUint32(out, uint32(off))
}

// rebaseExternal describes blocks [lo, hi) of the external segment seg, of n blocks, as an
// external segment of their own, over the same bytes of the data file.
func rebaseExternal(seg []byte, n, lo, hi int) []byte {
	base := segmentOffset(seg, lo)
	out := make([]byte, 0, 16+4*(hi-lo))
	out = binary.LittleEndian.AppendUint32(out, uint32(hi-lo)|segExternal)
	for i := lo; i <= hi; i++ {
		out = binary.LittleEndian.AppendUint32(out, segmentOffset(seg, i)-base)
	}
	file, _ := segmentFile(seg, n)
	return binary.LittleEndian.AppendUint64(out, file+uint64(base))
}

// segmentCount returns the number of blocks in an encoded segment, inline or external, after
// validating its offsets table.
func segmentCount(seg []byte) (int, error) {
	if len(seg) < 8 {
		return 0, fmt.Errorf("%w: segment of %d bytes", errDecode, len(seg))
	}
	word := binary.LittleEndian.Uint32(seg)
	n, external := word&^segExternal, word&segExternal != 0
	if uint64(n) > uint64(len(seg)-8)/4 {
		return 0, fmt.Errorf("%w: segment claims %d blocks in %d bytes", errDecode, n, len(seg))
	}
	hdr := 4 + 4*(int(n)+1)
	if first := binary.LittleEndian.Uint32(seg[4:]); first != 0 {
		return 0, fmt.Errorf("%w: segment's first offset is %d, want 0", errDecode, first)
	}
	last := binary.LittleEndian.Uint32(seg[4+4*n:])
	// Offsets never decrease, so every span and every difference of offsets is sound.
	for i, prev := 1, uint32(0); i <= int(n); i++ {
		o := binary.LittleEndian.Uint32(seg[4+4*i:])
		if o < prev {
			return 0, fmt.Errorf("%w: segment offset %d is %d, below the one before", errDecode, i, o)
		}
		prev = o
	}
	if external {
		if len(seg) != hdr+8 {
			return 0, fmt.Errorf("%w: external segment of %d blocks is %d bytes", errDecode, n, len(seg))
		}
		if file := binary.LittleEndian.Uint64(seg[hdr:]); file > 1<<62 {
			return 0, fmt.Errorf("%w: external segment at data file offset %d", errDecode, file)
		}
		// Nothing writes more in one segment than one transaction may hold; a reader allocates
		// what the offsets say, so they are bounded.
		if last > maxTxnBytes {
			return 0, fmt.Errorf("%w: external segment of %d bytes", errDecode, last)
		}
		return int(n), nil
	}
	if uint64(hdr)+uint64(last) != uint64(len(seg)) {
		return 0, fmt.Errorf("%w: segment data is %d bytes, offsets say %d", errDecode, len(seg)-hdr, last)
	}
	return int(n), nil
}

// segmentOffset returns entry i of a validated segment's offsets table: where block i begins, or
// for i = count, the size of the data.
func segmentOffset(seg []byte, i int) uint32 { return binary.LittleEndian.Uint32(seg[4+4*i:]) }

// segmentFile returns where a validated segment of n blocks has its data in the data file, and
// false for an inline segment.
func segmentFile(seg []byte, n int) (uint64, bool) {
	if binary.LittleEndian.Uint32(seg)&segExternal == 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(seg[4+4*(n+1):]), true
}

// segmentSpan returns the data range [lo, hi) of block i of a segment of n blocks, checking the
// offsets it uses.
func segmentSpan(seg []byte, n, i int) (lo, hi uint32, err error) {
	if i < 0 || i >= n {
		return 0, 0, fmt.Errorf("%w: block %d of a %d-block segment", errDecode, i, n)
	}
	lo, hi = segmentOffset(seg, i), segmentOffset(seg, i+1)
	if lo > hi || hi > segmentOffset(seg, n) {
		return 0, 0, fmt.Errorf("%w: block %d has offsets %d..%d", errDecode, i, lo, hi)
	}
	return lo, hi, nil
}

// segmentBlock returns block i of an encoded inline segment, checking the offsets it uses.
func segmentBlock(seg []byte, i int) ([]byte, error) {
	n, err := segmentCount(seg)
	if err != nil {
		return nil, err
	}
	if _, ext := segmentFile(seg, n); ext {
		return nil, fmt.Errorf("%w: block %d is in the data file", errDecode, i)
	}
	lo, hi, err := segmentSpan(seg, n, i)
	if err != nil {
		return nil, err
	}
	hdr := 4 + 4*(n+1)
	return seg[hdr+int(lo) : hdr+int(hi)], nil
}

// nodePage holds the tree nodes with flat indexes [32*page, 32*page+32). Encoded as a u64 presence
// mask followed by (u64 size, 32-byte hash) for each present slot in order.
const nodesPerPage = 32

type nodePage struct {
	mask  uint64
	slots [nodesPerPage]struct {
		size uint64
		hash Hash
	}
}

func (p *nodePage) get(slot uint) (size uint64, h Hash, ok bool) {
	if p.mask&(1<<slot) == 0 {
		return 0, Hash{}, false
	}
	return p.slots[slot].size, p.slots[slot].hash, true
}

func (p *nodePage) set(slot uint, n Node) {
	p.mask |= 1 << slot
	p.slots[slot].size = n.Size
	p.slots[slot].hash = n.Hash
}

func (p *nodePage) encode() []byte {
	b := make([]byte, 8, 8+40*bits.OnesCount64(p.mask))
	binary.LittleEndian.PutUint64(b, p.mask)
	for s := uint(0); s < nodesPerPage; s++ {
		if p.mask&(1<<s) != 0 {
			b = binary.LittleEndian.AppendUint64(b, p.slots[s].size)
			b = append(b, p.slots[s].hash[:]...)
		}
	}
	return b
}

func decodeNodePage(b []byte) (*nodePage, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: node page of %d bytes", errDecode, len(b))
	}
	p := &nodePage{mask: binary.LittleEndian.Uint64(b)}
	// The mask is 64 bits wide on disk but a page has 32 slots: a bit above them is corruption,
	// and counting it would accept a page whose nodes were never decoded.
	if p.mask>>nodesPerPage != 0 {
		return nil, fmt.Errorf("%w: node page mask %#x names slots past %d", errDecode, p.mask, nodesPerPage-1)
	}
	if len(b) != 8+40*bits.OnesCount64(p.mask) {
		return nil, fmt.Errorf("%w: node page of %d bytes for %d nodes", errDecode, len(b), bits.OnesCount64(p.mask))
	}
	b = b[8:]
	for s := uint(0); s < nodesPerPage; s++ {
		if p.mask&(1<<s) != 0 {
			p.slots[s].size = binary.LittleEndian.Uint64(b)
			copy(p.slots[s].hash[:], b[8:40])
			b = b[40:]
		}
	}
	return p, nil
}
