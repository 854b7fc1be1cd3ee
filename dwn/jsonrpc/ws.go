package jsonrpc

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	// dwn-server's WebSocket server takes connections from any origin
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveWebSocket runs one WebSocket connection as a session until it closes.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	conn.SetReadLimit(s.cfg.maxMessage)
	ss, err := s.NewSession(WebSocket, func(frame []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return conn.WriteMessage(websocket.TextMessage, frame)
	})
	if err != nil {
		conn.Close()
		return
	}
	ss.mu.Lock()
	ss.onDone = func() { conn.Close() }
	ss.mu.Unlock()
	defer ss.Close()

	var alive atomic.Bool
	alive.Store(true)
	conn.SetPongHandler(func(string) error { alive.Store(true); return nil })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ss.Done():
				return
			case <-t.C:
				if !alive.Swap(false) {
					ss.Close()
					return
				}
				_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		kind, frame, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		ss.Serve(ctx, frame)
	}
}
