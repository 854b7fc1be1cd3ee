package protocols

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Request protocols: one request, one answer, on a stream of its own. The asset layer's key
// release and query protocols run on them. A request is a frame (a uvarint length, then the
// bytes); the answer is one status byte, then a frame: the answer itself (status 0), or a
// refusal (status 1), a Refuse message with its code and message.

// RequestHandler answers one request from a peer. An error that is a *Refusal reaches the peer
// with its code and message; any other error reaches it as the code "error" with its message.
type RequestHandler func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// RequestServer serves one request protocol on a host.
type RequestServer struct {
	h       host.Host
	id      protocol.ID
	handler RequestHandler
	maxReq  int
	timeout time.Duration
	log     *slog.Logger
	slots   chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// Defaults of a request server.
const (
	DefaultRequestTimeout  = 30 * time.Second
	DefaultRequestParallel = 16
)

// ServeRequests answers requests of protocol id on h with handler, each at most maxReq bytes, at
// most DefaultRequestParallel at once (more are reset at once), each within
// DefaultRequestTimeout. Close stops it and waits for the requests in progress.
func ServeRequests(h host.Host, id protocol.ID, maxReq int, log *slog.Logger, handler RequestHandler) *RequestServer {
	if log == nil {
		log = slog.Default()
	}
	s := &RequestServer{h: h, id: id, handler: handler, maxReq: maxReq, timeout: DefaultRequestTimeout, log: log,
		slots: make(chan struct{}, DefaultRequestParallel)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(id, s.handle)
	return s
}

// Close stops serving and waits for the requests in progress.
func (s *RequestServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.h.RemoveStreamHandler(s.id)
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *RequestServer) handle(st network.Stream) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		st.Reset()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		st.ResetWithError(network.StreamResourceLimitExceeded)
		return
	}
	st.SetDeadline(time.Now().Add(s.timeout))
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	req, err := readFrame(bufio.NewReaderSize(st, 4096), s.maxReq, func(n int) []byte { return make([]byte, n) })
	if err != nil {
		st.Reset()
		return
	}
	from := st.Conn().RemotePeer()
	resp, err := s.handler(ctx, from, req)
	var out []byte
	if err != nil {
		var ref *Refusal
		if !errors.As(err, &ref) {
			ref = &Refusal{Code: "error", Message: err.Error()}
		}
		ref = clipRefusal(ref)
		out = AppendFrame([]byte{1}, &Refuse{Code: ref.Code, Message: ref.Message, Meta: ref.Meta})
	} else {
		out = binary.AppendUvarint([]byte{0}, uint64(len(resp)))
		out = append(out, resp...)
	}
	if _, err := st.Write(out); err != nil {
		st.Reset()
		return
	}
	st.CloseWrite()
	io.Copy(io.Discard, io.LimitReader(st, 1)) // until the peer closes, within the deadline
	st.Close()
}

// Ask sends req to peer p on protocol id and returns its answer, at most maxResp bytes. A
// refusal is returned as a *Refusal, which matches ErrRefused.
func Ask(ctx context.Context, h host.Host, p peer.ID, id protocol.ID, req []byte, maxResp int) ([]byte, error) {
	st, err := h.NewStream(ctx, p, id)
	if err != nil {
		return nil, fmt.Errorf("%s request to peer %s: %w", id, p, err)
	}
	defer st.Close()
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	} else {
		st.SetDeadline(time.Now().Add(DefaultRequestTimeout))
	}
	frame := binary.AppendUvarint(nil, uint64(len(req)))
	if _, err := st.Write(append(frame, req...)); err != nil {
		st.Reset()
		return nil, fmt.Errorf("%s request to peer %s: %w", id, p, err)
	}
	st.CloseWrite()
	br := bufio.NewReaderSize(st, 4096)
	status, err := br.ReadByte()
	if err != nil {
		st.Reset()
		return nil, fmt.Errorf("%s request to peer %s: no answer: %w", id, p, err)
	}
	switch status {
	case 0:
		resp, err := readFrame(br, maxResp, func(n int) []byte { return make([]byte, n) })
		if err != nil {
			st.Reset()
			return nil, fmt.Errorf("%s request to peer %s: answer: %w", id, p, err)
		}
		return resp, nil
	case 1:
		frame, err := readFrame(br, maxOpenMessage, func(n int) []byte { return make([]byte, n) })
		if err != nil {
			st.Reset()
			return nil, fmt.Errorf("%s request to peer %s: refusal: %w", id, p, err)
		}
		m, err := DecodeMessage(frame)
		rf, ok := m.(*Refuse)
		if err != nil || !ok {
			return nil, fmt.Errorf("%s request to peer %s: %w: a malformed refusal", id, p, ErrMalformed)
		}
		return nil, &Refusal{Code: rf.Code, Message: rf.Message, Meta: rf.Meta}
	}
	st.Reset()
	return nil, fmt.Errorf("%s request to peer %s: %w: status %d", id, p, ErrMalformed, status)
}
