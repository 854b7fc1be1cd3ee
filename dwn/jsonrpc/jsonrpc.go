// Package jsonrpc serves a dwn.Node the way dwn-server does: JSON-RPC 2.0 `dwn.processMessage`
// over HTTP (POST / with the request in the dwn-request header and record data as the body, or the
// request as the body with base64url encodedData), RecordsRead and MessagesRead data streamed as
// the response body with the reply in the dwn-response header, and subscriptions over a WebSocket
// at /. Server (New) is the serving side, an http.Handler; Client is the HTTP client side, which
// sends a message as web5-js does.
//
// The transport-neutral core is Server.Handle (a request and its data in, a response and a data
// stream out) and Session (a subscription-capable connection that sends frames through a callback),
// so that other transports, such as a libp2p stream, reuse them. ServeStream is that transport
// for one bidirectional byte stream (see FrameRequest for the framing):
//
//	srv, _ := jsonrpc.New(store.Node(), jsonrpc.WithTenantCores(jsonrpc.OpenTenantCores(store.TenantCoreKey)))
//	http.ListenAndServe(addr, srv)                     // serve --dwn ADDR
//	h.SetStreamHandler("/datomspace/dwn/1.0.0", func(s network.Stream) {
//		defer s.Close()
//		_ = srv.ServeStream(ctx, s)
//	})
//	cl := jsonrpc.NewStreamClient(stream)              // the other end
//	reply, err := cl.Process(ctx, target, messageJSON, data)
package jsonrpc

import (
	"crypto/rand"
	"fmt"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// JSON-RPC error codes, as dwn-server defines them.
const (
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	CodeParseError     = -32700
	// CodeBadRequest is dwn-server's application code for HTTP 400.
	CodeBadRequest = -50400
	// CodeUnauthorized is dwn-server's application code for HTTP 401.
	CodeUnauthorized = -50401
	// CodeForbidden is dwn-server's application code for HTTP 403.
	CodeForbidden = -50403
)

// Methods.
const (
	MethodProcessMessage          = "dwn.processMessage"
	MethodSubscribeProcessMessage = "rpc.subscribe.dwn.processMessage"
	MethodSubscribeClose          = "rpc.subscribe.close"
	// MethodTenantCore asks for the key of the core a node journals a tenant in (WithTenantCores).
	MethodTenantCore = "datomspace.tenantCore"
)

// Request is a JSON-RPC request.
type Request struct {
	ID     any // string, float64 or nil
	HasID  bool
	Method string
	Params *jsv.Object
	// SubscriptionID is the JSON-RPC subscription extension's subscription.id.
	SubscriptionID    any
	HasSubscriptionID bool
	HasSubscription   bool
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int
	Message string
}

// Error returns the code and the message.
func (e *Error) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// ParseRequest parses a JSON-RPC request. Text that is not JSON is a *jsv.SyntaxError; JSON that is
// not an object with a string method is an *Error with CodeInvalidRequest.
func ParseRequest(b []byte) (*Request, error) {
	v, err := jsv.Parse(b)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		return nil, &Error{Code: CodeInvalidRequest, Message: "request must be a JSON object"}
	}
	r := &Request{}
	r.ID, r.HasID = o.Get("id")
	switch r.ID.(type) {
	case nil, string, float64:
	default:
		return nil, &Error{Code: CodeInvalidRequest, Message: "id must be a string, a number or null"}
	}
	m, _ := o.Get("method")
	if r.Method, ok = m.(string); !ok {
		return nil, &Error{Code: CodeInvalidRequest, Message: "method must be a string"}
	}
	if p, has := o.Get("params"); has {
		if r.Params, ok = p.(*jsv.Object); !ok {
			return nil, &Error{Code: CodeInvalidParams, Message: "params must be an object"}
		}
	}
	if s, has := o.Get("subscription"); has {
		so, ok := s.(*jsv.Object)
		if !ok {
			return nil, &Error{Code: CodeInvalidRequest, Message: "subscription must be an object"}
		}
		r.HasSubscription = true
		r.SubscriptionID, r.HasSubscriptionID = so.Get("id")
	}
	return r, nil
}

// responseID is dwn-server's `request.id ?? uuidv4()`.
func responseID(r *Request) any {
	if r != nil && r.HasID && r.ID != nil {
		return r.ID
	}
	return uuidV4()
}

func uuidV4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// successResponse is createJsonRpcSuccessResponse.
func successResponse(id any, result *jsv.Object) *jsv.Object {
	o := jsv.NewObject()
	o.Set("jsonrpc", "2.0")
	o.Set("id", id)
	if result == nil {
		o.Set("result", nil)
	} else {
		o.Set("result", result)
	}
	return o
}

// errorResponse is createJsonRpcErrorResponse.
func errorResponse(id any, code int, msg string) *jsv.Object {
	e := jsv.NewObject()
	e.Set("code", float64(code))
	e.Set("message", msg)
	o := jsv.NewObject()
	o.Set("jsonrpc", "2.0")
	o.Set("id", id)
	o.Set("error", e)
	return o
}

func isError(resp *jsv.Object) bool { return resp.Has("error") }
