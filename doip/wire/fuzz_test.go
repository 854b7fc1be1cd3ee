package wire

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the segment reader: it must never panic or hang, must
// stop at the first framing error, and what it does read must survive a write and a re-read.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"{\"targetId\":\"20.500.123/service\",\"operationId\":\"0.DOIP/Op.Hello\"}\n#\n#\n",
		"{}\n#\n{\"id\":\"file\"}\n#\n@\n12\nHello World\n\n#\n#\n",
		"@\n012\nx\n#\n#\n", "@\n3\r\nabc \r\n#\r\n#\r\n", "#\n", "{\n#\n#\n", "@\n999999999\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxJSON: 1 << 16, MaxChunk: 1 << 16, MaxSegments: 64, MaxMessage: 1 << 20}
		msgs, err := readAll(t, bytes.NewReader(in), lim)
		var buf bytes.Buffer
		w := NewWriter(&buf)
		var want [][]seg
		for _, m := range msgs {
			var keep []seg
			for _, s := range m {
				if s.json {
					// A JSON segment's text always ends with the newline before "#"; the writer
					// adds that newline itself.
					txt := []byte(s.b[:len(s.b)-1])
					if w.JSON(txt) != nil {
						continue
					}
				} else if err := w.Bytes([]byte(s.b)); err != nil {
					t.Fatal(err)
				}
				keep = append(keep, s)
			}
			w.End()
			want = append(want, keep)
		}
		got, err2 := readAll(t, bytes.NewReader(buf.Bytes()), lim)
		if err2 != nil {
			t.Fatalf("re-read of written segments: %v (first read: %v)", err2, err)
		}
		if !equalMsgs(got, want) {
			t.Fatalf("re-read differs")
		}
	})
}

// FuzzEnvelope feeds arbitrary bytes to the DOIP 2.1 frame reader, the assembler and the
// message decoder: errors, never panics; a decoded message re-encodes to what decodes the same.
func FuzzEnvelope(f *testing.F) {
	f.Add(helloFrame())
	m := &Message21{Flag: MsgRequest, Params: Params{ID: "a/b", Operation: "0.DOIP/Op.Create", Attributes: []byte(`{"x":1}`)},
		Body:       EncodeObject21([]byte(`{"id":"a/b","elements":[{"id":"e","length":2}]}`), []byte("hi")),
		Credential: &Credential{Attributes: []byte(`{"signer":"s"}`), Signature: []byte("sig")}}
	c, _ := m.Encode()
	var buf bytes.Buffer
	WriteMessage(&buf, 3, c, 40)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		a := Assembler{MaxMessage: 1 << 16, MaxPending: 4}
		for {
			e, content, err := ReadFrame(r, 1<<16)
			if err != nil {
				if err != io.EOF && content != nil {
					t.Fatal("content returned with an error")
				}
				return
			}
			full, ok, err := a.Add(e, content)
			if err != nil || !ok {
				continue
			}
			dm, err := DecodeMessage21(full)
			if err != nil {
				continue
			}
			b, err := dm.Encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeMessage21(b)
			if err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
			if again.Flag != dm.Flag || !bytes.Equal(again.Body, dm.Body) || again.Params.ID != dm.Params.ID ||
				again.Params.Operation != dm.Params.Operation || (again.Credential == nil) != (dm.Credential == nil) {
				t.Fatalf("re-encoded message differs")
			}
			DecodeObject21(dm.Body)
		}
	})
}
