package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// A Hello request as BDWare's client frames it, written out by hand from the layout.
func helloFrame() []byte {
	params := []byte(`{"id":"svc","operation":"0.DOIP/Op.Hello"}`)
	var content []byte
	content = binary.BigEndian.AppendUint32(content, 0x80000000) // request
	content = binary.BigEndian.AppendUint32(content, uint32(len(params)))
	content = binary.BigEndian.AppendUint32(content, 0)
	content = append(content, params...)
	frame := []byte{2, 1, 0, 0, 0, 0, 0, 0}         // major, minor, flags, reserved
	frame = binary.BigEndian.AppendUint32(frame, 7) // requestId
	frame = binary.BigEndian.AppendUint32(frame, 0) // sequence
	frame = binary.BigEndian.AppendUint32(frame, 1) // total
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(content)))
	return append(frame, content...)
}

func TestEnvelopeGolden(t *testing.T) {
	m := &Message21{Flag: MsgRequest, Params: Params{ID: "svc", Operation: "0.DOIP/Op.Hello"}}
	content, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, 7, content, 0); err != nil {
		t.Fatal(err)
	}
	if want := helloFrame(); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("frame\n%x\nwant\n%x", buf.Bytes(), want)
	}
	env, got, err := ReadFrame(bytes.NewReader(helloFrame()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if env.RequestID != 7 || env.Total != 1 || env.Major != 2 || env.Minor != 1 {
		t.Fatalf("envelope %+v", env)
	}
	dm, err := DecodeMessage21(got)
	if err != nil {
		t.Fatal(err)
	}
	if dm.Flag != MsgRequest || dm.Params.ID != "svc" || dm.Params.Operation != "0.DOIP/Op.Hello" || len(dm.Body) != 0 || dm.Credential != nil {
		t.Fatalf("message %+v", dm)
	}
}

func TestMessage21Credential(t *testing.T) {
	m := &Message21{Flag: MsgRequest | MsgCertified, Params: Params{ID: "x/1", Operation: "0.DOIP/Op.Retrieve"},
		Body: []byte("body"), Credential: &Credential{Attributes: []byte(`{"signer":"k"}`), Signature: []byte{1, 2, 3}}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeMessage21(b)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := m.SignedPart()
	if !bytes.Equal(d.Signed, signed) || string(d.Body) != "body" || !bytes.Equal(d.Credential.Signature, []byte{1, 2, 3}) {
		t.Fatalf("decoded %+v", d)
	}
	// Every truncation is an error, never a panic.
	for i := 0; i < len(b); i++ {
		if _, err := DecodeMessage21(b[:i]); err == nil && i != len(signed) {
			t.Fatalf("truncated to %d bytes: no error", i)
		}
	}
}

func TestEnvelopeBad(t *testing.T) {
	f := helloFrame()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short header", f[:10]},
		{"short content", f[:len(f)-3]},
		{"major 3", append([]byte{3}, f[1:]...)},
		{"sequence above total", func() []byte { b := bytes.Clone(f); b[15] = 5; return b }()},
	} {
		if _, _, err := ReadFrame(bytes.NewReader(tc.b), 1<<20); !errors.Is(err, ErrEnvelope) {
			t.Errorf("%s: err = %v, want ErrEnvelope", tc.name, err)
		}
	}
	if _, _, err := ReadFrame(bytes.NewReader(f), 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over max: err = %v, want ErrTooLarge", err)
	}
}

// Property: a message split into frames by WriteMessage is assembled back, in any frame order.
func TestSplitAssemble(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 50; iter++ {
		content := make([]byte, rnd.IntN(5000))
		for i := range content {
			content[i] = byte(rnd.IntN(256))
		}
		var buf bytes.Buffer
		if err := WriteMessage(&buf, 9, content, 1+rnd.IntN(700)); err != nil {
			t.Fatal(err)
		}
		type frame struct {
			e Envelope
			c []byte
		}
		var frames []frame
		for buf.Len() > 0 {
			e, c, err := ReadFrame(&buf, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, frame{e, c})
		}
		rnd.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
		a := Assembler{MaxMessage: 1 << 20}
		var got []byte
		done := 0
		for _, fr := range frames {
			out, ok, err := a.Add(fr.e, fr.c)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got, done = out, done+1
			}
		}
		if done != 1 || !bytes.Equal(got, content) {
			t.Fatalf("iteration %d: assembled %d messages, equal %v", iter, done, bytes.Equal(got, content))
		}
	}
	a := Assembler{MaxMessage: 10}
	if _, _, err := a.Add(Envelope{Flags: FlagTruncated, Total: 3, RequestID: 1}, make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over budget: %v", err)
	}
}

func TestObject21(t *testing.T) {
	b := EncodeObject21([]byte(`{"id":"a"}`), []byte("xy"), []byte("z"))
	js, rest, err := DecodeObject21(b)
	if err != nil || string(js) != `{"id":"a"}` || string(rest) != "xyz" {
		t.Fatalf("%q %q %v", js, rest, err)
	}
	if js, rest, err := DecodeObject21([]byte(`{"id":"b"}`)); err != nil || string(js) != `{"id":"b"}` || rest != nil {
		t.Fatalf("bare JSON: %q %q %v", js, rest, err)
	}
	if _, _, err := DecodeObject21([]byte{0, 0, 0, 9, '{'}); !errors.Is(err, ErrEnvelope) {
		t.Fatalf("short: %v", err)
	}
}

func TestStatusNormalize(t *testing.T) {
	for in, want := range map[Status]Status{"0.DOIP/Status.1": StatusOK, "0.DOIP/Status.001": StatusOK, "Status.104": StatusNotFound,
		"0.DOIP/Status.500": StatusOther, "weird": "weird", "0.DOIP/Status.1234": "0.DOIP/Status.1234"} {
		if got := in.Normalize(); got != want {
			t.Errorf("%q.Normalize() = %q, want %q", in, got, want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest([]byte(`{"requestId":12,"targetId":"t","operationId":"o","attributes":{"a":1},"input":null,"extra":true}`))
	if err != nil || r.RequestID != "12" || r.TargetID != "t" || r.HasInput() || string(r.Attributes) != `{"a":1}` {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{`[]`, `null`, `{"targetId":1}`, `{"attributes":[1]}`, `{"requestId":{}}`, `{`} {
		if _, err := ParseRequest([]byte(bad)); !errors.Is(err, ErrBadHeader) {
			t.Errorf("ParseRequest(%s) = %v, want ErrBadHeader", bad, err)
		}
	}
}
