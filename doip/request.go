package doip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/datomspace/datomspace/doip/wire"
)

// The operation ids a Service answers. The extension operations Op.Join and Op.Quit federate
// services; canonicalOp also accepts the ids without "0.DOIP/" and "0.DOIP/Op.Join".
const (
	OpHello          = "0.DOIP/Op.Hello"
	OpListOperations = "0.DOIP/Op.ListOperations"
	OpCreate         = "0.DOIP/Op.Create"
	OpRetrieve       = "0.DOIP/Op.Retrieve"
	OpUpdate         = "0.DOIP/Op.Update"
	OpDelete         = "0.DOIP/Op.Delete"
	OpSearch         = "0.DOIP/Op.Search"
	OpJoin           = "Op.Join"
	OpQuit           = "Op.Quit"
)

// canonicalOp resolves the spellings implementations use for the same operation.
func canonicalOp(op string) string {
	switch op {
	case "Op.Hello":
		return OpHello
	case "Op.ListOperations":
		return OpListOperations
	case "Op.Create":
		return OpCreate
	case "Op.Retrieve":
		return OpRetrieve
	case "Op.Update":
		return OpUpdate
	case "Op.Delete":
		return OpDelete
	case "Op.Search":
		return OpSearch
	case "0.DOIP/Op.Join":
		return OpJoin
	case "0.DOIP/Op.Quit":
		return OpQuit
	}
	return op
}

// Segment is one input segment of a request.
type Segment interface {
	IsJSON() bool
	// Read reads the segment's content (JSON text or bytes).
	Read(p []byte) (int, error)
	// ReadJSON reads a whole JSON segment of at most limit bytes (0: the server's limit).
	ReadJSON(limit int) ([]byte, error)
}

// input is where a request's segments come from.
type input interface {
	next() (Segment, error)
}

// Request is one DOIP request, from either protocol version, as a Processor sees it.
type Request struct {
	wire.Request
	Conn ConnInfo
	in   input // the segments after the first; nil when the message had none
	used bool  // the inline input was returned
}

// NextSegment returns the next input segment: the inline input as a JSON segment, or the
// segments that followed the first; io.EOF after the last.
func (r *Request) NextSegment() (Segment, error) {
	if r.HasInput() {
		if r.used {
			return nil, io.EOF
		}
		r.used = true
		return &jsonSegment{b: r.Input}, nil
	}
	if r.in == nil {
		return nil, io.EOF
	}
	return r.in.next()
}

// attr reads attribute name into v; absent is no error and leaves v.
func (r *Request) attr(name string, v any) (bool, error) {
	if len(r.Attributes) == 0 {
		return false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Attributes, &m); err != nil {
		return false, fmt.Errorf("%w: attributes: %w", ErrInvalid, err)
	}
	raw, ok := m[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%w: attribute %s: %w", ErrInvalid, name, err)
	}
	return true, nil
}

// stringAttr reads a string attribute.
func (r *Request) stringAttr(name string) (string, bool, error) {
	var s string
	ok, err := r.attr(name, &s)
	return s, ok, err
}

// boolAttr reads a boolean attribute, which CNRI's client sends as the string "true".
func (r *Request) boolAttr(name string) (bool, error) {
	var raw json.RawMessage
	ok, err := r.attr(name, &raw)
	if !ok || err != nil {
		return false, err
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == "true", nil
	}
	return false, fmt.Errorf("%w: attribute %s is not a boolean", ErrInvalid, name)
}

// intAttr reads an integer attribute, given as a number or a decimal string.
func (r *Request) intAttr(name string, def int) (int, error) {
	var raw json.RawMessage
	ok, err := r.attr(name, &raw)
	if !ok || err != nil {
		return def, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("%w: attribute %s is not an integer", ErrInvalid, name)
		}
		n = json.Number(s)
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: attribute %s: %q is not a 32-bit integer", ErrInvalid, name, n)
	}
	return int(i), nil
}

// jsonSegment is a JSON segment held in memory.
type jsonSegment struct {
	b   []byte
	off int
}

func (s *jsonSegment) IsJSON() bool { return true }

func (s *jsonSegment) Read(p []byte) (int, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.off:])
	s.off += n
	return n, nil
}

func (s *jsonSegment) ReadJSON(limit int) ([]byte, error) {
	if limit > 0 && len(s.b)-s.off > limit {
		return nil, fmt.Errorf("%w: JSON segment longer than %d bytes", wire.ErrTooLarge, limit)
	}
	b := s.b[s.off:]
	s.off = len(s.b)
	return b, nil
}

// bytesSegment is a bytes segment read from a reader.
type bytesSegment struct{ r io.Reader }

func (s *bytesSegment) IsJSON() bool                 { return false }
func (s *bytesSegment) Read(p []byte) (int, error)   { return s.r.Read(p) }
func (s *bytesSegment) ReadJSON(int) ([]byte, error) { return nil, wire.ErrSegmentType }

// messageInput is the rest of a DOIP 2.0 request message.
type messageInput struct{ m *wire.Message }

func (m messageInput) next() (Segment, error) {
	s, err := m.m.NextSegment()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sliceInput is a fixed list of segments (DOIP 2.1 bodies).
type sliceInput struct {
	segs []Segment
	i    int
}

func (s *sliceInput) next() (Segment, error) {
	if s.i >= len(s.segs) {
		return nil, io.EOF
	}
	s.i++
	return s.segs[s.i-1], nil
}

// ResponseWriter writes a Processor's response. Status and attributes must be set before
// the first write. A response has either compact output (WriteCompact), or output segments
// (WriteJSON, WriteBytes), or none.
type ResponseWriter interface {
	SetStatus(s wire.Status)
	SetAttribute(key string, value any)
	// WriteCompact sends output inside the first segment and ends the response.
	WriteCompact(output json.RawMessage) error
	// WriteJSON sends a JSON output segment.
	WriteJSON(b json.RawMessage) error
	// WriteBytes sends a bytes output segment with what r yields.
	WriteBytes(r io.Reader) (int64, error)
	// Started reports whether anything was sent, after which the status cannot change.
	Started() bool
}

// Processor answers DOIP requests. Service is the Processor of a repository; a Server runs
// one over connections of either protocol version. Process returns an error it could not
// answer with a status: before anything was written, the server answers with the error's
// status (StatusOf); after, it closes the connection, since the response is cut short.
type Processor interface {
	Process(ctx context.Context, req *Request, w ResponseWriter) error
}
