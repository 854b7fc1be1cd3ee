package jsonrpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// The stream framing carries the JSON-RPC protocol over one bidirectional byte stream (a libp2p
// stream of /datomspace/dwn/1.0.0): frames are a type byte, a uvarint length and the payload.
//
//	client: 'q' request JSON, then 'd' data chunks and an 'e' (always, even without data)
//	server: 'r' response JSON, then 'd' data chunks and an 'e' (always)
//	server: 'v' a subscription event (a JSON-RPC response with the subscription id), between
//	        responses
//
// Requests are answered in order; subscriptions stay open until closed or the stream ends.
const (
	FrameRequest  = 'q'
	FrameResponse = 'r'
	FrameEvent    = 'v'
	FrameData     = 'd'
	FrameEnd      = 'e'
)

// maxChunk is the largest data frame written; frames read may be up to the message limit.
const maxChunk = 64 << 10

// ErrFrame is returned for a stream that breaks the framing.
var ErrFrame = errors.New("jsonrpc: bad frame")

func writeFrame(w io.Writer, kind byte, payload []byte) error {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload))
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

func readFrame(r *bufio.Reader, max int64) (byte, []byte, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: length: %v", ErrFrame, err)
	}
	if n > uint64(max) {
		return 0, nil, fmt.Errorf("%w: %d bytes over the limit of %d", ErrFrame, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrFrame, err)
	}
	return kind, b, nil
}

// frameData reads 'd' frames as a stream until 'e'.
type frameData struct {
	r    *bufio.Reader
	max  int64
	buf  []byte
	done bool
	err  error
}

func (f *frameData) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.done {
			return 0, io.EOF
		}
		if f.err != nil {
			return 0, f.err
		}
		kind, b, err := readFrame(f.r, f.max)
		switch {
		case err != nil:
			f.err = err
		case kind == FrameData:
			f.buf = b
		case kind == FrameEnd:
			f.done = true
		default:
			f.err = fmt.Errorf("%w: %q inside data", ErrFrame, kind)
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// prime reads the first frame after a request: data (kept for Read) or the end frame. It
// reports whether the request has data.
func (f *frameData) prime() (bool, error) {
	kind, b, err := readFrame(f.r, f.max)
	switch {
	case err != nil:
		return false, err
	case kind == FrameData:
		f.buf = b
		return true, nil
	case kind == FrameEnd:
		f.done = true
		return false, nil
	}
	return false, fmt.Errorf("%w: %q after a request", ErrFrame, kind)
}

// drain reads what the handler left of the data, to the end frame.
func (f *frameData) drain() error {
	_, err := io.Copy(io.Discard, f)
	return err
}

// ServeStream serves one stream until it ends or ctx does; it closes the stream's subscriptions
// when it returns. rw is typically a libp2p network.Stream.
func (s *Server) ServeStream(ctx context.Context, rw io.ReadWriter) error {
	br := bufio.NewReader(rw)
	var wmu sync.Mutex
	ss, err := s.NewSession(Stream, func(frame []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(rw, FrameEvent, frame)
	})
	if err != nil {
		return err
	}
	defer ss.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		kind, b, err := readFrame(br, s.cfg.maxMessage)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if kind != FrameRequest {
			return fmt.Errorf("%w: %q where a request was due", ErrFrame, kind)
		}
		data := &frameData{r: br, max: s.cfg.maxMessage}
		hasData, err := data.prime()
		if err != nil {
			return err
		}
		var res *Result
		if req, perr := ParseRequest(b); perr != nil {
			var je *Error
			if errors.As(perr, &je) {
				res = &Result{Response: errorResponse(uuidV4(), je.Code, je.Message)}
			} else {
				res = &Result{Response: errorResponse(uuidV4(), CodeBadRequest, perr.Error())}
			}
		} else {
			lim := &limited{r: data, left: s.cfg.maxData}
			var in io.Reader
			if hasData {
				in = lim // a request without data frames has no data, as an HTTP request without a body
			}
			res = ss.Handle(ctx, req, in)
			if lim.over.Load() {
				if res.Data != nil {
					res.Data.Close()
				}
				res = &Result{Response: errorResponse(responseID(req), CodeBadRequest, "request too large")}
			}
		}
		if err := data.drain(); err != nil {
			if res.Data != nil {
				res.Data.Close()
			}
			return err
		}
		if err := s.writeResult(&wmu, rw, res); err != nil {
			return err
		}
	}
}

func (s *Server) writeResult(wmu *sync.Mutex, w io.Writer, res *Result) error {
	wmu.Lock()
	defer wmu.Unlock()
	if res.Data != nil {
		defer res.Data.Close()
	}
	if err := writeFrame(w, FrameResponse, []byte(jsv.Stringify(res.Response))); err != nil {
		return err
	}
	if res.Data != nil {
		buf := make([]byte, maxChunk)
		for {
			n, err := res.Data.Read(buf)
			if n > 0 {
				if werr := writeFrame(w, FrameData, buf[:n]); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				// the response is out; end the data early, the client sees a short read
				break
			}
		}
	}
	return writeFrame(w, FrameEnd, nil)
}

// StreamClient sends requests over a stream served by ServeStream. One request at a time; read
// (or close) a reply's Data before the next request.
type StreamClient struct {
	rw io.ReadWriter
	br *bufio.Reader
	// OnEvent receives subscription events (JSON-RPC responses keyed by subscription id) that
	// arrive while the client waits for a response. Nil drops them.
	OnEvent func(*jsv.Object)
	mu      sync.Mutex
	pending *frameData
}

// NewStreamClient returns a client on rw.
func NewStreamClient(rw io.ReadWriter) *StreamClient {
	return &StreamClient{rw: rw, br: bufio.NewReader(rw)}
}

// Call sends one JSON-RPC request with data (nil for none) and returns the response; the data of
// a read comes as reply.Data.
func (c *StreamClient) Call(ctx context.Context, req *jsv.Object, data io.Reader) (*ClientReply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.pending != nil {
		if err := c.pending.drain(); err != nil {
			return nil, err
		}
		c.pending = nil
	}
	if err := writeFrame(c.rw, FrameRequest, []byte(jsv.Stringify(req))); err != nil {
		return nil, err
	}
	if data != nil {
		buf := make([]byte, maxChunk)
		for {
			n, err := data.Read(buf)
			if n > 0 {
				if werr := writeFrame(c.rw, FrameData, buf[:n]); werr != nil {
					return nil, werr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if err := writeFrame(c.rw, FrameEnd, nil); err != nil {
		return nil, err
	}
	for {
		kind, b, err := readFrame(c.br, 256<<20)
		if err != nil {
			return nil, err
		}
		v, perr := jsv.Parse(b)
		o, _ := v.(*jsv.Object)
		if perr != nil || o == nil {
			return nil, fmt.Errorf("%w: response is not a JSON object", ErrFrame)
		}
		switch kind {
		case FrameEvent:
			if c.OnEvent != nil {
				c.OnEvent(o)
			}
			continue
		case FrameResponse:
		default:
			return nil, fmt.Errorf("%w: %q where a response was due", ErrFrame, kind)
		}
		out := &ClientReply{Response: o}
		if ev, ok := o.Get("error"); ok {
			eo, _ := ev.(*jsv.Object)
			code, _ := eo.Get("code")
			msg, _ := eo.Get("message")
			cf, _ := code.(float64)
			ms, _ := msg.(string)
			out.Error = &Error{Code: int(cf), Message: ms}
		} else {
			res, _ := o.Get("result")
			ro, _ := res.(*jsv.Object)
			rv, _ := ro.Get("reply")
			out.Reply, _ = rv.(*jsv.Object)
		}
		fd := &frameData{r: c.br, max: 256 << 20}
		kind, b, err = readFrame(c.br, 256<<20)
		switch {
		case err != nil:
			return nil, err
		case kind == FrameEnd:
		case kind == FrameData:
			fd.buf = b
			c.pending = fd
			out.Data = io.NopCloser(fd)
		default:
			return nil, fmt.Errorf("%w: %q after a response", ErrFrame, kind)
		}
		return out, nil
	}
}

// Process sends message (JSON) to target with data.
func (c *StreamClient) Process(ctx context.Context, target string, message []byte, data io.Reader) (*ClientReply, error) {
	mv, err := jsv.Parse(message)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	params := jsv.NewObject()
	params.Set("target", target)
	params.Set("message", mv)
	req := jsv.NewObject()
	req.Set("jsonrpc", "2.0")
	req.Set("id", uuidV4())
	req.Set("method", MethodProcessMessage)
	req.Set("params", params)
	return c.Call(ctx, req, data)
}

// TenantCore asks the node for the key and length of the core it journals tenant in (the method
// datomspace.tenantCore, served WithTenantCores): the core a tenant's other nodes replicate.
// authorization is this node's authorization of the tenant (nil: none). A node that refuses
// answers with a JSON-RPC *Error: CodeUnauthorized, or CodeInvalidParams when it holds no core.
func (c *StreamClient) TenantCore(ctx context.Context, tenant string, authorization []byte) (TenantCoreReply, error) {
	params := jsv.NewObject()
	params.Set("target", tenant)
	if authorization != nil {
		a, err := jsv.Parse(authorization)
		if err != nil {
			return TenantCoreReply{}, fmt.Errorf("%w: %w", dwn.ErrNodeAuthorization, err)
		}
		params.Set("authorization", a)
	}
	req := jsv.NewObject()
	req.Set("jsonrpc", "2.0")
	req.Set("id", uuidV4())
	req.Set("method", MethodTenantCore)
	req.Set("params", params)
	r, err := c.Call(ctx, req, nil)
	if err != nil {
		return TenantCoreReply{}, err
	}
	if r.Error != nil {
		return TenantCoreReply{}, r.Error
	}
	res, _ := r.Response.Get("result")
	ro, _ := res.(*jsv.Object)
	if ro == nil {
		return TenantCoreReply{}, fmt.Errorf("%w: tenantCore result %s", ErrResponse, jsv.Stringify(res))
	}
	kv, _ := ro.Get("key")
	lv, _ := ro.Get("length")
	ks, _ := kv.(string)
	lf, ok := lv.(float64)
	key, err := hex.DecodeString(ks)
	if err != nil || len(key) != 32 || !ok || lf < 0 || lf != float64(uint64(lf)) {
		return TenantCoreReply{}, fmt.Errorf("%w: tenantCore result %s", ErrResponse, jsv.Stringify(res))
	}
	rep := TenantCoreReply{Key: key, Length: uint64(lf)}
	if a, ok := ro.Get("authorization"); ok && a != nil {
		rep.Authorization = []byte(jsv.Stringify(a))
	}
	return rep, nil
}
