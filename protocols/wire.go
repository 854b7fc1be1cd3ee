package protocols

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/datomspace/datomspace/corestore"
)

// ProtocolID is the libp2p protocol of core replication.
const ProtocolID = "/datomspace/sync/1.0.0"

// DefaultMaxMessageSize is the largest frame a session accepts and sends unless configured
// otherwise: 16 MiB, corestore.MaxBlockSize with room for the largest proof of one block, so that
// every block an owner can append fits, with its proof, in one Data message.
const DefaultMaxMessageSize = corestore.MaxBlockSize + blockProofRoom

// blockProofRoom is what DefaultMaxMessageSize leaves beside the largest block.
const blockProofRoom = 256 << 10

// Decoder limits that hold whatever the frame size.
const (
	maxWireRoots    = 64
	maxWireNodes    = 1 << 16
	maxWireBlocks   = 1 << 16
	maxWireSigBytes = 256
	maxWireManifest = 4096
)

// The largest Data message that answers a request for one block, beyond the block's bytes.
const (
	maxVarint = binary.MaxVarintLen64
	// maxWireNodeBytes is the largest encoding of one node field: its tag and length, the
	// index and size fields, and the hash field.
	maxWireNodeBytes = 2 + (1 + maxVarint) + (1 + maxVarint) + (2 + 32)
	// maxBlockProofNodes bounds the Merkle nodes corestore puts in a proof of one block with a tree
	// upgrade: it hashes at most 65 seeds (the block's leaf and the at most 64 roots of the
	// requester's length) up through at most 64 levels, and needs at most one sibling per node of
	// a level, of which there are never more than seeds.
	maxBlockProofNodes = (1 + 64) * 64
	// maxBlockProofOverhead is the frame length, the envelope, id, fork and start, the block's tag
	// and length, the nodes, and an upgrade (from, fork, length, roots, signature and manifest)
	// at the decoder's limits.
	maxBlockProofOverhead = maxVarint + (1 + maxVarint) + 3*(1+maxVarint) + (1 + maxVarint) +
		maxBlockProofNodes*maxWireNodeBytes +
		(1 + maxVarint) + 3*(1+maxVarint) + maxWireRoots*maxWireNodeBytes +
		(1 + maxVarint + maxWireSigBytes) + (1 + maxVarint + maxWireManifest)
)

// A build in which the largest block and its proof could outgrow the default frame fails here
// (a negative constant does not convert to uint).
const _ = uint(blockProofRoom - maxBlockProofOverhead)

var (
	// ErrMessageTooLarge is returned for a frame longer than the receiver's limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrMalformed is returned for bytes that are not a valid message.
	ErrMalformed = errors.New("malformed message")
)

// Message is one protocol message: *Open, *Sync, *Request, *Cancel, *Data, *NoData, *Want,
// *Unwant, *Range or *Bitfield.
type Message interface {
	// field is the message's field number in the Message envelope.
	field() protowire.Number
	appendTo(b []byte) []byte
}

// Open is the first message in each direction: the discovery key of the core and the sender's
// capability.
type Open struct {
	DiscoveryKey []byte
	Capability   []byte
}

// Sync announces the sender's signed tree and how much of it it holds from block 0.
type Sync struct {
	Fork, Length uint64
	Signature    []byte
	Contiguous   uint64
	Writable     bool
}

// Request asks for blocks [Start, End) proven against the requester's tree (Fork, HaveLength),
// and, with Upgrade, for the responder's newest signed tree.
type Request struct {
	ID           uint64
	Fork         uint64
	Start, End   uint64
	Upgrade      bool
	HaveLength   uint64
	NeedManifest bool
}

// Cancel withdraws request ID.
type Cancel struct{ ID uint64 }

// Data answers request ID with a proof.
type Data struct {
	ID      uint64
	Fork    uint64
	Start   uint64
	Blocks  [][]byte
	Nodes   []corestore.Node
	Upgrade *corestore.Upgrade
}

// NoData says request ID cannot be answered, and with a non-zero Reason why.
type NoData struct {
	ID     uint64
	Reason NoDataReason
}

// NoDataReason says why a request is not answered.
type NoDataReason uint64

// Reasons a NoData gives. A receiver treats a reason it does not know as NoDataUnspecified.
const (
	// NoDataUnspecified: the responder does not hold the blocks, refused the request (rate
	// limit) or did not say.
	NoDataUnspecified NoDataReason = 0
	// NoDataTooLarge: the answer would not fit in one message of the responder's frame limit: a
	// block is larger than the limit allows. The blocks cannot be had from this responder.
	NoDataTooLarge NoDataReason = 1
)

// Want says the sender would like blocks [Start, Start+Length); Length 0 is open-ended.
type Want struct{ Start, Length uint64 }

// Unwant withdraws a Want.
type Unwant struct{ Start, Length uint64 }

// Range says the sender holds blocks [Start, Start+Length), or with Drop no longer holds them.
type Range struct {
	Drop          bool
	Start, Length uint64
}

// Bitfield carries the sender's have-bits: bit k of Bits[j] (least significant first) is block
// Start + 8j + k.
type Bitfield struct {
	Start uint64
	Bits  []byte
}

func (*Open) field() protowire.Number     { return 1 }
func (*Sync) field() protowire.Number     { return 2 }
func (*Request) field() protowire.Number  { return 3 }
func (*Cancel) field() protowire.Number   { return 4 }
func (*Data) field() protowire.Number     { return 5 }
func (*NoData) field() protowire.Number   { return 6 }
func (*Want) field() protowire.Number     { return 7 }
func (*Unwant) field() protowire.Number   { return 8 }
func (*Range) field() protowire.Number    { return 9 }
func (*Bitfield) field() protowire.Number { return 10 }

func appendUint(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, n protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

func appendBytes(b []byte, n protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendSub appends submessage field n, built by fn, reserving a one-byte length and growing it
// when needed.
func appendSub(b []byte, n protowire.Number, fn func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	at := len(b)
	b = fn(b)
	size := len(b) - at
	var lenBuf [binary.MaxVarintLen64]byte
	l := protowire.AppendVarint(lenBuf[:0], uint64(size))
	b = append(b, l...) // grow
	copy(b[at+len(l):], b[at:at+size])
	copy(b[at:], l)
	return b
}

func (m *Open) appendTo(b []byte) []byte {
	b = appendBytes(b, 1, m.DiscoveryKey)
	return appendBytes(b, 2, m.Capability)
}

func (m *Sync) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.Fork)
	b = appendUint(b, 2, m.Length)
	b = appendBytes(b, 3, m.Signature)
	b = appendUint(b, 4, m.Contiguous)
	return appendBool(b, 5, m.Writable)
}

func (m *Request) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.ID)
	b = appendUint(b, 2, m.Fork)
	b = appendUint(b, 3, m.Start)
	b = appendUint(b, 4, m.End)
	b = appendBool(b, 5, m.Upgrade)
	b = appendUint(b, 6, m.HaveLength)
	return appendBool(b, 7, m.NeedManifest)
}

func (m *Cancel) appendTo(b []byte) []byte { return appendUint(b, 1, m.ID) }

func (m *NoData) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.ID)
	return appendUint(b, 2, uint64(m.Reason))
}

func appendNode(b []byte, n protowire.Number, nd corestore.Node) []byte {
	return appendSub(b, n, func(b []byte) []byte {
		b = appendUint(b, 1, nd.Index)
		b = appendUint(b, 2, nd.Size)
		return appendBytes(b, 3, nd.Hash[:])
	})
}

func (m *Data) appendTo(b []byte) []byte {
	b = m.appendHead(b)
	for _, blk := range m.Blocks {
		// Empty blocks are legal and must keep their place, so always write the field.
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, blk)
	}
	return m.appendTail(b)
}

func (m *Data) appendHead(b []byte) []byte {
	b = appendUint(b, 1, m.ID)
	b = appendUint(b, 2, m.Fork)
	return appendUint(b, 3, m.Start)
}

func (m *Data) appendTail(b []byte) []byte {
	for _, nd := range m.Nodes {
		b = appendNode(b, 5, nd)
	}
	if u := m.Upgrade; u != nil {
		b = appendSub(b, 6, func(b []byte) []byte {
			b = appendUint(b, 1, u.From)
			b = appendUint(b, 2, u.Fork)
			b = appendUint(b, 3, u.Length)
			for _, r := range u.Roots {
				b = appendNode(b, 4, r)
			}
			b = appendBytes(b, 5, u.Signature)
			return appendBytes(b, 6, u.Manifest)
		})
	}
	return b
}

// frameLen returns the length of d's frame, its length prefix included, without encoding it.
func (d *Data) frameLen() int {
	body := len(d.appendHead(nil)) + len(d.appendTail(nil))
	for _, blk := range d.Blocks {
		body += 1 + protowire.SizeVarint(uint64(len(blk))) + len(blk)
	}
	env := protowire.SizeTag(d.field()) + protowire.SizeVarint(uint64(body)) + body
	return protowire.SizeVarint(uint64(env)) + env
}

// encodeFrame returns m as a length-prefixed frame. A Data message, which can be megabytes, is
// sized first and written once into a buffer of the exact size.
func encodeFrame(m Message) []byte {
	return encodeFrameTo(m, func(n int) []byte { return make([]byte, 0, n) })
}

// encodeFrameTo is encodeFrame with a Data frame's buffer, of capacity n, from alloc.
func encodeFrameTo(m Message, alloc func(n int) []byte) []byte {
	d, ok := m.(*Data)
	if !ok {
		return AppendFrame(nil, m)
	}
	head := d.appendHead(nil)
	tail := d.appendTail(nil)
	body := len(head) + len(tail)
	for _, blk := range d.Blocks {
		body += 1 + protowire.SizeVarint(uint64(len(blk))) + len(blk)
	}
	env := protowire.AppendTag(nil, d.field(), protowire.BytesType)
	env = protowire.AppendVarint(env, uint64(body))
	frame := len(env) + body
	out := alloc(protowire.SizeVarint(uint64(frame)) + frame)[:0]
	out = binary.AppendUvarint(out, uint64(frame))
	out = append(out, env...)
	out = append(out, head...)
	for _, blk := range d.Blocks {
		out = protowire.AppendTag(out, 4, protowire.BytesType)
		out = protowire.AppendBytes(out, blk)
	}
	return append(out, tail...)
}

func (m *Want) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	return appendUint(b, 2, m.Length)
}

func (m *Unwant) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	return appendUint(b, 2, m.Length)
}

func (m *Range) appendTo(b []byte) []byte {
	b = appendBool(b, 1, m.Drop)
	b = appendUint(b, 2, m.Start)
	return appendUint(b, 3, m.Length)
}

func (m *Bitfield) appendTo(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	return appendBytes(b, 2, m.Bits)
}

// AppendMessage appends the envelope encoding of m (without a length prefix) to b.
func AppendMessage(b []byte, m Message) []byte {
	return appendSub(b, m.field(), m.appendTo)
}

// EncodeMessage returns the envelope encoding of m (without a length prefix).
func EncodeMessage(m Message) []byte { return AppendMessage(nil, m) }

// AppendFrame appends m with its uvarint length prefix to b.
func AppendFrame(b []byte, m Message) []byte {
	at := len(b)
	b = AppendMessage(b, m)
	size := len(b) - at
	var lenBuf [binary.MaxVarintLen64]byte
	l := binary.AppendUvarint(lenBuf[:0], uint64(size))
	b = append(b, l...)
	copy(b[at+len(l):], b[at:at+size])
	copy(b[at:], l)
	return b
}

// fieldReader walks the fields of one protobuf message.
type fieldReader struct {
	b   []byte
	err error
}

// next returns the next field; ok is false at the end or on an error (see r.err).
func (r *fieldReader) next() (num protowire.Number, typ protowire.Type, ok bool) {
	if len(r.b) == 0 || r.err != nil {
		return 0, 0, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		return 0, 0, false
	}
	r.b = r.b[n:]
	return num, typ, true
}

func (r *fieldReader) uint(typ protowire.Type) uint64 {
	if typ != protowire.VarintType {
		r.err = fmt.Errorf("%w: want a varint, got wire type %d", ErrMalformed, typ)
		return 0
	}
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fieldReader) bytes(typ protowire.Type) []byte {
	if typ != protowire.BytesType {
		r.err = fmt.Errorf("%w: want bytes, got wire type %d", ErrMalformed, typ)
		return nil
	}
	v, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		return nil
	}
	r.b = r.b[n:]
	return v
}

func (r *fieldReader) skip(num protowire.Number, typ protowire.Type) {
	n := protowire.ConsumeFieldValue(num, typ, r.b)
	if n < 0 {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, protowire.ParseError(n))
		return
	}
	r.b = r.b[n:]
}

func (r *fieldReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// DecodeMessage decodes one envelope (without its length prefix). Byte slices in the result
// alias b. Unknown fields are skipped; an envelope without a known message is ErrMalformed.
func DecodeMessage(b []byte) (Message, error) {
	r := fieldReader{b: b}
	var m Message
	for {
		num, typ, ok := r.next()
		if !ok {
			break
		}
		if num < 1 || num > 10 {
			r.skip(num, typ)
			continue
		}
		sub := r.bytes(typ)
		if r.err != nil {
			break
		}
		dm, err := decodeSub(num, sub)
		if err != nil {
			return nil, err
		}
		m = dm
	}
	if r.err != nil {
		return nil, r.err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: no message in envelope", ErrMalformed)
	}
	return m, nil
}

func decodeSub(num protowire.Number, b []byte) (Message, error) {
	r := fieldReader{b: b}
	var m Message
	switch num {
	case 1:
		o := &Open{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				o.DiscoveryKey = r.bytes(t)
			case 2:
				o.Capability = r.bytes(t)
			default:
				r.skip(n, t)
			}
		}
		m = o
	case 2:
		s := &Sync{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				s.Fork = r.uint(t)
			case 2:
				s.Length = r.uint(t)
			case 3:
				s.Signature = r.bytes(t)
				if len(s.Signature) > maxWireSigBytes {
					r.fail("signature of %d bytes", len(s.Signature))
				}
			case 4:
				s.Contiguous = r.uint(t)
			case 5:
				s.Writable = r.uint(t) != 0
			default:
				r.skip(n, t)
			}
		}
		m = s
	case 3:
		q := &Request{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				q.ID = r.uint(t)
			case 2:
				q.Fork = r.uint(t)
			case 3:
				q.Start = r.uint(t)
			case 4:
				q.End = r.uint(t)
			case 5:
				q.Upgrade = r.uint(t) != 0
			case 6:
				q.HaveLength = r.uint(t)
			case 7:
				q.NeedManifest = r.uint(t) != 0
			default:
				r.skip(n, t)
			}
		}
		m = q
	case 4, 6:
		var id, reason uint64
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch {
			case n == 1:
				id = r.uint(t)
			case n == 2 && num == 6:
				reason = r.uint(t)
			default:
				r.skip(n, t)
			}
		}
		if num == 4 {
			m = &Cancel{ID: id}
		} else {
			m = &NoData{ID: id, Reason: NoDataReason(reason)}
		}
	case 5:
		d := &Data{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				d.ID = r.uint(t)
			case 2:
				d.Fork = r.uint(t)
			case 3:
				d.Start = r.uint(t)
			case 4:
				blk := r.bytes(t)
				if len(d.Blocks) >= maxWireBlocks {
					r.fail("more than %d blocks", maxWireBlocks)
				}
				if r.err == nil {
					d.Blocks = append(d.Blocks, blk)
				}
			case 5:
				nd := decodeNode(&r, t)
				if len(d.Nodes) >= maxWireNodes {
					r.fail("more than %d nodes", maxWireNodes)
				}
				if r.err == nil {
					d.Nodes = append(d.Nodes, nd)
				}
			case 6:
				if d.Upgrade != nil {
					r.fail("two upgrades")
				}
				sub := r.bytes(t)
				if r.err == nil {
					d.Upgrade = decodeUpgrade(&r, sub)
				}
			default:
				r.skip(n, t)
			}
		}
		m = d
	case 7, 8:
		var start, length uint64
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				start = r.uint(t)
			case 2:
				length = r.uint(t)
			default:
				r.skip(n, t)
			}
		}
		if num == 7 {
			m = &Want{Start: start, Length: length}
		} else {
			m = &Unwant{Start: start, Length: length}
		}
	case 9:
		g := &Range{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				g.Drop = r.uint(t) != 0
			case 2:
				g.Start = r.uint(t)
			case 3:
				g.Length = r.uint(t)
			default:
				r.skip(n, t)
			}
		}
		m = g
	case 10:
		f := &Bitfield{}
		for n, t, ok := r.next(); ok; n, t, ok = r.next() {
			switch n {
			case 1:
				f.Start = r.uint(t)
			case 2:
				f.Bits = r.bytes(t)
			default:
				r.skip(n, t)
			}
		}
		m = f
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func decodeNode(outer *fieldReader, t protowire.Type) corestore.Node {
	b := outer.bytes(t)
	if outer.err != nil {
		return corestore.Node{}
	}
	r := fieldReader{b: b}
	var nd corestore.Node
	hashSeen := false
	for n, t, ok := r.next(); ok; n, t, ok = r.next() {
		switch n {
		case 1:
			nd.Index = r.uint(t)
		case 2:
			nd.Size = r.uint(t)
		case 3:
			h := r.bytes(t)
			if r.err == nil && len(h) != len(nd.Hash) {
				r.fail("node hash of %d bytes", len(h))
			}
			copy(nd.Hash[:], h)
			hashSeen = true
		default:
			r.skip(n, t)
		}
	}
	if r.err == nil && !hashSeen {
		r.fail("node %d without a hash", nd.Index)
	}
	if r.err != nil {
		outer.err = r.err
	}
	return nd
}

func decodeUpgrade(outer *fieldReader, b []byte) *corestore.Upgrade {
	r := fieldReader{b: b}
	u := &corestore.Upgrade{}
	for n, t, ok := r.next(); ok; n, t, ok = r.next() {
		switch n {
		case 1:
			u.From = r.uint(t)
		case 2:
			u.Fork = r.uint(t)
		case 3:
			u.Length = r.uint(t)
		case 4:
			nd := decodeNode(&r, t)
			if len(u.Roots) >= maxWireRoots {
				r.fail("more than %d roots", maxWireRoots)
			}
			if r.err == nil {
				u.Roots = append(u.Roots, nd)
			}
		case 5:
			u.Signature = r.bytes(t)
			if len(u.Signature) > maxWireSigBytes {
				r.fail("signature of %d bytes", len(u.Signature))
			}
		case 6:
			u.Manifest = r.bytes(t)
			if len(u.Manifest) > maxWireManifest {
				r.fail("manifest of %d bytes", len(u.Manifest))
			}
		default:
			r.skip(n, t)
		}
	}
	if r.err != nil {
		outer.err = r.err
		return nil
	}
	return u
}

// ReadFrame reads one length-prefixed frame from r into a fresh buffer. A frame longer than max
// is rejected with ErrMessageTooLarge before anything is allocated.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	return readFrame(r, max, func(n int) []byte { return make([]byte, n) })
}

// readFrame is ReadFrame with the buffer from alloc.
func readFrame(r *bufio.Reader, max int, alloc func(n int) []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooLarge, n, max)
	}
	b := alloc(int(n))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return b, nil
}

// readOpen reads the first frame of a stream, at most maxOpenMessage bytes, without reading
// anything past it, so that a stream that has not finished its handshake holds no read buffer.
func readOpen(r io.Reader) (Message, error) {
	br := &byteReader{r: r}
	n, err := binary.ReadUvarint(br)
	switch {
	case err == nil:
	case br.err == nil: // the bytes, not the stream
		return nil, fmt.Errorf("%w: open length: %w", ErrMalformed, err)
	case errors.Is(br.err, io.EOF) && br.n == 0:
		return nil, io.EOF
	default:
		return nil, fmt.Errorf("read open length: %w", br.err)
	}
	if n > maxOpenMessage {
		return nil, fmt.Errorf("%w: open of %d bytes, limit %d", ErrMessageTooLarge, n, maxOpenMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read open of %d bytes: %w", n, err)
	}
	return DecodeMessage(b)
}

// byteReader reads one byte at a time from r, and keeps r's error and the bytes read.
type byteReader struct {
	r   io.Reader
	n   int
	err error
}

func (b *byteReader) ReadByte() (byte, error) {
	var c [1]byte
	if _, err := io.ReadFull(b.r, c[:]); err != nil {
		b.err = err
		return 0, err
	}
	b.n++
	return c[0], nil
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// ReadMessage reads and decodes one frame.
func ReadMessage(r *bufio.Reader, max int) (Message, error) {
	b, err := ReadFrame(r, max)
	if err != nil {
		return nil, err
	}
	return DecodeMessage(b)
}

// proofOf converts a Data message to the corestore proof it carries.
func proofOf(d *Data) *corestore.Proof {
	return &corestore.Proof{Fork: d.Fork, Start: d.Start, Blocks: d.Blocks, Nodes: d.Nodes, Upgrade: d.Upgrade}
}

// dataOf converts a proof to the Data message that answers request id.
func dataOf(id uint64, p *corestore.Proof) *Data {
	return &Data{ID: id, Fork: p.Fork, Start: p.Start, Blocks: p.Blocks, Nodes: p.Nodes, Upgrade: p.Upgrade}
}
