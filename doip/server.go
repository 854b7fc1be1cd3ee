package doip

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datomspace/datomspace/doip/wire"
)

// Server runs a Processor over connections: DOIP 2.0 segments (Serve, ServeConn: TLS
// connections, libp2p streams, any io.ReadWriteCloser) and BDWare's DOIP 2.1 envelope
// (Serve21, ServeConn21). Requests pipelined on one connection are answered concurrently
// when they carry a requestId and no input segments, each response written whole; a request
// with input segments is processed as its bytes arrive, so element bytes stream through.
type Server struct {
	proc      Processor
	lim       wire.Limits
	log       *slog.Logger
	inflight  int
	idle      time.Duration
	handshake time.Duration
	max21     int
	frame21   int

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	lns    map[net.Listener]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ServerOption configures a Server.
type ServerOption func(*Server) error

// DefaultServerLimits bound the DOIP 2.0 requests a Server reads: a first segment or object
// JSON of at most 2 MiB (an object's attributes may have 1 MiB), and wire.DefaultLimits for the
// rest (chunks of 64 MiB, 65,536 segments, 1 GiB a message, which bounds an upload).
var DefaultServerLimits = wire.Limits{MaxJSON: 2 << 20}

// WithLimits sets the bounds on DOIP 2.0 requests (zero fields keep wire.DefaultLimits).
func WithLimits(l wire.Limits) ServerOption {
	return func(s *Server) error { s.lim = l; return nil }
}

// WithServerLogger sets the server's logger.
func WithServerLogger(l *slog.Logger) ServerOption {
	return func(s *Server) error { s.log = l; return nil }
}

// WithInflight bounds the requests processed at once on one connection (default 32).
func WithInflight(n int) ServerOption {
	return func(s *Server) error {
		if n < 1 {
			return errors.New("inflight must be at least 1")
		}
		s.inflight = n
		return nil
	}
}

// WithIdleTimeout closes a connection that sends nothing for d (default 5 minutes, Cordra's
// maxIdleTimeMillis; 0 never), or that takes longer than d to accept one write. It applies to
// connections with read and write deadlines: net.Conns and libp2p streams.
func WithIdleTimeout(d time.Duration) ServerOption {
	return func(s *Server) error { s.idle = d; return nil }
}

// WithMax21 bounds a DOIP 2.1 message's content, whole, in bytes (default 64 MiB): 2.1
// messages are held in memory.
func WithMax21(n int) ServerOption {
	return func(s *Server) error {
		if n < 1024 {
			return errors.New("DOIP 2.1 message bound must be at least 1 KiB")
		}
		s.max21 = n
		return nil
	}
}

// NewServer returns a Server of p.
func NewServer(p Processor, opts ...ServerOption) (*Server, error) {
	if p == nil {
		return nil, errors.New("server needs a processor")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{proc: p, lim: DefaultServerLimits, log: slog.Default(), inflight: 32, idle: 5 * time.Minute, handshake: 30 * time.Second,
		max21: 64 << 20, frame21: wire.DefaultMaxFrame, ctx: ctx, cancel: cancel,
		conns: map[io.Closer]struct{}{}, lns: map[net.Listener]struct{}{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			cancel()
			return nil, err
		}
	}
	return s, nil
}

// ErrServerClosed is returned by Serve and ServeConn after Close.
var ErrServerClosed = errors.New("DOIP server closed")

func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close stops the listeners, closes every connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Serve accepts DOIP 2.0 connections from ln until Close. A TLS listener's connections are
// handshaken first, and an Ed25519 client certificate names the client (see ConnInfo).
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// Serve21 accepts DOIP 2.1 connections from ln until Close.
func (s *Server) Serve21(ln net.Listener) error { return s.serve(ln, true) }

func (s *Server) serve(ln net.Listener, v21 bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
		s.wg.Done()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.untrack(c)
			info := ConnInfo{Local: c.LocalAddr(), Remote: c.RemoteAddr()}
			if tc, ok := c.(*tls.Conn); ok {
				hctx, cancel := context.WithTimeout(s.ctx, s.handshake)
				err := tc.HandshakeContext(hctx)
				cancel()
				if err != nil {
					s.log.Debug("doip: TLS handshake", "remote", c.RemoteAddr(), "err", err)
					c.Close()
					return
				}
				if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
					if pub, ok := certs[0].PublicKey.(ed25519.PublicKey); ok {
						info.PublicKey, info.ClientID = pub, PeerID(pub)
					}
				}
			}
			var err error
			if v21 {
				err = s.serveConn21(s.ctx, c, info)
			} else {
				err = s.serveConn(s.ctx, c, info)
			}
			if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
				s.log.Debug("doip: connection ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// ServeConn serves DOIP 2.0 on one connection until it ends, ctx is done or the server
// closes; it closes conn. info names the peer when the transport authenticated it (for a
// libp2p stream, its remote peer ID and key).
func (s *Server) ServeConn(ctx context.Context, conn io.ReadWriteCloser, info ConnInfo) error {
	if !s.track(conn) {
		conn.Close()
		return ErrServerClosed
	}
	defer s.untrack(conn)
	return s.serveConn(ctx, conn, info)
}

// ServeConn21 serves DOIP 2.1 on one connection, as ServeConn does 2.0.
func (s *Server) ServeConn21(ctx context.Context, conn io.ReadWriteCloser, info ConnInfo) error {
	if !s.track(conn) {
		conn.Close()
		return ErrServerClosed
	}
	defer s.untrack(conn)
	return s.serveConn21(ctx, conn, info)
}

// Connections that can time out: net.Conn, and libp2p streams.
type (
	readDeadliner  interface{ SetReadDeadline(time.Time) error }
	writeDeadliner interface{ SetWriteDeadline(time.Time) error }
)

// idleReader extends a connection's read deadline before each read, so a connection that
// sends nothing for the idle time is closed.
type idleReader struct {
	r    io.Reader
	d    readDeadliner
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.d.SetReadDeadline(time.Now().Add(r.idle))
	return r.r.Read(p)
}

// idleWriter extends a connection's write deadline before each write, so a peer that stops
// reading cannot hold a response, and the responses queued behind it, forever.
type idleWriter struct {
	w    io.Writer
	d    writeDeadliner
	idle time.Duration
}

func (w idleWriter) Write(p []byte) (int, error) {
	w.d.SetWriteDeadline(time.Now().Add(w.idle))
	return w.w.Write(p)
}

func (s *Server) reader(conn io.ReadWriteCloser) io.Reader {
	if d, ok := conn.(readDeadliner); ok && s.idle > 0 {
		return idleReader{conn, d, s.idle}
	}
	return conn
}

func (s *Server) writer(conn io.ReadWriteCloser) io.Writer {
	if d, ok := conn.(writeDeadliner); ok && s.idle > 0 {
		return idleWriter{conn, d, s.idle}
	}
	return conn
}

// connWriter serializes whole responses on one connection. A response is flushed when no other
// is waiting to be written, so pipelined responses share writes.
type connWriter struct {
	waiting atomic.Int32
	mu      sync.Mutex
	w       *wire.Writer
	conn    io.Closer
	broken  bool
}

func (s *Server) serveConn(ctx context.Context, conn io.ReadWriteCloser, info ConnInfo) error {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	defer cancel()
	defer conn.Close()
	context.AfterFunc(ctx, func() { conn.Close() })
	info.Protocol = "2.0"
	rd := wire.NewReader(s.reader(conn), s.lim)
	cw := &connWriter{w: wire.NewWriter(s.writer(conn)), conn: conn}
	sem := make(chan struct{}, s.inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.fatal(cw, "", err)
		}
		seg, err := msg.NextSegment()
		if err == io.EOF {
			s.reply(cw, "", wire.StatusInvalid, "no initial segment in request")
			continue
		}
		if err != nil {
			return s.fatal(cw, "", err)
		}
		if !seg.IsJSON() {
			if err := msg.Drain(); err != nil {
				return s.fatal(cw, "", err)
			}
			s.reply(cw, "", wire.StatusInvalid, "request initial segment must be JSON")
			continue
		}
		b, err := seg.ReadJSON(0)
		if err != nil {
			if rd.Err() != nil {
				return s.fatal(cw, "", err)
			}
			if err := msg.Drain(); err != nil {
				return s.fatal(cw, "", err)
			}
			s.reply(cw, "", wire.StatusInvalid, err.Error())
			continue
		}
		hdr, err := wire.ParseRequest(b)
		if err != nil {
			id := ""
			if hdr != nil {
				id = hdr.RequestID
			}
			if err := msg.Drain(); err != nil {
				return s.fatal(cw, id, err)
			}
			s.reply(cw, id, wire.StatusInvalid, err.Error())
			continue
		}
		end, err := msg.PeekEnd()
		if err != nil {
			return s.fatal(cw, hdr.RequestID, err)
		}
		if hdr.HasInput() && !end {
			if err := msg.Drain(); err != nil {
				return s.fatal(cw, hdr.RequestID, err)
			}
			s.reply(cw, hdr.RequestID, wire.StatusInvalid, "extra segments after initial JSON with compact input")
			continue
		}
		req := &Request{Request: *hdr, Conn: info}
		if end {
			if _, err := msg.NextSegment(); err != io.EOF {
				return s.fatal(cw, hdr.RequestID, err)
			}
			if hdr.RequestID != "" {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				wg.Go(func() {
					defer func() { <-sem }()
					s.process(ctx, cw, req)
				})
				continue
			}
			s.process(ctx, cw, req)
			continue
		}
		req.in = messageInput{msg}
		answered := s.process(ctx, cw, req)
		if err := msg.Drain(); err != nil {
			if errors.Is(answered, wire.ErrFraming) || errors.Is(answered, wire.ErrTooLarge) {
				return err // the response already said so
			}
			return s.fatal(cw, hdr.RequestID, err)
		}
		if cw.isBroken() {
			return errors.New("response cut short")
		}
	}
}

func (cw *connWriter) isBroken() bool {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.broken
}

// fatal answers a broken stream with status 101 and its reason, best effort, and ends the
// connection.
func (s *Server) fatal(cw *connWriter, requestID string, err error) error {
	if errors.Is(err, wire.ErrFraming) || errors.Is(err, wire.ErrTooLarge) {
		s.reply(cw, requestID, wire.StatusInvalid, err.Error())
	}
	return err
}

// reply writes a response with a status and message and no output.
func (s *Server) reply(cw *connWriter, requestID string, st wire.Status, msg string) {
	w := &response20{cw: cw, requestID: requestID, status: st}
	w.SetAttribute("message", msg)
	w.finish()
}

// process runs one request and returns the error its response reported, if any.
func (s *Server) process(ctx context.Context, cw *connWriter, req *Request) error {
	w := &response20{cw: cw, requestID: req.RequestID, status: wire.StatusOK}
	err := s.run(ctx, req, w)
	if err != nil {
		if w.Started() {
			s.log.Warn("doip: response cut short", "operation", req.OperationID, "target", req.TargetID, "err", err)
			w.abort()
			return err
		}
		st, show := StatusOf(err)
		msg := err.Error()
		if !show {
			s.log.Error("doip: operation failed", "operation", req.OperationID, "target", req.TargetID, "err", err)
			msg = unexpected
		}
		w.status = st
		w.attrs = errorAttributes(err, msg)
	}
	w.finish()
	return err
}

// run calls the processor, turning a panic into an error.
func (s *Server) run(ctx context.Context, req *Request, w ResponseWriter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in DOIP processor: %v", r)
		}
	}()
	return s.proc.Process(ctx, req, w)
}

// response20 is a ResponseWriter on a DOIP 2.0 connection. It takes the connection's write
// lock at its first write and holds it until it ends, so responses are never interleaved.
type response20 struct {
	cw        *connWriter
	requestID string
	status    wire.Status
	attrs     map[string]any
	started   bool
	ended     bool
	err       error
}

func (w *response20) SetStatus(st wire.Status) {
	if !w.started {
		w.status = st
	}
}

func (w *response20) SetAttribute(k string, v any) {
	if w.started {
		return
	}
	if w.attrs == nil {
		w.attrs = map[string]any{}
	}
	w.attrs[k] = v
}

func (w *response20) Started() bool { return w.started }

func (w *response20) header(output json.RawMessage) ([]byte, error) {
	h := wire.Response{RequestID: w.requestID, Status: w.status, Output: output}
	if len(w.attrs) > 0 {
		b, err := marshalNoEscape(w.attrs)
		if err != nil {
			return nil, err
		}
		h.Attributes = b
	}
	return marshalNoEscape(h)
}

// begin takes the lock and writes the first segment.
func (w *response20) begin(output json.RawMessage) error {
	if w.err != nil {
		return w.err
	}
	if w.ended {
		return errors.New("response already ended")
	}
	if w.started {
		if output != nil {
			return errors.New("compact output after output segments")
		}
		return nil
	}
	h, err := w.header(output)
	if err != nil {
		return err
	}
	w.cw.waiting.Add(1)
	w.cw.mu.Lock()
	w.cw.waiting.Add(-1)
	w.started = true
	if w.cw.broken {
		w.err = net.ErrClosed
		return w.err
	}
	return w.check(w.cw.w.JSON(h))
}

func (w *response20) check(err error) error {
	if err != nil && w.err == nil {
		w.err = err
		w.cw.broken = true
		w.cw.conn.Close()
	}
	return err
}

func (w *response20) WriteCompact(output json.RawMessage) error {
	if w.started {
		return errors.New("compact output after the response started")
	}
	if err := w.begin(output); err != nil {
		return err
	}
	return w.end()
}

func (w *response20) WriteJSON(b json.RawMessage) error {
	if err := w.begin(nil); err != nil {
		return err
	}
	return w.check(w.cw.w.JSON(b))
}

func (w *response20) WriteBytes(r io.Reader) (int64, error) {
	if err := w.begin(nil); err != nil {
		return 0, err
	}
	n, err := w.cw.w.BytesFrom(r)
	return n, w.check(err)
}

func (w *response20) end() error {
	if w.ended {
		return w.err
	}
	w.ended = true
	if w.err == nil {
		if w.check(w.cw.w.EndBuffered()) == nil && w.cw.waiting.Load() == 0 {
			w.check(w.cw.w.Flush())
		}
	}
	w.cw.mu.Unlock()
	return w.err
}

// finish ends the response, writing its first segment if nothing was written.
func (w *response20) finish() {
	if w.ended {
		return
	}
	if !w.started {
		if err := w.begin(nil); err != nil && !w.started {
			return
		}
	}
	w.end()
}

// abort ends a response cut short: the connection is closed, since the peer cannot tell a
// partial message from a whole one.
func (w *response20) abort() {
	if w.ended {
		return
	}
	w.ended = true
	w.cw.broken = true
	w.cw.conn.Close()
	w.cw.mu.Unlock()
}
