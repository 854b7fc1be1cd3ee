package jsonrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Header names.
const (
	HeaderRequest  = "dwn-request"
	HeaderResponse = "dwn-response"
)

const maxInlineBody = 16 << 20

// ServeHTTP serves dwn-server's routes: POST / (JSON-RPC), GET / with a WebSocket upgrade
// (subscriptions), GET /health and GET /info.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", HeaderResponse)
	switch {
	case r.Method == http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if ah := r.Header.Get("Access-Control-Request-Headers"); ah != "" {
			h.Set("Access-Control-Allow-Headers", ah)
		}
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/" && websocket.IsWebSocketUpgrade(r):
		s.serveWebSocket(w, r)
	case r.URL.Path == "/" && r.Method == http.MethodPost:
		s.servePost(w, r)
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		h.Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "please use a web5 client, for example: https://github.com/TBD54566975/web5-js ")
	case r.URL.Path == "/health" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, `{"ok":true}`)
	case r.URL.Path == "/info" && r.Method == http.MethodGet:
		info := jsv.NewObject()
		info.Set("server", "datomspace")
		info.Set("maxFileSize", float64(s.cfg.maxData))
		info.Set("registrationRequirements", []any{})
		info.Set("webSocketSupport", true)
		writeJSON(w, http.StatusOK, jsv.Stringify(info))
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// limited counts a body against a limit and remembers that it went over.
type limited struct {
	r    io.Reader
	left int64
	over atomic.Bool
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// one byte more tells an exact fit from too much
		var b [1]byte
		n, err := l.r.Read(b[:])
		if n > 0 {
			l.over.Store(true)
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

var errTooLarge = errors.New("request too large")

func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	var req *Request
	var data io.Reader
	var body *limited
	if hv := r.Header.Get(HeaderRequest); hv != "" {
		if int64(len(hv)) > s.cfg.maxMessage {
			s.badRequest(w, http.StatusRequestEntityTooLarge, "request too large")
			return
		}
		var err error
		if req, err = ParseRequest([]byte(hv)); err != nil {
			s.parseFailure(w, err)
			return
		}
		if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
			body = &limited{r: r.Body, left: s.cfg.maxData}
			data = body
		}
	} else {
		// the request as the body, with the data as params.encodedData
		lim := s.cfg.maxMessage + min(s.cfg.maxData, maxInlineBody)*4/3 + 4
		b, err := io.ReadAll(io.LimitReader(r.Body, lim+1))
		if err != nil {
			s.badRequest(w, http.StatusBadRequest, err.Error())
			return
		}
		if int64(len(b)) > lim {
			s.badRequest(w, http.StatusRequestEntityTooLarge, "request too large")
			return
		}
		if len(bytes.TrimSpace(b)) == 0 {
			s.badRequest(w, http.StatusBadRequest, "request payload required.")
			return
		}
		if req, err = ParseRequest(b); err != nil {
			s.parseFailure(w, err)
			return
		}
	}
	if req.Params != nil {
		if ev, ok := req.Params.Get("encodedData"); ok && data == nil {
			enc, isStr := ev.(string)
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
			if !isStr || err != nil {
				writeRPC(w, http.StatusInternalServerError, errorResponse(responseID(req), CodeInvalidParams, "params.encodedData must be base64url"))
				return
			}
			if int64(len(raw)) > s.cfg.maxData {
				s.badRequest(w, http.StatusRequestEntityTooLarge, "request too large")
				return
			}
			data = bytes.NewReader(raw)
		}
	}
	ctx := r.Context()
	res := s.handle(ctx, req, HTTP, data, nil)
	if body != nil && body.over.Load() {
		if res.Data != nil {
			res.Data.Close()
		}
		writeRPC(w, http.StatusRequestEntityTooLarge, errorResponse(responseID(req), CodeBadRequest, "request too large"))
		return
	}
	if res.IsError() {
		writeRPC(w, http.StatusInternalServerError, res.Response)
		return
	}
	if res.Data != nil {
		defer res.Data.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(HeaderResponse, jsv.StringifyASCII(res.Response))
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, res.Data)
		return
	}
	writeRPC(w, http.StatusOK, res.Response)
}

// parseFailure answers a request that is not JSON (dwn-server's 400 BadRequest with the parser's
// message) or not a JSON-RPC request object (400 with the JSON-RPC code).
func (s *Server) parseFailure(w http.ResponseWriter, err error) {
	var je *Error
	if errors.As(err, &je) {
		writeRPC(w, http.StatusBadRequest, errorResponse(uuidV4(), je.Code, je.Message))
		return
	}
	s.badRequest(w, http.StatusBadRequest, err.Error())
}

func (s *Server) badRequest(w http.ResponseWriter, status int, msg string) {
	writeRPC(w, status, errorResponse(uuidV4(), CodeBadRequest, msg))
}

func writeRPC(w http.ResponseWriter, status int, resp *jsv.Object) {
	b := jsv.Stringify(resp)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b)
}
