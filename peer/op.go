package peer

import (
	"context"
	"encoding/json"
	"fmt"
)

// An Op is one operation of the local API. The same definition runs in three places: on the repo
// directly when no daemon runs (Call with a *Local), in the daemon behind POST /v1/{Name}, and as
// the client's call to that route (Call with a *Client). Adding an operation is writing one Op and
// listing it in its feature's routes; nothing else changes in lockstep.
//
// Req and Resp travel as JSON between a client and a daemon, so their exported fields must
// round-trip through encoding/json.
type Op[Req, Resp any] struct {
	// Name is the route: POST /v1/{Name}.
	Name string
	// Run does the work on the local peer.
	Run func(ctx context.Context, l *Local, req Req) (Resp, error)
	// MaxBody bounds the request body in bytes (0: DefaultMaxBody).
	MaxBody int64
}

// A StreamOp is an operation that emits events while it runs (progress, blocks, rows) before its
// result. Over the API the events and the result are JSON lines.
type StreamOp[Req, Ev, Resp any] struct {
	// Name is the route: POST /v1/{Name}.
	Name string
	// Run does the work, calling emit for each event. emit fails once the caller has gone; Run
	// should then stop and return.
	Run func(ctx context.Context, l *Local, req Req, emit func(Ev) error) (Resp, error)
	// MaxBody bounds the request body in bytes (0: DefaultMaxBody).
	MaxBody int64
}

// DefaultMaxBody is the request body limit of an operation that sets none: 1 MiB.
const DefaultMaxBody = 1 << 20

// Backend is where operations run: a *Client of a running daemon, or a *Local on the repo itself.
// OpenBackend picks the one that fits.
type Backend interface {
	// Daemon reports whether operations go through a running daemon.
	Daemon() bool
	// Close releases the backend.
	Close() error
	backend()
}

// Call runs op with req on b.
func Call[Req, Resp any](ctx context.Context, b Backend, op Op[Req, Resp], req Req) (Resp, error) {
	switch b := b.(type) {
	case *Local:
		return op.Run(ctx, b, req)
	case *Client:
		var resp Resp
		err := b.call(ctx, op.Name, req, nil, &resp)
		return resp, err
	default:
		var zero Resp
		return zero, fmt.Errorf("peer: unknown backend %T", b)
	}
}

// Stream runs op with req on b, calling on (when not nil) with each event in order. An error from
// on stops the operation and is returned.
func Stream[Req, Ev, Resp any](ctx context.Context, b Backend, op StreamOp[Req, Ev, Resp], req Req, on func(Ev) error) (Resp, error) {
	emit := on
	if emit == nil {
		emit = func(Ev) error { return nil }
	}
	switch b := b.(type) {
	case *Local:
		return op.Run(ctx, b, req, emit)
	case *Client:
		var resp Resp
		err := b.call(ctx, op.Name, req, func(raw json.RawMessage) error {
			var ev Ev
			if err := json.Unmarshal(raw, &ev); err != nil {
				return fmt.Errorf("the daemon sent a malformed %s event: %w", op.Name, err)
			}
			return emit(ev)
		}, &resp)
		return resp, err
	default:
		var zero Resp
		return zero, fmt.Errorf("peer: unknown backend %T", b)
	}
}

// None is the request or response of an operation that takes or returns nothing.
type None struct{}
