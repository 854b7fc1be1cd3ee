package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// seg is a segment as a test expects it.
type seg struct {
	json bool
	b    string
}

// readAll reads every message of a stream; it returns the messages read and the error that
// stopped it (nil at a clean end).
func readAll(t testing.TB, r io.Reader, lim Limits) ([][]seg, error) {
	t.Helper()
	rd := NewReader(r, lim)
	var msgs [][]seg
	for {
		m, err := rd.Next()
		if err == io.EOF {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		var segs []seg
		for {
			s, err := m.NextSegment()
			if err == io.EOF {
				break
			}
			if err != nil {
				return msgs, err
			}
			b, err := io.ReadAll(s)
			if err != nil {
				return msgs, err
			}
			segs = append(segs, seg{s.IsJSON(), string(b)})
		}
		msgs = append(msgs, segs)
	}
}

func TestReaderValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want [][]seg
	}{
		{"compact request", "{\"a\":1}\n#\n#\n", [][]seg{{{true, "{\"a\":1}\n"}}}},
		{"multi-line JSON", "{\n  \"a\": 1\n}\n#\n#\n", [][]seg{{{true, "{\n  \"a\": 1\n}\n"}}}},
		{"hash inside a line", "{\"a\":\"x#y\"}\n#\n#\n", [][]seg{{{true, "{\"a\":\"x#y\"}\n"}}}},
		{"hash after a newline ends the segment", "{\n#\n#\n", [][]seg{{{true, "{\n"}}}},
		{"bytes", "{}\n#\n@\n12\nHello World\n\n#\n#\n", [][]seg{{{true, "{}\n"}, {false, "Hello World\n"}}}},
		{"chunks", "@\n3\nabc\n2\nde\n#\n#\n", [][]seg{{{false, "abcde"}}}},
		{"empty bytes", "@\n#\n#\n", [][]seg{{{false, ""}}}},
		{"binary-safe", "@\n7\n\n#\n@\x00#\n\n#\n#\n", [][]seg{{{false, "\n#\n@\x00#\n"}}}},
		{"whitespace and CRLF", "{}\r\n#  \r\n@ \t\r\n5 \r\nhello \r\n# \r\n#\r\n", [][]seg{{{true, "{}\r\n"}, {false, "hello"}}}},
		{"empty message", "#\n", [][]seg{nil}},
		{"two messages", "{\"a\":1}\n#\n#\n{\"b\":2}\n#\n{\"c\":3}\n#\n#\n", [][]seg{{{true, "{\"a\":1}\n"}}, {{true, "{\"b\":2}\n"}, {true, "{\"c\":3}\n"}}}},
		{"blank line before a message is JSON content", "\n{}\n#\n#\n", [][]seg{{{true, "\n{}\n"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := readAll(t, r, Limits{})
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !equalMsgs(got, tc.want) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func equalMsgs(a, b [][]seg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestReaderBroken(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		lim  Limits
		want error
		msg  string
	}{
		{"end inside JSON", "{\"a\":1}\n", Limits{}, ErrFraming, "JSON segment"},
		{"end before the closing segment", "{\"a\":1}\n#\n", Limits{}, ErrFraming, "empty segment"},
		{"end inside a chunk", "@\n12\nHello", Limits{}, ErrFraming, "in a chunk"},
		{"end before newline", "{}\n#", Limits{}, ErrFraming, "newline"},
		{"leading zero", "@\n012\nHello World\n\n#\n#\n", Limits{}, ErrFraming, "starts with 0"},
		{"zero chunk", "@\n0\n\n#\n#\n", Limits{}, ErrFraming, "starts with 0"},
		{"ten digits", "@\n1234567890\n", Limits{}, ErrFraming, "digits"},
		{"letter in size", "@\n1x\n", Limits{}, ErrFraming, "unexpected character"},
		{"missing size", "@\n\n", Limits{}, ErrFraming, "missing chunk size"},
		{"junk after #", "{}\n#x\n#\n", Limits{}, ErrFraming, "whitespace"},
		{"junk after @", "@x\n#\n#\n", Limits{}, ErrFraming, "whitespace"},
		{"junk after chunk", "@\n2\nabX\n#\n#\n", Limits{}, ErrFraming, "whitespace"},
		{"chunk over the limit", "@\n2000\n", Limits{MaxChunk: 1000}, ErrTooLarge, "exceeds 1000"},
		{"too many segments", strings.Repeat("{}\n#\n", 5) + "#\n", Limits{MaxSegments: 4}, ErrTooLarge, "segments"},
		{"message over the limit", "@\n900\n" + strings.Repeat("x", 900) + "\n#\n#\n", Limits{MaxMessage: 500}, ErrTooLarge, "longer than 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, strings.NewReader(tc.in), tc.lim)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v with %q", err, tc.want, tc.msg)
			}
			// The error is sticky: the stream cannot be read past it.
			rd := NewReader(strings.NewReader(tc.in), tc.lim)
			for i := 0; i < 10; i++ {
				m, err := rd.Next()
				if err != nil {
					break
				}
				m.Drain()
			}
			if rd.Err() == nil {
				t.Fatal("reader not broken")
			}
		})
	}
}

func TestReadJSONTooLargeKeepsStream(t *testing.T) {
	in := "{\"big\":\"" + strings.Repeat("x", 100) + "\"}\n#\n#\n{\"ok\":1}\n#\n#\n"
	rd := NewReader(strings.NewReader(in), Limits{MaxJSON: 50})
	m, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadJSON(0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadJSON = %v, want ErrTooLarge", err)
	}
	if rd.Err() != nil {
		t.Fatalf("stream broken: %v", rd.Err())
	}
	m, err = rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	s, err = m.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.ReadJSON(0)
	if err != nil || string(b) != "{\"ok\":1}\n" {
		t.Fatalf("next message = %q, %v", b, err)
	}
	if _, err := s.ReadJSON(0); err != nil {
		t.Fatal(err) // a read of a finished segment is empty
	}
}

func TestPeekEnd(t *testing.T) {
	rd := NewReader(strings.NewReader("{}\n#\n#\n{}\n#\n@\n#\n#\n"), Limits{})
	for _, want := range []bool{true, false} {
		m, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.NextSegment()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadJSON(0); err != nil {
			t.Fatal(err)
		}
		end, err := m.PeekEnd()
		if err != nil || end != want {
			t.Fatalf("PeekEnd = %v, %v, want %v", end, err, want)
		}
	}
}

// The writer writes what CNRI's writer writes, byte for byte.
func TestWriterGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.JSON([]byte(`{"id":"file"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.BytesFrom(strings.NewReader("Hello World\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Bytes(nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Bytes([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	want := "{\"id\":\"file\"}\n#\n@\n12\nHello World\n\n#\n@\n#\n@\n2\nab\n#\n#\n"
	if buf.String() != want {
		t.Fatalf("wrote %q\nwant  %q", buf.String(), want)
	}
	for _, bad := range []string{"", "#x", "@x", "{\n#}"} {
		if err := NewWriter(io.Discard).JSON([]byte(bad)); !errors.Is(err, ErrBadJSONSegment) {
			t.Errorf("JSON(%q) = %v, want ErrBadJSONSegment", bad, err)
		}
	}
}

// chunky yields random-sized reads, so the writer makes chunks of many sizes.
type chunky struct {
	b   []byte
	rnd *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rnd.IntN(300))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// Property: any segments written by Writer read back the same, whatever the bytes, however
// the stream is split into reads.
func TestRoundTripProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("#@\n\r \t0123456789{}\"ab\x00\xff")
	for iter := 0; iter < 300; iter++ {
		var want [][]seg
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for m := 0; m < 1+rnd.IntN(3); m++ {
			var segs []seg
			for s := 0; s < rnd.IntN(5); s++ {
				if rnd.IntN(2) == 0 {
					js := `{"k":"` + strings.Repeat("x#@", rnd.IntN(20)) + `"}`
					if err := w.JSON([]byte(js)); err != nil {
						t.Fatal(err)
					}
					segs = append(segs, seg{true, js + "\n"})
					continue
				}
				b := make([]byte, rnd.IntN(2000))
				for i := range b {
					b[i] = alphabet[rnd.IntN(len(alphabet))]
				}
				if _, err := w.BytesFrom(&chunky{b, rnd}); err != nil {
					t.Fatal(err)
				}
				segs = append(segs, seg{false, string(b)})
			}
			if err := w.End(); err != nil {
				t.Fatal(err)
			}
			want = append(want, segs)
		}
		var r io.Reader = bytes.NewReader(buf.Bytes())
		if iter%2 == 1 {
			r = iotest.HalfReader(r)
		}
		got, err := readAll(t, r, Limits{})
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if !equalMsgs(got, want) {
			t.Fatalf("iteration %d: read back differs", iter)
		}
	}
}
