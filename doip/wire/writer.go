package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// ErrBadJSONSegment is returned for JSON text that a reader would split: a newline followed by
// "#", which valid JSON never contains.
var ErrBadJSONSegment = errors.New("JSON segment text contains a newline followed by #")

// ChunkSize is the chunk size Writer uses when it streams a bytes segment.
const ChunkSize = 256 << 10

// Writer writes DOIP 2.0 messages as CNRI's writer does: a JSON segment is its text then
// "\n#\n"; a bytes segment is "@", then "\n" size "\n" data for each chunk, then "\n#\n"; and
// "#\n" ends the message. It buffers; End flushes. It is not safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

var segmentEnd = []byte("\n#\n")

// JSON writes a JSON segment with text b.
func (w *Writer) JSON(b []byte) error {
	if bytes.Contains(b, []byte("\n#")) || len(b) > 0 && b[0] == '#' || len(b) > 0 && b[0] == '@' {
		return ErrBadJSONSegment
	}
	if len(b) == 0 {
		return ErrBadJSONSegment
	}
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	_, err := w.bw.Write(segmentEnd)
	return err
}

func (w *Writer) chunk(p []byte) error {
	var hdr [24]byte
	h := append(hdr[:0], '\n')
	h = strconv.AppendInt(h, int64(len(p)), 10)
	h = append(h, '\n')
	if _, err := w.bw.Write(h); err != nil {
		return err
	}
	_, err := w.bw.Write(p)
	return err
}

// Bytes writes a bytes segment holding b as one chunk (none when b is empty).
func (w *Writer) Bytes(b []byte) error {
	if err := w.bw.WriteByte('@'); err != nil {
		return err
	}
	if len(b) > 0 {
		if err := w.chunk(b); err != nil {
			return err
		}
	}
	_, err := w.bw.Write(segmentEnd)
	return err
}

// BytesFrom writes a bytes segment with what r yields until io.EOF, in chunks of at most
// ChunkSize, and returns the number of bytes.
func (w *Writer) BytesFrom(r io.Reader) (int64, error) {
	if err := w.bw.WriteByte('@'); err != nil {
		return 0, err
	}
	if w.buf == nil {
		w.buf = make([]byte, ChunkSize)
	}
	var total int64
	for {
		n, err := io.ReadFull(r, w.buf)
		if n > 0 {
			total += int64(n)
			if werr := w.chunk(w.buf[:n]); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	_, err := w.bw.Write(segmentEnd)
	return total, err
}

// End writes the empty segment that ends the message and flushes.
func (w *Writer) End() error {
	if _, err := w.bw.WriteString("#\n"); err != nil {
		return err
	}
	return w.bw.Flush()
}

// EndBuffered writes the empty segment that ends the message, leaving it buffered for a
// later Flush (so that pipelined messages share writes).
func (w *Writer) EndBuffered() error {
	_, err := w.bw.WriteString("#\n")
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.bw.Flush() }
