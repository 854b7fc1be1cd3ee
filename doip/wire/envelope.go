package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// EnvelopeSize is the size of a DOIP 2.1 envelope header.
const EnvelopeSize = 24

// Envelope flags (BDWare's MessageEnvelope).
const (
	FlagResend    uint16 = 0x8000
	FlagTruncated uint16 = 0x4000
	FlagEncrypted uint16 = 0x2000
)

// Message flags, the first word of an envelope's content (BDWare's MessageHeader).
const (
	MsgRequest    uint32 = 0x80000000
	MsgCertified  uint32 = 0x40000000
	MsgPragmatics uint32 = 0x20000000
	MsgCommand    uint32 = 0x10000000
)

// ErrEnvelope marks a malformed DOIP 2.1 envelope or message.
var ErrEnvelope = errors.New("malformed DOIP 2.1 envelope")

// Envelope is the 24-byte header of a DOIP 2.1 frame, big-endian:
//
//	u8 major | u8 minor | u16 flags | u32 reserved | u32 requestId | u32 sequenceNumber
//	| u32 totalNumber | u32 contentLength
type Envelope struct {
	Major, Minor  uint8
	Flags         uint16
	Reserved      uint32
	RequestID     uint32
	Sequence      uint32
	Total         uint32
	ContentLength uint32
}

// AppendTo appends the envelope's 24 bytes to b.
func (e Envelope) AppendTo(b []byte) []byte {
	b = append(b, e.Major, e.Minor)
	b = binary.BigEndian.AppendUint16(b, e.Flags)
	for _, v := range []uint32{e.Reserved, e.RequestID, e.Sequence, e.Total, e.ContentLength} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// ParseEnvelope reads an envelope header from the first 24 bytes of b.
func ParseEnvelope(b []byte) (Envelope, error) {
	if len(b) < EnvelopeSize {
		return Envelope{}, fmt.Errorf("%w: %d bytes, want %d", ErrEnvelope, len(b), EnvelopeSize)
	}
	e := Envelope{
		Major: b[0], Minor: b[1], Flags: binary.BigEndian.Uint16(b[2:]),
		Reserved: binary.BigEndian.Uint32(b[4:]), RequestID: binary.BigEndian.Uint32(b[8:]),
		Sequence: binary.BigEndian.Uint32(b[12:]), Total: binary.BigEndian.Uint32(b[16:]),
		ContentLength: binary.BigEndian.Uint32(b[20:]),
	}
	if e.Major != 2 {
		return e, fmt.Errorf("%w: major version %d, want 2", ErrEnvelope, e.Major)
	}
	if e.Sequence > e.Total {
		return e, fmt.Errorf("%w: sequence number %d above total %d", ErrEnvelope, e.Sequence, e.Total)
	}
	return e, nil
}

// ReadFrame reads one envelope and its content, refusing content over max bytes.
func ReadFrame(r io.Reader, max uint32) (Envelope, []byte, error) {
	var hdr [EnvelopeSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Envelope{}, nil, fmt.Errorf("%w: truncated envelope header", ErrEnvelope)
		}
		return Envelope{}, nil, err
	}
	e, err := ParseEnvelope(hdr[:])
	if err != nil {
		return e, nil, err
	}
	if e.ContentLength > max {
		return e, nil, fmt.Errorf("%w: %w: content of %d bytes exceeds %d", ErrEnvelope, ErrTooLarge, e.ContentLength, max)
	}
	content := make([]byte, e.ContentLength)
	if _, err := io.ReadFull(r, content); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return e, nil, fmt.Errorf("%w: truncated content: %d bytes announced", ErrEnvelope, e.ContentLength)
		}
		return e, nil, err
	}
	return e, content, nil
}

// WriteMessage writes content as frames of at most maxFrame content bytes, split and flagged
// truncated as BDWare's aggregator splits them when it is longer.
func WriteMessage(w io.Writer, requestID uint32, content []byte, maxFrame int) error {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	total := max(1, (len(content)+maxFrame-1)/maxFrame)
	buf := make([]byte, 0, EnvelopeSize+min(len(content), maxFrame))
	for i := 0; i < total; i++ {
		part := content[min(i*maxFrame, len(content)):min((i+1)*maxFrame, len(content))]
		e := Envelope{Major: 2, Minor: 1, RequestID: requestID, Sequence: uint32(i), Total: uint32(total), ContentLength: uint32(len(part))}
		if total > 1 {
			e.Flags |= FlagTruncated
		}
		buf = append(e.AppendTo(buf[:0]), part...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// DefaultMaxFrame is the content size of one frame BDWare's TCP listener takes (5 MiB less the
// envelope).
const DefaultMaxFrame = 5<<20 - EnvelopeSize

// Assembler joins the frames of split messages, keyed by request id, within a byte budget.
type Assembler struct {
	MaxMessage int // most content bytes of one message
	MaxPending int // most messages being assembled at once
	parts      map[uint32]*pending
}

type pending struct {
	total uint32
	got   map[uint32][]byte
	size  int
}

// Add takes one frame and returns a whole message's content when it is complete (at once for
// a frame that is not truncated).
func (a *Assembler) Add(e Envelope, content []byte) ([]byte, bool, error) {
	if e.Flags&FlagResend != 0 {
		return nil, false, nil // a UDP retransmission request; nothing to assemble over a stream
	}
	if e.Flags&FlagTruncated == 0 || e.Total <= 1 {
		return content, true, nil
	}
	if a.parts == nil {
		a.parts = map[uint32]*pending{}
	}
	p := a.parts[e.RequestID]
	if p == nil {
		if a.MaxPending > 0 && len(a.parts) >= a.MaxPending {
			return nil, false, fmt.Errorf("%w: %w: more than %d split messages pending", ErrEnvelope, ErrTooLarge, a.MaxPending)
		}
		p = &pending{total: e.Total, got: map[uint32][]byte{}}
		a.parts[e.RequestID] = p
	}
	if e.Total != p.total || e.Sequence >= p.total {
		return nil, false, fmt.Errorf("%w: frame %d of %d for request %d, which has %d frames", ErrEnvelope, e.Sequence, e.Total, e.RequestID, p.total)
	}
	if _, dup := p.got[e.Sequence]; dup {
		return nil, false, fmt.Errorf("%w: frame %d of request %d twice", ErrEnvelope, e.Sequence, e.RequestID)
	}
	p.size += len(content)
	if a.MaxMessage > 0 && p.size > a.MaxMessage {
		delete(a.parts, e.RequestID)
		return nil, false, fmt.Errorf("%w: %w: split message over %d bytes", ErrEnvelope, ErrTooLarge, a.MaxMessage)
	}
	p.got[e.Sequence] = content
	if uint32(len(p.got)) < p.total {
		return nil, false, nil
	}
	out := make([]byte, 0, p.size)
	for i := uint32(0); i < p.total; i++ {
		out = append(out, p.got[i]...)
	}
	delete(a.parts, e.RequestID)
	return out, true, nil
}

// Params is the parameters JSON of a DOIP 2.1 message (BDWare's HeaderParameter), with the
// datomspace extensions clientId and authentication, which carry DOIP 2.0's authentication.
type Params struct {
	ID             string          `json:"id,omitempty"`
	Operation      string          `json:"operation,omitempty"`
	Response       Status          `json:"response,omitempty"`
	Attributes     json.RawMessage `json:"attributes,omitempty"`
	ClientID       string          `json:"clientId,omitempty"`
	Authentication json.RawMessage `json:"authentication,omitempty"`
}

// Credential is a DOIP 2.1 message's optional credential: attributes such as signer and
// signAlg, and a signature.
type Credential struct {
	Attributes json.RawMessage
	Signature  []byte
}

// Message21 is the content of a DOIP 2.1 envelope:
//
//	u32 flag | u32 paramsLen | u32 bodyLen | params JSON | body
//	[ u32 len | credential JSON | u32 len | signature ]
type Message21 struct {
	Flag       uint32
	Params     Params
	Body       []byte
	Credential *Credential
	// Signed is the content the credential's signature covers: everything before the
	// credential. Set by DecodeMessage21.
	Signed []byte
}

// DecodeMessage21 parses a whole message's content.
func DecodeMessage21(b []byte) (*Message21, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: content of %d bytes is shorter than its 12-byte header", ErrEnvelope, len(b))
	}
	m := &Message21{Flag: binary.BigEndian.Uint32(b)}
	pl, bl := uint64(binary.BigEndian.Uint32(b[4:])), uint64(binary.BigEndian.Uint32(b[8:]))
	rest := b[12:]
	if pl > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: parameters of %d bytes, %d left", ErrEnvelope, pl, len(rest))
	}
	if pl > 0 {
		if err := json.Unmarshal(rest[:pl], &m.Params); err != nil {
			return nil, fmt.Errorf("%w: parameters are not a JSON object: %w", ErrEnvelope, err)
		}
		if present(m.Params.Attributes) {
			if err := objectField(m.Params.Attributes, "attributes"); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrEnvelope, err)
			}
		} else {
			m.Params.Attributes = nil
		}
		if !present(m.Params.Authentication) {
			m.Params.Authentication = nil
		}
	}
	rest = rest[pl:]
	if bl > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: body of %d bytes, %d left", ErrEnvelope, bl, len(rest))
	}
	m.Body = rest[:bl]
	rest = rest[bl:]
	m.Signed = b[:len(b)-len(rest)]
	if len(rest) == 0 {
		return m, nil
	}
	attrs, rest, err := lengthPrefixed(rest, "credential")
	if err != nil {
		return nil, err
	}
	sig, rest, err := lengthPrefixed(rest, "signature")
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the credential", ErrEnvelope, len(rest))
	}
	if !json.Valid(attrs) {
		return nil, fmt.Errorf("%w: credential attributes are not JSON", ErrEnvelope)
	}
	m.Credential = &Credential{Attributes: attrs, Signature: sig}
	return m, nil
}

func lengthPrefixed(b []byte, what string) ([]byte, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: truncated %s length", ErrEnvelope, what)
	}
	n := uint64(binary.BigEndian.Uint32(b))
	if n > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes, %d left", ErrEnvelope, what, n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// Encode returns the message's content bytes. A credential, when set, is appended after the
// body; SignedPart returns the bytes it should sign.
func (m *Message21) Encode() ([]byte, error) {
	b, err := m.SignedPart()
	if err != nil {
		return nil, err
	}
	if m.Credential != nil {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Credential.Attributes)))
		b = append(b, m.Credential.Attributes...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Credential.Signature)))
		b = append(b, m.Credential.Signature...)
	}
	return b, nil
}

// SignedPart returns the content without the credential: what a credential signs.
func (m *Message21) SignedPart() ([]byte, error) {
	params, err := json.Marshal(m.Params)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 12+len(params)+len(m.Body))
	b = binary.BigEndian.AppendUint32(b, m.Flag)
	b = binary.BigEndian.AppendUint32(b, uint32(len(params)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Body)))
	b = append(b, params...)
	return append(b, m.Body...), nil
}

// EncodeObject21 is BDWare's DigitalObject.toByteArray: a u32 length, the object's JSON, then
// the bytes of each element in order.
func EncodeObject21(objectJSON []byte, elements ...[]byte) []byte {
	n := 4 + len(objectJSON)
	for _, e := range elements {
		n += len(e)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(objectJSON)))
	b = append(b, objectJSON...)
	for _, e := range elements {
		b = append(b, e...)
	}
	return b
}

// DecodeObject21 splits BDWare's object serialization into the object's JSON and the element
// bytes that follow it. A body that starts with "{" is taken as bare JSON with no element data.
func DecodeObject21(b []byte) (objectJSON, rest []byte, err error) {
	if len(b) > 0 && b[0] == '{' {
		return b, nil, nil
	}
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: object body of %d bytes has no length", ErrEnvelope, len(b))
	}
	n := uint64(binary.BigEndian.Uint32(b))
	if n > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: object JSON of %d bytes, %d left", ErrEnvelope, n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}
