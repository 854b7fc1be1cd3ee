package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrFraming marks a message whose framing is broken: the stream cannot be read past it, so the
// connection must be closed (after a best-effort reply).
var ErrFraming = errors.New("malformed DOIP message framing")

// ErrTooLarge marks a message, segment or chunk over a Limits bound.
var ErrTooLarge = errors.New("DOIP message exceeds a limit")

// ErrSegmentType is returned for a JSON read of a bytes segment.
var ErrSegmentType = errors.New("not a JSON segment")

// Limits bound what a Reader accepts from its peer.
type Limits struct {
	// MaxJSON is the largest JSON segment, in bytes (default 16 MiB). A larger one is skipped
	// and reported with ErrTooLarge without breaking the stream.
	MaxJSON int
	// MaxChunk is the largest chunk size a bytes segment may announce (default 64 MiB; CNRI's
	// reader takes at most nine digits).
	MaxChunk int
	// MaxSegments is the most segments one message may have (default 65,536).
	MaxSegments int
	// MaxMessage is the most bytes one message may have on the wire (default 1 GiB).
	MaxMessage int64
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{MaxJSON: 16 << 20, MaxChunk: 64 << 20, MaxSegments: 1 << 16, MaxMessage: 1 << 30}

func (l Limits) withDefaults() Limits {
	if l.MaxJSON <= 0 {
		l.MaxJSON = DefaultLimits.MaxJSON
	}
	if l.MaxChunk <= 0 {
		l.MaxChunk = DefaultLimits.MaxChunk
	}
	if l.MaxSegments <= 0 {
		l.MaxSegments = DefaultLimits.MaxSegments
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultLimits.MaxMessage
	}
	return l
}

// maxChunkDigits is the longest chunk size CNRI's reader accepts: fewer digits than
// Integer.MAX_VALUE has.
const maxChunkDigits = 9

// Reader reads DOIP 2.0 messages from a stream, one after the other, as CNRI's reader parses
// them. It is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	cur *Message
	err error // sticky: a framing error or a read error
}

// NewReader returns a Reader of r with the given limits (zero fields take DefaultLimits).
func NewReader(r io.Reader, lim Limits) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{br: br, lim: lim.withDefaults()}
}

// Next starts the next message, first reading what is left of the previous one. It returns
// io.EOF when the stream ends cleanly between messages.
func (r *Reader) Next() (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.cur != nil && !r.cur.done {
		if err := r.cur.Drain(); err != nil {
			return nil, err
		}
	}
	if _, err := r.br.Peek(1); err != nil {
		if err != io.EOF {
			r.err = err
		}
		return nil, err
	}
	r.cur = &Message{r: r}
	return r.cur, nil
}

// Message is one message being read: a sequence of segments ended by an empty segment.
type Message struct {
	r    *Reader
	seg  *Segment
	n    int
	size int64
	done bool
}

// Segment is one segment of a message: JSON text or the bytes of a bytes segment. Read returns
// its content (for a JSON segment, the text up to and including the newline before the "#"
// line; for a bytes segment, the chunks' bytes) and io.EOF at its end.
type Segment struct {
	m      *Message
	json   bool
	done   bool
	sawNL  bool  // JSON: the previous byte was a newline
	left   int64 // bytes: what is left of the current chunk
	inData bool  // bytes: a chunk's data has started and its trailing newline is due
}

func (m *Message) fail(err error) error {
	if m.r.err == nil {
		m.r.err = err
	}
	return m.r.err
}

func (m *Message) framing(format string, args ...any) error {
	return m.fail(fmt.Errorf("%w: %s", ErrFraming, fmt.Sprintf(format, args...)))
}

// count adds n bytes read to the message's size.
func (m *Message) count(n int) error {
	m.size += int64(n)
	if m.size > m.r.lim.MaxMessage {
		return m.fail(fmt.Errorf("%w: message longer than %d bytes", ErrTooLarge, m.r.lim.MaxMessage))
	}
	return nil
}

func (m *Message) readByte(what string) (byte, error) {
	if m.r.err != nil {
		return 0, m.r.err
	}
	c, err := m.r.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			return 0, m.framing("end of input %s", what)
		}
		return 0, m.fail(err)
	}
	return c, m.count(1)
}

// skipToNewline reads spaces, tabs and carriage returns up to and including a newline.
func (m *Message) skipToNewline(what string) error {
	for {
		c, err := m.readByte("before newline " + what)
		if err != nil {
			return err
		}
		switch c {
		case '\n':
			return nil
		case ' ', '\t', '\r':
		default:
			return m.framing("expected whitespace until newline %s, found %q", what, c)
		}
	}
}

// Size is the number of bytes of the message read so far.
func (m *Message) Size() int64 { return m.size }

// Done reports whether the message's closing empty segment has been read.
func (m *Message) Done() bool { return m.done }

// NextSegment returns the next segment, first reading what is left of the current one; it
// returns io.EOF after the empty segment that ends the message.
func (m *Message) NextSegment() (*Segment, error) {
	if m.done {
		return nil, io.EOF
	}
	if m.seg != nil && !m.seg.done {
		if _, err := io.Copy(io.Discard, m.seg); err != nil {
			return nil, err
		}
	}
	c, err := m.readByte("before the empty segment that ends the message")
	if err != nil {
		return nil, err
	}
	switch c {
	case '#':
		if err := m.skipToNewline("after the closing #"); err != nil {
			return nil, err
		}
		m.done = true
		m.seg = nil
		return nil, io.EOF
	case '@':
		if err := m.skipToNewline("after @"); err != nil {
			return nil, err
		}
		m.seg = &Segment{m: m}
	default:
		if err := m.r.br.UnreadByte(); err != nil {
			return nil, m.fail(err)
		}
		m.size--
		m.seg = &Segment{m: m, json: true}
	}
	m.n++
	if m.n > m.r.lim.MaxSegments {
		return nil, m.fail(fmt.Errorf("%w: more than %d segments in a message", ErrTooLarge, m.r.lim.MaxSegments))
	}
	return m.seg, nil
}

// Drain reads the rest of the message.
func (m *Message) Drain() error {
	for {
		_, err := m.NextSegment()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// PeekEnd reports whether the next thing in the message is its closing empty segment, without
// consuming it. It must be called between segments, after the current one is read to its end.
func (m *Message) PeekEnd() (bool, error) {
	if m.done {
		return true, nil
	}
	if m.seg != nil && !m.seg.done {
		return false, nil
	}
	if m.r.err != nil {
		return false, m.r.err
	}
	b, err := m.r.br.Peek(1)
	if err != nil {
		if err == io.EOF {
			return false, m.framing("end of input before the empty segment that ends the message")
		}
		return false, m.fail(err)
	}
	return b[0] == '#', nil
}

// IsJSON reports whether s is a JSON segment.
func (s *Segment) IsJSON() bool { return s.json }

// Read reads the segment's content.
func (s *Segment) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.json {
		return s.readJSON(p)
	}
	return s.readBytes(p)
}

func (s *Segment) readJSON(p []byte) (int, error) {
	m := s.m
	if m.r.err != nil {
		return 0, m.r.err
	}
	br := m.r.br
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			return 0, m.framing("end of input in a JSON segment")
		}
		return 0, m.fail(err)
	}
	buf, _ := br.Peek(min(br.Buffered(), len(p)))
	for i, c := range buf {
		if c == '#' && s.sawNL {
			n := copy(p, buf[:i])
			br.Discard(i + 1)
			if err := m.count(i + 1); err != nil {
				return n, err
			}
			if err := m.skipToNewline("after a JSON segment's #"); err != nil {
				return n, err
			}
			s.done = true
			return n, nil
		}
		s.sawNL = c == '\n'
	}
	n := copy(p, buf)
	br.Discard(n)
	return n, m.count(n)
}

func (s *Segment) readBytes(p []byte) (int, error) {
	m := s.m
	for s.left == 0 {
		if s.inData {
			if err := m.skipToNewline("after a chunk"); err != nil {
				return 0, err
			}
			s.inData = false
		}
		size, end, err := s.chunkHeader()
		if err != nil {
			return 0, err
		}
		if end {
			s.done = true
			return 0, io.EOF
		}
		s.left, s.inData = size, true
	}
	if m.r.err != nil {
		return 0, m.r.err
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := m.r.br.Read(p)
	s.left -= int64(n)
	if cerr := m.count(n); cerr != nil {
		return n, cerr
	}
	if err == io.EOF {
		return n, m.framing("end of input in a chunk")
	}
	if err != nil {
		return n, m.fail(err)
	}
	return n, nil
}

// chunkHeader reads a chunk size line, or the "#" line that ends the bytes segment.
func (s *Segment) chunkHeader() (int64, bool, error) {
	m := s.m
	c, err := m.readByte("before a chunk size")
	if err != nil {
		return 0, false, err
	}
	if c == '#' {
		return 0, true, m.skipToNewline("after a bytes segment's #")
	}
	if c == '0' {
		return 0, false, m.framing("chunk size starts with 0")
	}
	var digits []byte
	for {
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
			if len(digits) > maxChunkDigits {
				return 0, false, m.framing("chunk size longer than %d digits", maxChunkDigits)
			}
		case c == '\n' || c == ' ' || c == '\t' || c == '\r':
			if len(digits) == 0 {
				return 0, false, m.framing("missing chunk size")
			}
			size, _ := strconv.ParseInt(string(digits), 10, 64)
			if size > int64(m.r.lim.MaxChunk) {
				return 0, false, m.fail(fmt.Errorf("%w: %w: chunk of %d bytes exceeds %d", ErrFraming, ErrTooLarge, size, m.r.lim.MaxChunk))
			}
			if c != '\n' {
				if err := m.skipToNewline("after a chunk size"); err != nil {
					return 0, false, err
				}
			}
			return size, false, nil
		default:
			return 0, false, m.framing("unexpected character %q in chunk size", c)
		}
		if c, err = m.readByte("in a chunk size"); err != nil {
			return 0, false, err
		}
	}
}

// ReadJSON reads the whole JSON segment, up to limit bytes (0: the Reader's MaxJSON). A
// longer segment is read to its end and discarded, and ReadJSON returns an error wrapping
// ErrTooLarge; the message can still be read on.
func (s *Segment) ReadJSON(limit int) ([]byte, error) {
	if !s.json {
		return nil, ErrSegmentType
	}
	if limit <= 0 {
		limit = s.m.r.lim.MaxJSON
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(s, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if buf.Len() > limit {
		if _, err := io.Copy(io.Discard, s); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: JSON segment longer than %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// Err returns the error that left the stream unreadable (framing broken, a stream limit passed,
// or the connection failed), or nil while messages can still be read.
func (r *Reader) Err() error { return r.err }
