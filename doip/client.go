package doip

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datomspace/datomspace/doip/wire"
)

// ErrClientClosed is returned for a request on a closed or broken connection.
var ErrClientClosed = errors.New("DOIP connection closed")

// Auth supplies a request's clientId and authentication.
type Auth interface {
	Credentials(now time.Time) (clientID string, authentication json.RawMessage, err error)
}

type tokenAuth struct{ token string }

func (a tokenAuth) Credentials(time.Time) (string, json.RawMessage, error) {
	b, err := json.Marshal(map[string]string{"token": a.token})
	return "", b, err
}

// TokenAuth authenticates with a token, such as an owner token.
func TokenAuth(token string) Auth { return tokenAuth{token} }

type passwordAuth struct{ user, password string }

func (a passwordAuth) Credentials(time.Time) (string, json.RawMessage, error) {
	b, err := json.Marshal(map[string]string{"username": a.user, "password": a.password})
	return "", b, err
}

// PasswordAuth authenticates as a user the owner added.
func PasswordAuth(username, password string) Auth { return passwordAuth{username, password} }

type keyAuth struct {
	key ed25519.PrivateKey
	id  string
	mu  sync.Mutex
	tok string
	at  time.Time
}

func (a *keyAuth) Credentials(now time.Time) (string, json.RawMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == "" || now.Sub(a.at) > MaxKeyTokenLife/2 || now.Before(a.at) {
		t, err := KeyToken(a.key, a.id, now)
		if err != nil {
			return "", nil, err
		}
		a.tok, a.at = t, now
	}
	b, err := json.Marshal(map[string]string{"token": a.tok})
	return a.id, b, err
}

// KeyAuth authenticates with an Ed25519 key: clientId is its peer ID and each request carries
// a key token (renewed every five minutes).
func KeyAuth(key ed25519.PrivateKey) Auth {
	return &keyAuth{key: key, id: PeerID(key.Public().(ed25519.PublicKey))}
}

// DIDKeyAuth is KeyAuth with the key's did:key as clientId.
func DIDKeyAuth(key ed25519.PrivateKey) Auth {
	return &keyAuth{key: key, id: DIDKey(key.Public().(ed25519.PublicKey))}
}

// Client speaks DOIP 2.0 over one connection (TLS, a libp2p stream, any io.ReadWriteCloser).
// It is safe for concurrent use: requests are pipelined and their responses matched by
// requestId, so many callers share one connection.
type Client struct {
	conn    io.ReadWriteCloser
	rd      *wire.Reader
	wmu     sync.Mutex
	wwait   atomic.Int32 // writers waiting for wmu
	w       *wire.Writer
	auth    Auth
	now     func() time.Time
	pin     ed25519.PublicKey
	tlsKey  ed25519.PublicKey
	idBase  string
	seq     atomic.Uint64
	dead    chan struct{}
	readerD chan struct{}

	mu      sync.Mutex
	pending map[string]*call
	err     error
	service string
	helloPK ed25519.PublicKey
	lim     wire.Limits
}

type call struct {
	ch        chan *Response
	abandoned bool
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithAuth sets how the client authenticates (default: anonymous).
func WithAuth(a Auth) ClientOption { return func(c *Client) error { c.auth = a; return nil } }

// WithTarget sets the service id that service operations target; without it the client
// learns it from Hello.
func WithTarget(id string) ClientOption {
	return func(c *Client) error { c.service = id; return nil }
}

// WithPin requires the server's key, on TLS and in Hello's publicKey, to be pub.
func WithPin(pub ed25519.PublicKey) ClientOption {
	return func(c *Client) error {
		if len(pub) != ed25519.PublicKeySize {
			return errors.New("pinned key is not an Ed25519 public key")
		}
		c.pin = pub
		return nil
	}
}

// WithClientLimits sets the bounds on the responses the client reads (default: JSON segments of
// at most 64 MiB, such as a large page of full search results, and wire.DefaultLimits else).
func WithClientLimits(l wire.Limits) ClientOption {
	return func(c *Client) error { c.lim = l; return nil }
}

// WithClientClock sets the clock key tokens are stamped with.
func WithClientClock(now func() time.Time) ClientOption {
	return func(c *Client) error { c.now = now; return nil }
}

// NewClient returns a Client on conn, which it owns and closes.
func NewClient(conn io.ReadWriteCloser, opts ...ClientOption) (*Client, error) {
	var b [6]byte
	rand.Read(b[:])
	c := &Client{conn: conn, w: wire.NewWriter(conn), now: time.Now, lim: wire.Limits{MaxJSON: 64 << 20},
		idBase: hex.EncodeToString(b[:]) + "-", dead: make(chan struct{}), readerD: make(chan struct{}),
		pending: map[string]*call{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			conn.Close()
			return nil, err
		}
	}
	c.rd = wire.NewReader(conn, c.lim)
	if tc, ok := conn.(*tls.Conn); ok {
		c.tlsKey = serverKey(tc)
	}
	go c.readLoop()
	return c, nil
}

// Dial connects to a DOIP 2.0 service over TLS at addr (host:port, or a doip:// URL). With
// WithPin the TLS handshake fails unless the server holds the pinned key. key, when set, is
// sent as the client certificate.
func Dial(ctx context.Context, addr string, key ed25519.PrivateKey, opts ...ClientOption) (*Client, error) {
	hostport, err := tlsAddr(addr)
	if err != nil {
		return nil, err
	}
	probe := &Client{}
	for _, o := range opts {
		if err := o(probe); err != nil {
			return nil, err
		}
	}
	cfg, err := ClientTLSConfig(probe.pin, key)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("dial DOIP service %s: %w", hostport, err)
	}
	return NewClient(conn, opts...)
}

// ServerKey returns the key of the server's TLS certificate, or nil on other transports.
func (c *Client) ServerKey() ed25519.PublicKey { return c.tlsKey }

// Close closes the connection; requests in flight fail with ErrClientClosed.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	<-c.readerD
	return nil
}

// Err returns why the connection ended, or nil while it is usable.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.dead)
	c.mu.Unlock()
	c.conn.Close()
}

// Response is a response being read. A response with output segments holds the connection's
// reader until it is closed, so read it and Close it promptly.
type Response struct {
	wire.Response
	msg     *wire.Message
	release chan struct{}
	once    sync.Once
}

// Err returns nil for a successful response, else an *ErrStatus with the status and message.
func (r *Response) Err() error {
	if r.Status.OK() {
		return nil
	}
	var msg string
	if len(r.Attributes) > 0 {
		var a struct {
			Message string `json:"message"`
		}
		json.Unmarshal(r.Attributes, &a)
		msg = a.Message
	}
	return &ErrStatus{Status: r.Status, Message: msg}
}

// NextSegment returns the next output segment, io.EOF after the last. A compact response has
// its output as one JSON segment.
func (r *Response) NextSegment() (Segment, error) {
	if r.msg == nil {
		if r.HasOutput() {
			out := r.Output
			r.Output = nil
			return &jsonSegment{b: out}, nil
		}
		return nil, io.EOF
	}
	s, err := r.msg.NextSegment()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the connection's reader; what is left of the response is discarded.
func (r *Response) Close() error {
	if r.release != nil {
		r.once.Do(func() { close(r.release) })
	}
	return nil
}

func (c *Client) readLoop() {
	defer close(c.readerD)
	for {
		msg, err := c.rd.Next()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: the server closed the connection", ErrClientClosed)
			}
			c.fail(err)
			return
		}
		hdr, end, err := readResponseHeader(msg)
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		cl := c.pending[hdr.RequestID]
		delete(c.pending, hdr.RequestID)
		c.mu.Unlock()
		if cl == nil {
			// A reply to no request: the server could not read a request (its reply then has no
			// requestId) or is confused. Either way the stream is out of step.
			c.fail(fmt.Errorf("%w: response to no pending request: %w", ErrClientClosed, (&Response{Response: *hdr}).Err()))
			return
		}
		resp := &Response{Response: *hdr}
		if !end {
			resp.msg, resp.release = msg, make(chan struct{})
		}
		c.mu.Lock()
		abandoned := cl.abandoned
		c.mu.Unlock()
		if !abandoned {
			cl.ch <- resp
			if !end {
				select {
				case <-resp.release:
				case <-c.dead:
					return
				}
			}
		}
		if !end {
			if err := msg.Drain(); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

// readResponseHeader reads a response's first segment and whether the message ends there.
func readResponseHeader(msg *wire.Message) (*wire.Response, bool, error) {
	seg, err := msg.NextSegment()
	if err == io.EOF {
		return nil, false, fmt.Errorf("%w: empty response", wire.ErrBadHeader)
	}
	if err != nil {
		return nil, false, err
	}
	if !seg.IsJSON() {
		return nil, false, fmt.Errorf("%w: response starts with a bytes segment", wire.ErrBadHeader)
	}
	b, err := seg.ReadJSON(0)
	if err != nil {
		return nil, false, err
	}
	hdr, err := wire.ParseResponse(b)
	if err != nil {
		return nil, false, err
	}
	end, err := msg.PeekEnd()
	if err != nil {
		return nil, false, err
	}
	if end {
		if _, err := msg.NextSegment(); err != io.EOF {
			return nil, false, err
		}
	}
	return hdr, end, nil
}

// Call is a request a Client sends.
type Call struct {
	TargetID    string
	OperationID string
	Attributes  any             // marshalled to a JSON object, or nil
	Input       json.RawMessage // inline input, or nil
	// Segments, when set, writes input segments after the first.
	Segments func(w *wire.Writer) error
}

// Do sends a request and returns its response, which the caller must Close. A response with
// a failure status is returned too; Response.Err tells.
func (c *Client) Do(ctx context.Context, r Call) (*Response, error) {
	hdr := wire.Request{TargetID: r.TargetID, OperationID: r.OperationID, Input: r.Input}
	if r.Attributes != nil {
		b, err := json.Marshal(r.Attributes)
		if err != nil {
			return nil, err
		}
		if string(b) != "null" && string(b) != "{}" {
			hdr.Attributes = b
		}
	}
	if c.auth != nil {
		id, a, err := c.auth.Credentials(c.now())
		if err != nil {
			return nil, err
		}
		hdr.ClientID, hdr.Authentication = id, a
	}
	hdr.RequestID = c.idBase + strconv.FormatUint(c.seq.Add(1), 10)
	first, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	cl := &call{ch: make(chan *Response, 1)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrClientClosed, err)
	}
	c.pending[hdr.RequestID] = cl
	c.mu.Unlock()
	if err := c.write(first, r.Segments); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("send %s: %w", r.OperationID, err)
	}
	select {
	case resp := <-cl.ch:
		return resp, nil
	case <-c.dead:
		select {
		case resp := <-cl.ch:
			return resp, nil
		default:
		}
		return nil, fmt.Errorf("%w: %w", ErrClientClosed, c.Err())
	case <-ctx.Done():
		c.mu.Lock()
		cl.abandoned = true
		_, waiting := c.pending[hdr.RequestID]
		c.mu.Unlock()
		if !waiting {
			// The reader took the response before it saw the abandonment: release it.
			select {
			case resp := <-cl.ch:
				resp.Close()
			case <-c.dead:
			}
		}
		return nil, ctx.Err()
	}
}

func (c *Client) write(first []byte, segs func(w *wire.Writer) error) error {
	c.wwait.Add(1)
	c.wmu.Lock()
	c.wwait.Add(-1)
	defer c.wmu.Unlock()
	if err := c.w.JSON(first); err != nil {
		return err
	}
	if segs != nil {
		if err := segs(c.w); err != nil {
			return err
		}
	}
	if err := c.w.EndBuffered(); err != nil {
		return err
	}
	if c.wwait.Load() > 0 {
		return nil // the next writer flushes this request with its own
	}
	return c.w.Flush()
}

// do sends a request and returns its response if the status is success.
func (c *Client) do(ctx context.Context, r Call) (*Response, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		resp.Close()
		return nil, err
	}
	return resp, nil
}

// firstJSON returns the response's first output segment, which must be JSON.
func firstJSON(resp *Response) ([]byte, error) {
	seg, err := resp.NextSegment()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: response has no output", wire.ErrBadHeader)
	}
	if err != nil {
		return nil, err
	}
	return seg.ReadJSON(0)
}

// ServiceID returns the service id, asking Hello if it is not known yet.
func (c *Client) ServiceID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.service
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	do, err := c.Hello(ctx)
	if err != nil {
		return "", err
	}
	return do.ID, nil
}

// Hello asks for the service's description. The key it publishes must be the TLS
// certificate's key and the pinned one, if any (else ErrPin).
func (c *Client) Hello(ctx context.Context) (*DigitalObject, error) {
	c.mu.Lock()
	target := c.service
	c.mu.Unlock()
	if target == "" {
		target = "service"
	}
	resp, err := c.do(ctx, Call{TargetID: target, OperationID: OpHello})
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	b, err := firstJSON(resp)
	if err != nil {
		return nil, err
	}
	do, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	var attrs struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	json.Unmarshal(do.Attributes, &attrs)
	var pk ed25519.PublicKey
	if len(attrs.PublicKey) > 0 {
		pk, _ = ParseJWK(attrs.PublicKey)
	}
	if c.pin != nil && !c.pin.Equal(pk) {
		return nil, fmt.Errorf("%w: Hello publishes another key", ErrPin)
	}
	if c.tlsKey != nil && !c.tlsKey.Equal(pk) {
		return nil, fmt.Errorf("%w: Hello publishes a key other than the TLS certificate's", ErrPin)
	}
	c.mu.Lock()
	if c.service == "" {
		c.service = do.ID
	}
	c.helloPK = pk
	c.mu.Unlock()
	return do, nil
}

// PublicKey returns the key the last Hello published, or nil.
func (c *Client) PublicKey() ed25519.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.helloPK
}

// decodeObject reads a digital object as a service returns it.
func decodeObject(b []byte) (*DigitalObject, error) {
	var do DigitalObject
	if err := json.Unmarshal(b, &do); err != nil {
		return nil, fmt.Errorf("%w: digital object: %w", wire.ErrBadHeader, err)
	}
	return &do, nil
}

// ListOperations lists the operations of the service (target "") or of an object.
func (c *Client) ListOperations(ctx context.Context, target string) ([]string, error) {
	if target == "" {
		var err error
		if target, err = c.ServiceID(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.do(ctx, Call{TargetID: target, OperationID: OpListOperations})
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	b, err := firstJSON(resp)
	if err != nil {
		return nil, err
	}
	var ops []string
	if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("%w: operations: %w", wire.ErrBadHeader, err)
	}
	return ops, nil
}

// objectSegments writes an object and the bytes of the elements in data, as CNRI's client
// does: the object's JSON, then for each element a JSON {"id":...} and a bytes segment.
func objectSegments(do *DigitalObject, data map[string]io.Reader) (func(w *wire.Writer) error, error) {
	for id := range data {
		if do.Element(id) == nil {
			return nil, fmt.Errorf("%w: data for element %q, which the object does not list", ErrInvalid, id)
		}
	}
	b, err := json.Marshal(do)
	if err != nil {
		return nil, err
	}
	return func(w *wire.Writer) error {
		if err := w.JSON(b); err != nil {
			return err
		}
		for _, el := range do.Elements {
			r, ok := data[el.ID]
			if !ok {
				continue
			}
			h, _ := json.Marshal(map[string]string{"id": el.ID})
			if err := w.JSON(h); err != nil {
				return err
			}
			if _, err := w.BytesFrom(r); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// Create stores an object with the bytes of its elements (by element id) and returns it as
// stored, with its id.
func (c *Client) Create(ctx context.Context, do *DigitalObject, data map[string]io.Reader) (*DigitalObject, error) {
	target, err := c.ServiceID(ctx)
	if err != nil {
		return nil, err
	}
	segs, err := objectSegments(do, data)
	if err != nil {
		return nil, err
	}
	return c.objectCall(ctx, Call{TargetID: target, OperationID: OpCreate, Segments: segs})
}

// Update changes an object (see Repository.Update): elements with data get new bytes, elements
// listed without keep theirs, elements not listed stay, and the elements in remove go.
func (c *Client) Update(ctx context.Context, do *DigitalObject, data map[string]io.Reader, remove ...string) (*DigitalObject, error) {
	segs, err := objectSegments(do, data)
	if err != nil {
		return nil, err
	}
	var attrs any
	if len(remove) > 0 {
		attrs = map[string]any{"elementsToDelete": remove}
	}
	return c.objectCall(ctx, Call{TargetID: do.ID, OperationID: OpUpdate, Attributes: attrs, Segments: segs})
}

func (c *Client) objectCall(ctx context.Context, r Call) (*DigitalObject, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	b, err := firstJSON(resp)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// Retrieve returns an object without its element bytes.
func (c *Client) Retrieve(ctx context.Context, id string) (*DigitalObject, error) {
	return c.objectCall(ctx, Call{TargetID: id, OperationID: OpRetrieve})
}

// RetrieveAll returns an object with the bytes of every element, reading at most max bytes of
// each.
func (c *Client) RetrieveAll(ctx context.Context, id string, max int64) (*DigitalObject, map[string][]byte, error) {
	resp, err := c.do(ctx, Call{TargetID: id, OperationID: OpRetrieve, Attributes: map[string]any{"includeElementData": true}})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Close()
	b, err := firstJSON(resp)
	if err != nil {
		return nil, nil, err
	}
	do, err := decodeObject(b)
	if err != nil {
		return nil, nil, err
	}
	data := map[string][]byte{}
	for {
		seg, err := resp.NextSegment()
		if err == io.EOF {
			return do, data, nil
		}
		if err != nil {
			return nil, nil, err
		}
		hb, err := seg.ReadJSON(0)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: element header: %w", wire.ErrBadHeader, err)
		}
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(hb, &h); err != nil || h.ID == "" {
			return nil, nil, fmt.Errorf("%w: unexpected element header", wire.ErrBadHeader)
		}
		seg, err = resp.NextSegment()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: no bytes after element header %q", wire.ErrBadHeader, h.ID)
		}
		if seg.IsJSON() {
			return nil, nil, fmt.Errorf("%w: element %q is not a bytes segment", wire.ErrBadHeader, h.ID)
		}
		eb, err := io.ReadAll(io.LimitReader(seg, max+1))
		if err != nil {
			return nil, nil, err
		}
		if int64(len(eb)) > max {
			return nil, nil, fmt.Errorf("element %q is longer than %d bytes", h.ID, max)
		}
		data[h.ID] = eb
	}
}

// elementReader streams one element and releases the response at Close.
type elementReader struct {
	Segment
	resp *Response
}

func (e *elementReader) Close() error { return e.resp.Close() }

// RetrieveElement returns a reader of one element's bytes, streamed from the connection. Other
// responses wait until it is closed.
func (c *Client) RetrieveElement(ctx context.Context, id, element string) (io.ReadCloser, error) {
	return c.elementCall(ctx, Call{TargetID: id, OperationID: OpRetrieve, Attributes: map[string]any{"element": element}})
}

func (c *Client) elementCall(ctx context.Context, r Call) (io.ReadCloser, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	seg, err := resp.NextSegment()
	if err != nil {
		resp.Close()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: response has no element bytes", wire.ErrBadHeader)
		}
		return nil, err
	}
	if seg.IsJSON() {
		resp.Close()
		return nil, fmt.Errorf("%w: element is not a bytes segment", wire.ErrBadHeader)
	}
	return &elementReader{seg, resp}, nil
}

// RetrieveRange returns a reader of bytes start to end (both included) of one element, with
// CNRI's "range" attribute.
func (c *Client) RetrieveRange(ctx context.Context, id, element string, start, end int64) (io.ReadCloser, error) {
	return c.elementCall(ctx, Call{TargetID: id, OperationID: OpRetrieve, Attributes: map[string]any{"element": element,
		"range": map[string]int64{"start": start, "end": end}}})
}

// Delete deletes an object.
func (c *Client) Delete(ctx context.Context, id string) error {
	resp, err := c.do(ctx, Call{TargetID: id, OperationID: OpDelete})
	if err != nil {
		return err
	}
	return resp.Close()
}

// Search runs a query on the service (or registry) and returns the page it asks for.
func (c *Client) Search(ctx context.Context, q SearchRequest) (*SearchResult, error) {
	target, err := c.ServiceID(ctx)
	if err != nil {
		return nil, err
	}
	return c.SearchAt(ctx, target, q, nil)
}

// SearchAt runs a query on target, with extra attributes merged in.
func (c *Client) SearchAt(ctx context.Context, target string, q SearchRequest, extra map[string]any) (*SearchResult, error) {
	attrs := map[string]any{"query": q.Query, "pageNum": q.PageNum, "pageSize": q.PageSize, "type": "full"}
	if q.IDsOnly {
		attrs["type"] = "id"
	}
	if len(q.Sort) > 0 {
		attrs["sortFields"] = formatSortFields(q.Sort)
	}
	for k, v := range extra {
		attrs[k] = v
	}
	resp, err := c.do(ctx, Call{TargetID: target, OperationID: OpSearch, Attributes: attrs})
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	b, err := firstJSON(resp)
	if err != nil {
		return nil, err
	}
	return decodeSearchResult(b, q.IDsOnly)
}

func formatSortFields(fs []SortField) string {
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += ","
		}
		s += f.Name
		if f.Desc {
			s += " DESC"
		}
	}
	return s
}

func decodeSearchResult(b []byte, ids bool) (*SearchResult, error) {
	var raw struct {
		Size    int               `json:"size"`
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: search results: %w", wire.ErrBadHeader, err)
	}
	res := &SearchResult{Size: raw.Size}
	if ids {
		res.IDs = make([]string, 0, len(raw.Results))
		for _, r := range raw.Results {
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return nil, fmt.Errorf("%w: search result is not an id", wire.ErrBadHeader)
			}
			res.IDs = append(res.IDs, s)
		}
		return res, nil
	}
	res.Objects = make([]*DigitalObject, 0, len(raw.Results))
	for _, r := range raw.Results {
		do, err := decodeObject(r)
		if err != nil {
			return nil, err
		}
		res.Objects = append(res.Objects, do)
	}
	return res, nil
}

// Join asks the service (a registry) to forward its searches to the service repoID at repoURL
// (a DOIP URL or a libp2p multiaddr) until Quit.
func (c *Client) Join(ctx context.Context, repoID, repoURL string) error {
	target, err := c.ServiceID(ctx)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, Call{TargetID: target, OperationID: OpJoin, Attributes: map[string]any{"repoID": repoID, "repoUrl": repoURL}})
	if err != nil {
		return err
	}
	return resp.Close()
}

// Quit undoes a Join.
func (c *Client) Quit(ctx context.Context, repoID string) error {
	target, err := c.ServiceID(ctx)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, Call{TargetID: target, OperationID: OpQuit, Attributes: map[string]any{"repoID": repoID}})
	if err != nil {
		return err
	}
	return resp.Close()
}
