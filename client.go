package datomspace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/datomspace/datomspace/peer"
)

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Host is the server's host, as ServerOptions.Host names it (use Server.Host when the server
	// picked the port), or the path of a repo's socket (REPO/api.sock).
	Host string
	// Token is the API token a TCP host needs. By default the client reads the one the server
	// wrote to the user's runtime directory.
	Token string
}

// dialTimeout bounds how long NewClient waits for the server to answer and open the session.
const dialTimeout = 10 * time.Second

// Client talks to a running server by its host. It holds a session open on the server for its
// lifetime (the server's "client-open" and "client-close" events), and the cores it opens belong
// to that session. A Client is safe for concurrent use.
type Client struct {
	api     *peer.Client
	store   *Corestore
	session string
	peerID  string

	cancel context.CancelFunc
	done   chan struct{} // the session's stream ended
	err    error         // why it ended, once done is closed

	mu     sync.Mutex
	closed bool
}

// NewClient connects to the server on opts.Host and opens a session with it.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.Host == "" {
		return nil, fmt.Errorf("%w: ClientOptions.Host is empty", ErrBadRequest)
	}
	h, err := parseHost(opts.Host)
	if err != nil {
		return nil, err
	}
	token := opts.Token
	if h.tcp != "" && token == "" {
		if token, err = readToken(h.tcp); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	api, err := peer.DialAPIAddr(ctx, h.apiAddr(), token)
	if err != nil {
		return nil, fmt.Errorf("connect to the server on %s: %w", opts.Host, err)
	}
	c := &Client{api: api, done: make(chan struct{})}
	c.store = &Corestore{c: c}
	sctx, scancel := context.WithCancel(context.Background())
	c.cancel = scancel
	opened := make(chan peer.ClientSession, 1)
	go func() {
		defer close(c.done)
		_, c.err = peer.Stream(sctx, api, peer.OpClient, peer.ClientRequest{}, func(s peer.ClientSession) error {
			opened <- s
			return nil
		})
	}()
	select {
	case s := <-opened:
		c.session, c.peerID = s.Session, s.PeerID
		return c, nil
	case <-c.done:
		api.Close()
		return nil, fmt.Errorf("open a session with the server on %s: %w", opts.Host, c.err)
	case <-ctx.Done():
		scancel()
		<-c.done
		api.Close()
		return nil, fmt.Errorf("open a session with the server on %s: %w", opts.Host, ctx.Err())
	}
}

// Corestore returns the server's corestore, as this client sees it.
func (c *Client) Corestore() *Corestore { return c.store }

// PeerID returns the server's peer ID.
func (c *Client) PeerID() string { return c.peerID }

// Close ends the client's session: when it returns, the server has let go of the cores the
// client held open and reported its "client-close". The client's cores fail with ErrClosed from
// then on. Closing twice is harmless.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	// End the session first, so that the server has let go of its cores and reported its
	// "client-close" when Close returns; then the stream it ends.
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	_, err := peer.Call(ctx, c.api, peer.OpClientEnd, peer.SessionRequest{Session: c.session})
	cancel()
	c.cancel()
	<-c.done
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		err = nil // the server went away: the session ended with it
	}
	return errors.Join(err, c.api.Close())
}

// check returns ErrClosed once the client is closed.
func (c *Client) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("client: %w", ErrClosed)
	}
	return nil
}

// call runs op on the server.
func call[Req, Resp any](ctx context.Context, c *Client, op peer.Op[Req, Resp], req Req) (Resp, error) {
	if err := c.check(); err != nil {
		var zero Resp
		return zero, err
	}
	return peer.Call(ctx, c.api, op, req)
}

// stream runs a streaming op on the server.
func stream[Req, Ev, Resp any](ctx context.Context, c *Client, op peer.StreamOp[Req, Ev, Resp], req Req, on func(Ev) error) (Resp, error) {
	if err := c.check(); err != nil {
		var zero Resp
		return zero, err
	}
	return peer.Stream(ctx, c.api, op, req, on)
}

// errStop ends a stream whose consumer stopped early.
var errStop = errors.New("stopped by the consumer")
