package doip

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/datomspace/datomspace/doip/wire"
)

// Client21 speaks BDWare's DOIP 2.1 envelope over one stream, one request at a time. It is
// for talking to 2.1 services and testing the 2.1 listener; Client is the full client.
type Client21 struct {
	mu     sync.Mutex
	conn   io.ReadWriteCloser
	next   uint32
	key    ed25519.PrivateKey
	signer string
	asm    wire.Assembler
}

// DialTCP21 connects to a DOIP 2.1 listener over TCP.
func DialTCP21(ctx context.Context, addr string) (*Client21, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient21(c), nil
}

// NewClient21 returns a Client21 on conn, which it owns.
func NewClient21(conn io.ReadWriteCloser) *Client21 {
	return &Client21{conn: conn, asm: wire.Assembler{MaxMessage: 256 << 20, MaxPending: 4}}
}

// Sign makes the client sign its requests with key, as the credential's signer (the key's
// peer ID).
func (c *Client21) Sign(key ed25519.PrivateKey) {
	c.key, c.signer = key, PeerID(key.Public().(ed25519.PublicKey))
}

// Close closes the connection.
func (c *Client21) Close() error { return c.conn.Close() }

// Do sends one request and returns the response.
func (c *Client21) Do(ctx context.Context, target, op string, attrs any, body []byte) (*wire.Message21, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		if nc, ok := c.conn.(net.Conn); ok {
			nc.SetDeadline(dl)
		}
	}
	m := &wire.Message21{Flag: wire.MsgRequest, Params: wire.Params{ID: target, Operation: op}, Body: body}
	if attrs != nil {
		b, err := json.Marshal(attrs)
		if err != nil {
			return nil, err
		}
		m.Params.Attributes = b
	}
	if c.key != nil {
		m.Flag |= wire.MsgCertified
		signed, err := m.SignedPart()
		if err != nil {
			return nil, err
		}
		ca, _ := json.Marshal(map[string]string{"signer": c.signer, "signAlg": "Ed25519"})
		m.Credential = &wire.Credential{Attributes: ca, Signature: ed25519.Sign(c.key, signed)}
	}
	content, err := m.Encode()
	if err != nil {
		return nil, err
	}
	c.next++
	id := c.next
	if err := wire.WriteMessage(c.conn, id, content, 0); err != nil {
		return nil, err
	}
	for {
		env, part, err := wire.ReadFrame(c.conn, wire.DefaultMaxFrame+wire.EnvelopeSize)
		if err != nil {
			return nil, err
		}
		full, ok, err := c.asm.Add(env, part)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if env.RequestID != id {
			return nil, fmt.Errorf("%w: response to request %d, want %d", wire.ErrEnvelope, env.RequestID, id)
		}
		return wire.DecodeMessage21(full)
	}
}
