package jsonrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// ErrSessionClosed is returned after a session closed.
var ErrSessionClosed = errors.New("jsonrpc: session closed")

// Session is one connection that can hold subscriptions (dwn-server's SocketConnection). Frames
// (responses and subscription events) go out through the write function given to NewSession, one
// at a time and in order, from a goroutine of the session; a session whose frames pile up beyond
// the send queue is closed.
type Session struct {
	s     *Server
	tr    Transport
	write func([]byte) error

	out  chan []byte
	done chan struct{}

	mu     sync.Mutex
	subs   map[string]*dwn.Subscription
	closed bool
	onDone func()
}

// NewSession starts a session on tr whose frames are written with write. Close it when the
// connection ends.
func (s *Server) NewSession(tr Transport, write func(frame []byte) error) (*Session, error) {
	ss := &Session{s: s, tr: tr, write: write, out: make(chan []byte, s.cfg.sendQueue), done: make(chan struct{}), subs: map[string]*dwn.Subscription{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSessionClosed
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go ss.writer()
	return ss, nil
}

func (ss *Session) writer() {
	defer ss.s.wg.Done()
	for {
		select {
		case f := <-ss.out:
			if err := ss.write(f); err != nil {
				ss.Close()
				return
			}
		case <-ss.done:
			return
		}
	}
}

// Done is closed when the session closes.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// send queues a frame; a full queue closes the session.
func (ss *Session) send(resp *jsv.Object) {
	b := []byte(jsv.Stringify(resp))
	ss.mu.Lock()
	closed := ss.closed
	ss.mu.Unlock()
	if closed {
		return
	}
	select {
	case ss.out <- b:
	default:
		ss.s.cfg.log.Warn("dwn: closing a session that does not keep up with its frames")
		go ss.Close()
	}
}

// Serve handles one text frame as dwn-server's SocketConnection does and queues the response.
// Data returned by a read is dropped, as dwn-server drops it on sockets.
func (ss *Session) Serve(ctx context.Context, frame []byte) {
	if len(frame) == 0 {
		ss.send(errorResponse(uuidV4(), CodeBadRequest, "request payload required."))
		return
	}
	if int64(len(frame)) > ss.s.cfg.maxMessage {
		ss.send(errorResponse(uuidV4(), CodeBadRequest, "request too large"))
		return
	}
	req, err := ParseRequest(frame)
	if err != nil {
		var je *Error
		if errors.As(err, &je) {
			ss.send(errorResponse(uuidV4(), je.Code, je.Message))
			return
		}
		ss.send(errorResponse(uuidV4(), CodeBadRequest, err.Error()))
		return
	}
	res := ss.s.handle(ctx, req, ss.tr, nil, ss)
	if res.Data != nil {
		res.Data.Close()
	}
	ss.send(res.Response)
}

// Handle processes one request on the session, with record data for transports that carry it,
// and returns the result for the caller to send (subscription events still go through the
// session's write function).
func (ss *Session) Handle(ctx context.Context, req *Request, data io.Reader) *Result {
	return ss.s.handle(ctx, req, ss.tr, data, ss)
}

func subKey(id any) string { return jsv.TypeOf(id) + ":" + jsv.Stringify(id) }

func (ss *Session) hasSubscription(id any) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.subs[subKey(id)]
	return ok
}

func (ss *Session) addSubscription(id any, sub *dwn.Subscription) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.subs[subKey(id)] = sub
	return true
}

func (ss *Session) closeSubscription(id any) bool {
	ss.mu.Lock()
	sub, ok := ss.subs[subKey(id)]
	delete(ss.subs, subKey(id))
	ss.mu.Unlock()
	if ok {
		sub.Close()
	}
	return ok
}

// Subscriptions returns the number of open subscriptions.
func (ss *Session) Subscriptions() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.subs)
}

// Close closes the session's subscriptions and stops its writer. It is safe to call more than
// once and from any goroutine.
func (ss *Session) Close() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	subs := ss.subs
	ss.subs = map[string]*dwn.Subscription{}
	onDone := ss.onDone
	ss.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
	close(ss.done)
	ss.s.mu.Lock()
	delete(ss.s.sessions, ss)
	ss.s.mu.Unlock()
	if onDone != nil {
		onDone()
	}
}
