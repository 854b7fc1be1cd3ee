package jsonrpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// Transport describes what a connection can carry, and names it in error messages as dwn-server
// does ("RecordsWrite is not supported via ws").
type Transport struct {
	Name string
	// Data: RecordsWrite (with record data) is accepted.
	Data bool
	// Subscriptions: subscribe methods are accepted.
	Subscriptions bool
}

// The transports dwn-server has, and one for streams that carry both (a libp2p protocol).
var (
	HTTP      = Transport{Name: "http", Data: true}
	WebSocket = Transport{Name: "ws", Subscriptions: true}
	Stream    = Transport{Name: "stream", Data: true, Subscriptions: true}
)

// Option configures a Server.
type Option func(*config) error

type config struct {
	maxMessage int64
	maxData    int64
	log        *slog.Logger
	heartbeat  time.Duration
	sendQueue  int
	cores      TenantCores
}

// TenantCores tells which core a node journals a tenant's messages in
// (dwncore.Store.TenantCoreKey), so that the tenant's other nodes can replicate it, and whether
// it names it to the asker. An error wrapping ErrNoTenantCore is answered as "no core for the
// tenant" (invalid params), one wrapping dwn.ErrNodeAuthorization as unauthorized.
type TenantCores func(ctx context.Context, req TenantCoreRequest) (TenantCoreReply, error)

// TenantCoreRequest is one datomspace.tenantCore call.
type TenantCoreRequest struct {
	Tenant string
	// Authorization is the asker's node authorization (dwn.AuthorizeNode), params.authorization,
	// as JSON; nil when the call has none.
	Authorization []byte
}

// TenantCoreReply is the answer to a datomspace.tenantCore call.
type TenantCoreReply struct {
	Key    []byte
	Length uint64
	// Authorization is the answering node's own authorization of the tenant (nil: none sent).
	Authorization []byte
}

// ErrNoTenantCore: the node holds no core for the tenant.
var ErrNoTenantCore = errors.New("no core for tenant")

// OpenTenantCores serves cores(ctx, tenant) to every asker, authorized or not: for a node's own
// process and for tests. A node names its cores to the tenant's authorized nodes only.
func OpenTenantCores(cores func(ctx context.Context, tenant string) ([]byte, uint64, bool)) TenantCores {
	return func(ctx context.Context, req TenantCoreRequest) (TenantCoreReply, error) {
		key, length, ok := cores(ctx, req.Tenant)
		if !ok {
			return TenantCoreReply{}, fmt.Errorf("%w %s", ErrNoTenantCore, req.Tenant)
		}
		return TenantCoreReply{Key: key, Length: length}, nil
	}
}

// WithTenantCores enables the method datomspace.tenantCore {target, authorization?} -> {key (hex),
// length, authorization?}.
func WithTenantCores(f TenantCores) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("nil tenant cores")
		}
		c.cores = f
		return nil
	}
}

// WithMaxMessageSize bounds the JSON-RPC request text (default 1 MiB).
func WithMaxMessageSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("max message size %d must be positive", n)
		}
		c.maxMessage = n
		return nil
	}
}

// WithMaxDataSize bounds record data in a request (default 1 GiB, dwn-server's default).
func WithMaxDataSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("max data size %d must be positive", n)
		}
		c.maxData = n
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithHeartbeat sets how often WebSocket connections are pinged (default 30s, as dwn-server); a
// connection that missed a pong by the next ping is closed.
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("heartbeat %v must be positive", d)
		}
		c.heartbeat = d
		return nil
	}
}

// WithSendQueue sets how many outgoing frames a session buffers before it is closed as too slow
// (default 1024).
func WithSendQueue(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("send queue %d must be positive", n)
		}
		c.sendQueue = n
		return nil
	}
}

// Server serves a node. It is an http.Handler (see ServeHTTP).
type Server struct {
	node *dwn.Node
	cfg  config

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New returns a server for node.
func New(node *dwn.Node, opts ...Option) (*Server, error) {
	c := config{maxMessage: 1 << 20, maxData: 1 << 30, log: slog.Default(), heartbeat: 30 * time.Second, sendQueue: 1024}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, fmt.Errorf("jsonrpc: %w", err)
		}
	}
	return &Server{node: node, cfg: c, sessions: map[*Session]struct{}{}}, nil
}

// Close closes every session and waits for the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	sessions := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.Close()
	}
	s.wg.Wait()
	return nil
}

// Result is the outcome of one request: the response, and for a RecordsRead or MessagesRead that
// returned data, the data (which the caller must close) and its dataFormat.
type Result struct {
	Response   *jsv.Object
	Data       io.ReadCloser
	DataFormat string
}

// IsError reports whether the response is a JSON-RPC error (dwn-server answers those over HTTP
// with status 500).
func (r *Result) IsError() bool { return isError(r.Response) }

// Handle processes one parsed request that arrived on tr (without a session, so subscriptions are
// refused), with data as the record data of a RecordsWrite (nil for none).
func (s *Server) Handle(ctx context.Context, req *Request, tr Transport, data io.Reader) *Result {
	return s.handle(ctx, req, tr, data, nil)
}

func (s *Server) handle(ctx context.Context, req *Request, tr Transport, data io.Reader, sess *Session) *Result {
	id := responseID(req)
	switch req.Method {
	case MethodProcessMessage, MethodSubscribeProcessMessage:
		return s.processMessage(ctx, req, id, tr, data, sess)
	case MethodSubscribeClose:
		if sess == nil {
			return &Result{Response: errorResponse(id, CodeInvalidRequest, "socket connection does not exist")}
		}
		if !req.HasSubscription {
			return &Result{Response: errorResponse(id, CodeInvalidRequest, "subscribe options do not exist")}
		}
		if !sess.closeSubscription(req.SubscriptionID) {
			return &Result{Response: errorResponse(id, CodeInvalidParams, fmt.Sprintf("subscription %s does not exist.", jsString(req.SubscriptionID)))}
		}
		reply := jsv.NewObject()
		reply.Set("status", float64(200))
		reply.Set("detail", "Accepted")
		res := jsv.NewObject()
		res.Set("reply", reply)
		return &Result{Response: successResponse(id, res)}
	}
	if req.Method == MethodTenantCore && s.cfg.cores != nil {
		target, ok := "", false
		if req.Params != nil {
			target, ok = getString(req.Params, "target")
		}
		if !ok {
			return &Result{Response: errorResponse(id, CodeInvalidParams, "params.target must be a string")}
		}
		var auth []byte
		if a, ok := req.Params.Get("authorization"); ok && a != nil {
			auth = []byte(jsv.Stringify(a))
		}
		rep, err := s.cfg.cores(ctx, TenantCoreRequest{Tenant: target, Authorization: auth})
		switch {
		case errors.Is(err, dwn.ErrNodeAuthorization):
			return &Result{Response: errorResponse(id, CodeUnauthorized, err.Error())}
		case err != nil:
			return &Result{Response: errorResponse(id, CodeInvalidParams, err.Error())}
		}
		res := jsv.NewObject()
		res.Set("key", hex.EncodeToString(rep.Key))
		res.Set("length", float64(rep.Length))
		if rep.Authorization != nil {
			a, err := jsv.Parse(rep.Authorization)
			if err != nil {
				return &Result{Response: errorResponse(id, CodeInternalError, "the node's authorization does not decode")}
			}
			res.Set("authorization", a)
		}
		return &Result{Response: successResponse(id, res)}
	}
	return &Result{Response: errorResponse(id, CodeMethodNotFound, fmt.Sprintf("method %s not found", req.Method))}
}

func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return jsv.NumberString(x)
	}
	return jsv.Stringify(v)
}

func (s *Server) processMessage(ctx context.Context, req *Request, id any, tr Transport, data io.Reader, sess *Session) *Result {
	if req.Params == nil {
		return &Result{Response: errorResponse(id, CodeInvalidParams, "params must hold target and message")}
	}
	target, ok := getString(req.Params, "target")
	if !ok {
		return &Result{Response: errorResponse(id, CodeInvalidParams, "params.target must be a string")}
	}
	mv, hasMsg := req.Params.Get("message")
	message, _ := mv.(*jsv.Object)
	var desc *jsv.Object
	if message != nil {
		d, _ := message.Get("descriptor")
		desc, _ = d.(*jsv.Object)
	}
	if desc == nil {
		// dwn-server reads message.descriptor.interface before anything else
		what := "undefined"
		if hasMsg && mv == nil {
			what = "null"
		}
		msg := "Cannot read properties of undefined (reading 'interface')"
		if message == nil && (!hasMsg || mv == nil) {
			msg = "Cannot read properties of " + what + " (reading 'descriptor')"
		}
		return &Result{Response: errorResponse(id, CodeInternalError, msg)}
	}
	iface, _ := getString(desc, "interface")
	method, _ := getString(desc, "method")
	if !tr.Data && iface == dwn.InterfaceRecords && method == dwn.MethodWrite {
		return &Result{Response: errorResponse(id, CodeInvalidParams, "RecordsWrite is not supported via "+tr.Name)}
	}
	subscribing := sess != nil && tr.Subscriptions && req.Method == MethodSubscribeProcessMessage && req.HasSubscription && method == dwn.MethodSubscribe
	if method == dwn.MethodSubscribe && !subscribing {
		return &Result{Response: errorResponse(id, CodeInvalidRequest, "subscribe methods must contain a subscriptionRequest context")}
	}
	var opts []dwn.ProcessOption
	if data != nil {
		opts = append(opts, dwn.WithData(data))
	}
	if subscribing {
		if sess.hasSubscription(req.SubscriptionID) {
			return &Result{Response: errorResponse(id, CodeInvalidParams, fmt.Sprintf("the subscribe id: %s is in use by an active subscription", jsString(req.SubscriptionID)))}
		}
		subID := req.SubscriptionID
		opts = append(opts, dwn.WithSubscriptionHandler(func(e dwn.Event) {
			res := jsv.NewObject()
			res.Set("event", e.JSON())
			sess.send(successResponse(subID, res))
		}))
	}
	reply, err := s.node.Process(ctx, target, message, opts...)
	if err != nil {
		s.cfg.log.Error("dwn: processMessage failed", "target", target, "err", err)
		return &Result{Response: errorResponse(id, CodeInternalError, err.Error())}
	}
	if subscribing && reply.Subscription != nil {
		if !sess.addSubscription(req.SubscriptionID, reply.Subscription) {
			reply.Subscription.Close()
			return &Result{Response: errorResponse(id, CodeInternalError, "the session is closed")}
		}
	} else if reply.Subscription != nil {
		reply.Subscription.Close()
	}
	res := jsv.NewObject()
	res.Set("reply", reply.JSON())
	return &Result{Response: successResponse(id, res), Data: reply.Data, DataFormat: reply.DataFormat}
}

func getString(o *jsv.Object, k string) (string, bool) {
	v, _ := o.Get(k)
	s, ok := v.(string)
	return s, ok
}
