package peer

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// APISocket is the name of the local API's unix socket inside the repo.
const APISocket = "api.sock"

// API serves the local HTTP+JSON API of a running node: every operation (see Op) at
// POST /v1/{name}, with a JSON body. A plain operation answers with its result as JSON; a
// streaming one with JSON lines, {"event": ...} then {"result": ...}. Errors are
// {"error": message, "codes": [...]} with a 4xx or 5xx status (or as the last line of a stream);
// the codes name the sentinel errors the message wraps, so a Client's errors.Is answers as the
// node's does.
//
// Who may call it: the unix socket in the repo is guarded by its 0600 file mode. The optional TCP
// listener (loopback only) requires the repo's API token as a bearer token, refuses requests whose
// Host is not a loopback name or address (DNS rebinding) and requests from any Origin but its own,
// and, like the socket, accepts only application/json bodies, so a web page cannot reach it with a
// form post.
type API struct {
	local  *Local
	log    *slog.Logger
	routes map[string]route
	token  string
	budget *semaphore.Weighted
	cfg    apiConfig

	ctx    context.Context // handlers' base context, canceled by Close
	cancel context.CancelFunc
	srvs   []*http.Server
	ls     []net.Listener
	wg     sync.WaitGroup
	sock   string

	extraSocks []string // the sockets of WithUnixSocket, removed by Close
}

type apiConfig struct {
	tcp        string
	sockets    []string // WithUnixSocket
	bodyBudget int64
	busyWait   time.Duration
}

// APIOption configures NewAPI.
type APIOption func(*apiConfig) error

// WithTCP also serves the API on addr, a loopback HOST:PORT such as 127.0.0.1:5001 (port 0 picks
// one; see Addrs). Requests there need the API token.
func WithTCP(addr string) APIOption {
	return func(c *apiConfig) error {
		if addr == "" {
			return nil
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !isLoopbackIP(host) {
			return fmt.Errorf("%w: the local API listens on a loopback address only, e.g. 127.0.0.1:5001, not %q", ErrBadRequest, addr)
		}
		c.tcp = addr
		return nil
	}
}

// WithBodyBudget bounds the memory all requests being read at once may take, in bytes of
// request body (default 512 MiB). A request that would exceed it waits briefly, then fails with
// ErrBusy.
func WithBodyBudget(n int64) APIOption {
	return func(c *apiConfig) error {
		if n < DefaultMaxBody {
			return fmt.Errorf("%w: a body budget of %d bytes is below one request's %d", ErrBadRequest, n, DefaultMaxBody)
		}
		c.bodyBudget = n
		return nil
	}
}

// NewAPI serves the API of n on the repo's unix socket and on the listeners the options add.
func NewAPI(n *Node, opts ...APIOption) (*API, error) {
	cfg := apiConfig{bodyBudget: 512 << 20, busyWait: 10 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	token, err := LoadAPIToken(n.Repo.Path)
	if err != nil {
		return nil, err
	}
	a := &API{local: daemonLocal(n), log: n.o.log, routes: map[string]route{}, token: token,
		budget: semaphore.NewWeighted(cfg.bodyBudget), cfg: cfg}
	for _, r := range allRoutes() {
		if _, dup := a.routes[r.opName()]; dup {
			panic("peer: two operations are named " + r.opName())
		}
		a.routes[r.opName()] = r
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.sock = filepath.Join(n.Repo.Path, APISocket)
	os.Remove(a.sock) // a stale socket of a daemon that died: the repo lock proves it is gone
	ul, err := net.Listen("unix", a.sock)
	if err != nil {
		return nil, fmt.Errorf("local API socket %s: %w", a.sock, err)
	}
	if err := os.Chmod(a.sock, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("local API socket %s: %w", a.sock, err)
	}
	a.serve(ul, a.handler())
	if err := a.serveSockets(); err != nil {
		a.Close(context.Background())
		return nil, err
	}
	if cfg.tcp != "" {
		tl, err := net.Listen("tcp", cfg.tcp)
		if err != nil {
			a.Close(context.Background())
			return nil, fmt.Errorf("local API on %s: %w", cfg.tcp, err)
		}
		h := http.NewServeMux()
		h.HandleFunc("GET /{$}", dashboard)
		h.Handle("/", a.guardTCP(a.handler()))
		a.serve(tl, a.guardHost(h))
		n.mu.Lock()
		n.api = append(n.api, tl.Addr().String())
		n.mu.Unlock()
	}
	return a, nil
}

func (a *API) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return a.ctx },
		ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	a.srvs, a.ls = append(a.srvs, srv), append(a.ls, l)
	a.wg.Go(func() { srv.Serve(l) })
}

// Addrs returns where the API listens: the socket's path, and HOST:PORT for TCP.
func (a *API) Addrs() []string {
	var out []string
	for _, l := range a.ls {
		out = append(out, l.Addr().String())
	}
	return out
}

// Token returns the bearer token the TCP listener requires.
func (a *API) Token() string { return a.token }

// Close stops the API: it cancels running operations, waits for them until ctx ends, and removes
// the socket.
func (a *API) Close(ctx context.Context) error {
	a.cancel()
	var errs []error
	for _, s := range a.srvs {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err, s.Close())
		}
	}
	a.wg.Wait()
	os.Remove(a.sock)
	a.removeSockets()
	return errors.Join(errs...)
}

// handler routes POST /v1/{op} to the operation.
func (a *API) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{op}", a.op)
	mux.HandleFunc("/v1/{op}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: operations are POST requests with a JSON body", ErrBadRequest))
	})
	return mux
}

func (a *API) op(w http.ResponseWriter, r *http.Request) {
	rt, ok := a.routes[r.PathValue("op")]
	if !ok {
		writeError(w, fmt.Errorf("%w %q: the daemon may be older than this client", ErrUnknownOp, r.PathValue("op")))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, fmt.Errorf("%w: the API takes application/json bodies only", ErrUnsupportedMediaType))
		return
	}
	body, release, err := a.readBody(w, r, rt.bodyLimit())
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	resp := &responder{w: w}
	defer resp.finish()
	rt.serve(r.Context(), a.local, body, resp)
}

// readBody reads a request body of at most limit bytes, within the node's body budget. release
// returns its share of the budget.
func (a *API) readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, release func(), err error) {
	if r.ContentLength > limit {
		return nil, nil, fmt.Errorf("%w: %d bytes, over this operation's limit of %d", ErrRequestTooLarge, r.ContentLength, limit)
	}
	size := limit
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	// Reading takes the body's bytes, and decoding about as much again: reserve twice the size.
	weight := 2*size + 4096
	if weight > a.cfg.bodyBudget {
		return nil, nil, fmt.Errorf("%w: %d bytes, over the node's budget for request bodies", ErrRequestTooLarge, size)
	}
	wctx, cancel := context.WithTimeout(r.Context(), a.cfg.busyWait)
	defer cancel()
	if err := a.budget.Acquire(wctx, weight); err != nil {
		return nil, nil, fmt.Errorf("%w: other requests hold the memory for request bodies; retry shortly", ErrBusy)
	}
	release = func() { a.budget.Release(weight) }
	buf := make([]byte, 0, min(size, 1<<20)+1)
	rd := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, release, nil
		}
		if err != nil {
			release()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, fmt.Errorf("%w: over this operation's limit of %d bytes", ErrRequestTooLarge, limit)
			}
			return nil, nil, fmt.Errorf("%w: reading the body: %w", ErrBadRequest, err)
		}
	}
}

// guardHost lets through only requests that name a loopback host: a page of another site that a
// DNS name rebinds to 127.0.0.1 names its own host.
func (a *API) guardHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !isLoopbackHost(host) {
			writeError(w, fmt.Errorf("%w: the API answers requests for loopback host names only, not %q", ErrForbidden, r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guardTCP lets through only requests that come from no origin or the API's own (the dashboard),
// and carry the API token.
func (a *API) guardTCP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			writeError(w, fmt.Errorf("%w: requests from origin %q are not accepted", ErrForbidden, o))
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="datomspace"`)
			writeError(w, fmt.Errorf("%w: the TCP API needs the repo's API token as a bearer token", ErrUnauthorized))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether host (a name or an address, IPv6 with or without brackets)
// is loopback.
func isLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || isLoopbackIP(host)
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// route is an operation as the API sees it, with its types erased.
type route interface {
	opName() string
	bodyLimit() int64
	serve(ctx context.Context, l *Local, body []byte, w *responder)
}

func (op Op[Req, Resp]) opName() string { return op.Name }

func (op Op[Req, Resp]) bodyLimit() int64 { return limitOr(op.MaxBody) }

func (op Op[Req, Resp]) serve(ctx context.Context, l *Local, body []byte, w *responder) {
	var req Req
	if err := decodeRequest(body, &req); err != nil {
		w.fail(err)
		return
	}
	resp, err := op.Run(ctx, l, req)
	if err != nil {
		w.fail(err)
		return
	}
	w.reply(resp)
}

func (op StreamOp[Req, Ev, Resp]) opName() string { return op.Name }

func (op StreamOp[Req, Ev, Resp]) bodyLimit() int64 { return limitOr(op.MaxBody) }

func (op StreamOp[Req, Ev, Resp]) serve(ctx context.Context, l *Local, body []byte, w *responder) {
	var req Req
	if err := decodeRequest(body, &req); err != nil {
		w.fail(err)
		return
	}
	w.startStream()
	resp, err := op.Run(ctx, l, req, func(ev Ev) error { return w.line(streamEvent[Ev]{ev}) })
	if err != nil {
		w.fail(err)
		return
	}
	w.line(streamResult[Resp]{resp})
}

type streamEvent[Ev any] struct {
	Event Ev `json:"event"`
}

type streamResult[Resp any] struct {
	Result Resp `json:"result"`
}

func limitOr(n int64) int64 {
	if n <= 0 {
		return DefaultMaxBody
	}
	return n
}

// decodeRequest decodes a request body: exactly one JSON value, nothing after it.
func decodeRequest(body []byte, req any) error {
	if err := json.Unmarshal(body, req); err != nil {
		return fmt.Errorf("%w: %s", ErrBadRequest, JSONProblem(err))
	}
	return nil
}

// JSONProblem describes a JSON decoding error for people, without Go type names.
func JSONProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		want := map[string]string{"string": "a string", "bool": "true or false", "slice": "an array",
			"map": "an object", "struct": "an object"}[te.Type.Kind().String()]
		if want == "" {
			want = "a number"
		}
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", te.Field, want, te.Value)
		}
		return fmt.Sprintf("the value must be %s, not %s", want, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	default:
		return strings.TrimPrefix(err.Error(), "json: ")
	}
}

const ndjson = "application/x-ndjson"

// responder writes one operation's answer. Once the handler has returned it writes nothing, so an
// event emitted late by a goroutine of the operation cannot touch a finished response.
type responder struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	streamed bool
	done     bool
}

var errResponseDone = errors.New("the response is finished: the caller has gone")

func (r *responder) startStream() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streamed = true
	r.w.Header().Set("Content-Type", ndjson)
	r.w.WriteHeader(http.StatusOK)
}

// line writes one JSON line of a stream and flushes it.
func (r *responder) line(v any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return errResponseDone
	}
	if err := encodeJSON(r.w, v); err != nil {
		return err
	}
	if fl, ok := r.w.(http.Flusher); ok {
		fl.Flush()
	}
	return nil
}

func (r *responder) reply(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.w.Header().Set("Content-Type", "application/json")
	r.w.WriteHeader(http.StatusOK)
	encodeJSON(r.w, v)
}

func (r *responder) fail(err error) {
	r.mu.Lock()
	streamed := r.streamed
	r.mu.Unlock()
	if streamed {
		codes, _ := errorCodesOf(err)
		r.line(wireError{Error: err.Error(), Codes: codes})
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		writeError(r.w, err)
	}
}

func (r *responder) finish() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

func writeError(w http.ResponseWriter, err error) {
	codes, status := errorCodesOf(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	encodeJSON(w, wireError{Error: err.Error(), Codes: codes})
}

// encodeJSON writes v as one line of JSON, without escaping <, > and &.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
