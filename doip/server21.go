package doip

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/datomspace/datomspace/doip/wire"
)

// DOIP 2.1 over a stream (BDWare's TCP listener): each message is one or more envelopes. A
// request's parameters {id, operation, attributes} are DOIP 2.0's targetId, operationId and
// attributes; its clientId and authentication may ride in the parameters too (a datomspace
// extension), or a credential may sign it: {"signer": clientId, "signAlg": "Ed25519"} and an
// Ed25519 signature, by the key clientId names, of the content before the credential. Create
// and Update bodies are BDWare's object serialization (u32 length, object JSON, then each
// element's bytes in order, for the elements whose length is positive), or bare object JSON.
// A response's parameters carry the status in "response" and attributes; its body is the
// object serialization for operations that return an object (with the element bytes when
// Retrieve asked for them), the element's bytes for Retrieve of one element, and the output
// JSON otherwise (ListOperations, Search).

func (s *Server) serveConn21(ctx context.Context, conn io.ReadWriteCloser, info ConnInfo) error {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	defer cancel()
	defer conn.Close()
	context.AfterFunc(ctx, func() { conn.Close() })
	info.Protocol = "2.1"
	br := bufio.NewReaderSize(s.reader(conn), 64<<10)
	var wmu sync.Mutex
	out := s.writer(conn)
	send := func(id uint32, m *wire.Message21) error {
		b, err := m.Encode()
		if err != nil {
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		return wire.WriteMessage(out, id, b, s.frame21)
	}
	asm := wire.Assembler{MaxMessage: s.max21, MaxPending: 64}
	sem := make(chan struct{}, s.inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	maxFrame := uint32(min(s.max21, s.frame21+wire.EnvelopeSize))
	for {
		env, content, err := wire.ReadFrame(br, maxFrame)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, wire.ErrEnvelope) {
				send(env.RequestID, errorMessage21(nil, wire.StatusInvalid, err.Error()))
			}
			return err
		}
		full, ok, err := asm.Add(env, content)
		if err != nil {
			send(env.RequestID, errorMessage21(nil, wire.StatusInvalid, err.Error()))
			return err
		}
		if !ok {
			continue
		}
		if env.Flags&wire.FlagEncrypted != 0 {
			send(env.RequestID, errorMessage21(nil, wire.StatusDeclined, "encrypted DOIP 2.1 messages are not supported"))
			continue
		}
		m, err := wire.DecodeMessage21(full)
		if err != nil {
			send(env.RequestID, errorMessage21(nil, wire.StatusInvalid, err.Error()))
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		id := env.RequestID
		wg.Go(func() {
			defer func() { <-sem }()
			resp := s.process21(ctx, m, id, info)
			if err := send(id, resp); err != nil {
				conn.Close()
			}
		})
	}
}

// errorMessage21 is a response with a status and a message (in attributes.message and, as
// BDWare writes it, in the body).
func errorMessage21(req *wire.Message21, st wire.Status, msg string) *wire.Message21 {
	p := wire.Params{Response: st}
	if req != nil {
		p.ID, p.Operation = req.Params.ID, req.Params.Operation
	}
	p.Attributes, _ = marshalNoEscape(map[string]any{"message": msg})
	return &wire.Message21{Params: p, Body: []byte(msg)}
}

// verifyCredential checks a DOIP 2.1 credential and returns the signer and its key.
func verifyCredential(m *wire.Message21) (string, ed25519.PublicKey, error) {
	var attrs struct {
		Signer  string `json:"signer"`
		SignAlg string `json:"signAlg"`
	}
	if err := json.Unmarshal(m.Credential.Attributes, &attrs); err != nil {
		return "", nil, fmt.Errorf("%w: credential attributes: %w", ErrUnauthenticated, err)
	}
	if attrs.SignAlg != "" && attrs.SignAlg != "Ed25519" && attrs.SignAlg != "EdDSA" {
		return "", nil, fmt.Errorf("%w: credential signAlg %q is not Ed25519", ErrUnauthenticated, attrs.SignAlg)
	}
	pub, err := PublicKeyOf(attrs.Signer)
	if err != nil {
		return "", nil, fmt.Errorf("%w: credential signer: %w", ErrUnauthenticated, err)
	}
	if !ed25519.Verify(pub, m.Signed, m.Credential.Signature) {
		return "", nil, fmt.Errorf("%w: credential signature does not verify against %s", ErrUnauthenticated, attrs.Signer)
	}
	return attrs.Signer, pub, nil
}

// returnsObject reports whether an operation's output is a digital object.
func returnsObject(op string) bool {
	switch canonicalOp(op) {
	case OpHello, OpCreate, OpUpdate, OpRetrieve:
		return true
	}
	return false
}

// input21 turns a Create or Update body into DOIP 2.0 input segments.
func input21(op string, body []byte) (input, error) {
	if len(body) == 0 {
		return nil, nil
	}
	switch canonicalOp(op) {
	case OpCreate, OpUpdate:
	default:
		return nil, nil // BDWare's clients put {"doid": id} in bodies that need none
	}
	objJSON, rest, err := wire.DecodeObject21(body)
	if err != nil {
		return nil, err
	}
	segs := []Segment{&jsonSegment{b: objJSON}}
	var shape struct {
		Elements []struct {
			ID     string `json:"id"`
			Length int64  `json:"length"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(objJSON, &shape); err != nil {
		return nil, fmt.Errorf("%w: object: %w", ErrInvalid, err)
	}
	for _, e := range shape.Elements {
		if e.Length <= 0 {
			continue
		}
		if e.Length > int64(len(rest)) {
			return nil, fmt.Errorf("%w: element %q of %d bytes, %d left in the body", ErrInvalid, e.ID, e.Length, len(rest))
		}
		hdr, _ := json.Marshal(map[string]string{"id": e.ID})
		segs = append(segs, &jsonSegment{b: hdr}, &bytesSegment{r: bytes.NewReader(rest[:e.Length])})
		rest = rest[e.Length:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the elements' data", ErrInvalid, len(rest))
	}
	return &sliceInput{segs: segs}, nil
}

func (s *Server) process21(ctx context.Context, m *wire.Message21, id uint32, info ConnInfo) *wire.Message21 {
	req := &Request{Request: wire.Request{RequestID: strconv.FormatUint(uint64(id), 10), ClientID: m.Params.ClientID,
		TargetID: m.Params.ID, OperationID: m.Params.Operation, Attributes: m.Params.Attributes,
		Authentication: m.Params.Authentication}, Conn: info}
	if m.Credential != nil {
		signer, pub, err := verifyCredential(m)
		if err != nil {
			return errorMessage21(m, wire.StatusUnauthenticated, err.Error())
		}
		req.Conn.ClientID, req.Conn.PublicKey = signer, pub
	}
	in, err := input21(m.Params.Operation, m.Body)
	if err != nil {
		st, _ := StatusOf(err)
		return errorMessage21(m, st, err.Error())
	}
	req.in = in
	w := &response21{max: s.max21, status: wire.StatusOK}
	if err := s.run(ctx, req, w); err != nil {
		st, show := StatusOf(err)
		msg := err.Error()
		if !show {
			s.log.Error("doip: operation failed", "operation", req.OperationID, "target", req.TargetID, "err", err)
			msg = unexpected
		}
		e := errorMessage21(m, st, msg)
		e.Params.Attributes, _ = marshalNoEscape(errorAttributes(err, msg))
		return e
	}
	out := &wire.Message21{Params: wire.Params{ID: m.Params.ID, Operation: m.Params.Operation, Response: w.status}}
	if len(w.attrs) > 0 {
		out.Params.Attributes, _ = marshalNoEscape(w.attrs)
	}
	out.Body = w.body(m.Params.Operation, req)
	return out
}

// response21 buffers a response for the DOIP 2.1 envelope.
type response21 struct {
	max    int
	size   int
	status wire.Status
	attrs  map[string]any
	segs   []seg21
}

type seg21 struct {
	json bool
	b    []byte
}

func (w *response21) SetStatus(st wire.Status) { w.status = st }

func (w *response21) SetAttribute(k string, v any) {
	if w.attrs == nil {
		w.attrs = map[string]any{}
	}
	w.attrs[k] = v
}

func (w *response21) Started() bool { return false } // nothing is sent before the end

func (w *response21) add(json bool, b []byte) error {
	w.size += len(b)
	if w.size > w.max {
		return fmt.Errorf("%w: %w: a DOIP 2.1 response over %d bytes", ErrDeclined, wire.ErrTooLarge, w.max)
	}
	w.segs = append(w.segs, seg21{json, b})
	return nil
}

func (w *response21) WriteCompact(output json.RawMessage) error { return w.add(true, output) }
func (w *response21) WriteJSON(b json.RawMessage) error         { return w.add(true, b) }

func (w *response21) WriteBytes(r io.Reader) (int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(w.max-w.size)+1))
	if err != nil {
		return 0, err
	}
	return int64(len(b)), w.add(false, b)
}

// body lays out the response body.
func (w *response21) body(op string, req *Request) []byte {
	if len(w.segs) == 0 {
		return nil
	}
	el, _, _ := req.stringAttr("element")
	if returnsObject(op) && el == "" && w.segs[0].json {
		var data [][]byte
		for _, s := range w.segs[1:] {
			if !s.json {
				data = append(data, s.b)
			}
		}
		return wire.EncodeObject21(w.segs[0].b, data...)
	}
	return w.segs[0].b
}
