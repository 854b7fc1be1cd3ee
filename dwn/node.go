package dwn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Journal is told of every message the node accepts, before the stores change, so that a
// core-backed store can append it to the tenant's core. Data is the record data of a RecordsWrite
// when it was inline (30,000 bytes or less) and given; large data is in the DataStore under the
// message's dataCid. Ingested marks a message that came from another node's core.
type Journal interface {
	Record(ctx context.Context, e JournalEntry) error
}

// JournalEntry is one accepted message.
type JournalEntry struct {
	Tenant   string
	Message  *jsv.Object // without encodedData
	Data     []byte      // inline data, nil when none was given
	HasData  bool        // a data stream came with the message
	Ingested bool
}

// Unit lets a store make the processing of one message atomic: RunUnit runs fn, in which every
// store call made with the context fn gets belongs to one transaction.
type Unit interface {
	RunUnit(ctx context.Context, fn func(ctx context.Context) error) error
}

// Option configures a Node.
type Option func(*config) error

type config struct {
	messages MessageStore
	data     DataStore
	events   EventLog
	resolver Resolver
	gate     TenantGate
	journal  Journal
	unit     Unit
	log      *slog.Logger
	maxData  int64
}

// WithMessageStore sets the message store (required).
func WithMessageStore(s MessageStore) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("nil message store")
		}
		c.messages = s
		return nil
	}
}

// WithDataStore sets the data store (required).
func WithDataStore(s DataStore) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("nil data store")
		}
		c.data = s
		return nil
	}
}

// WithEventLog sets the event log (required).
func WithEventLog(l EventLog) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil event log")
		}
		c.events = l
		return nil
	}
}

// WithResolver sets the DID resolver (default KeyResolver: did:key and did:jwk).
func WithResolver(r Resolver) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("nil resolver")
		}
		c.resolver = r
		return nil
	}
}

// WithTenantGate sets which tenants the node serves (default AllowAll).
func WithTenantGate(g TenantGate) Option {
	return func(c *config) error {
		if g == nil {
			return errors.New("nil tenant gate")
		}
		c.gate = g
		return nil
	}
}

// WithJournal sets the journal told of accepted messages.
func WithJournal(j Journal) Option { return func(c *config) error { c.journal = j; return nil } }

// WithUnit makes the processing of each message one store transaction.
func WithUnit(u Unit) Option { return func(c *config) error { c.unit = u; return nil } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithMaxDataSize bounds the record data a RecordsWrite may carry (default 1 GiB, dwn-server's
// default).
func WithMaxDataSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("max data size %d must be positive", n)
		}
		c.maxData = n
		return nil
	}
}

// Node judges DWN messages exactly as dwn-sdk-js 0.5.2's Dwn.processMessage does, over pluggable
// stores. Messages of one tenant are processed one at a time, so that processing is
// deterministic: the same messages in the same order always give the same state.
type Node struct {
	cfg    config
	stream *eventStream

	mu      sync.Mutex
	tenants map[string]*sync.Mutex
	closed  bool
}

// New returns a node.
func New(opts ...Option) (*Node, error) {
	c := config{resolver: KeyResolver{}, gate: AllowAll{}, log: slog.Default(), maxData: 1 << 30}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, fmt.Errorf("dwn: %w", err)
		}
	}
	if c.messages == nil || c.data == nil || c.events == nil {
		return nil, errors.New("dwn: a message store, a data store and an event log are required")
	}
	return &Node{cfg: c, stream: newEventStream(), tenants: map[string]*sync.Mutex{}}, nil
}

// Close closes every subscription. The stores are the caller's to close.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.stream.closeAll()
	return nil
}

func (n *Node) lock(tenant string) (func(), error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	m := n.tenants[tenant]
	if m == nil {
		m = &sync.Mutex{}
		n.tenants[tenant] = m
	}
	n.mu.Unlock()
	m.Lock()
	return m.Unlock, nil
}

// ProcessOption configures one Process call.
type ProcessOption func(*procOpts)

type procOpts struct {
	data     io.Reader
	onEvent  func(Event)
	ingested bool
}

// WithData gives the record data of a RecordsWrite. Without it the write carries no data, as
// when dwn-server gets a request without a body.
func WithData(r io.Reader) ProcessOption { return func(o *procOpts) { o.data = r } }

// WithSubscriptionHandler receives the events of a RecordsSubscribe or MessagesSubscribe. It is
// called from the goroutine that processes the message that caused the event, after that message
// is stored, and must not block.
func WithSubscriptionHandler(f func(Event)) ProcessOption {
	return func(o *procOpts) { o.onEvent = f }
}

// Process judges message (a JSON value, usually a *jsv.Object) for tenant and returns the reply.
// The error is for failures dwn-sdk-js would have thrown (a store failing, an uncaught JavaScript
// exception); every judgement of the message is a reply.
func (n *Node) Process(ctx context.Context, tenant string, message any, opts ...ProcessOption) (*Reply, error) {
	var o procOpts
	for _, f := range opts {
		f(&o)
	}
	return n.process(ctx, tenant, message, o)
}

// ProcessJSON parses a JSON message and processes it. Text that is not JSON is ErrInvalidMessage.
func (n *Node) ProcessJSON(ctx context.Context, tenant string, message []byte, opts ...ProcessOption) (*Reply, error) {
	v, err := jsv.Parse(message)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	return n.Process(ctx, tenant, v, opts...)
}

// Ingest processes a message found in another node's core for tenant: the same judgement as
// Process, with two rules that make nodes converge whatever order they see messages in. A
// RecordsWrite newer than the record's RecordsDelete is accepted (newest wins, where dwn-sdk-js
// refuses any write after a delete), and a child record's parent may be a record that was
// deleted without pruning. Accepted messages are journaled as ingested.
func (n *Node) Ingest(ctx context.Context, tenant string, message *jsv.Object, data io.Reader) (*Reply, error) {
	return n.process(ctx, tenant, message, procOpts{data: data, ingested: true})
}

func (n *Node) process(ctx context.Context, tenant string, message any, o procOpts) (*Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock, err := n.lock(tenant)
	if err != nil {
		return nil, err
	}
	defer unlock()

	ok, detail, err := n.cfg.gate.IsActiveTenant(ctx, tenant)
	if err != nil {
		return nil, &internalError{err}
	}
	if !ok {
		if detail == "" {
			detail = "DID " + tenant + " is not an active tenant."
		}
		return statusReply(401, detail), nil
	}

	m, _ := message.(*jsv.Object)
	var desc *jsv.Object
	var iface, method any
	var hasI, hasM bool
	if m != nil {
		if d, ok := m.Get("descriptor"); ok {
			desc, _ = d.(*jsv.Object)
		}
	}
	if desc != nil {
		iface, hasI = desc.Get("interface")
		method, hasM = desc.Get("method")
	}
	if !hasI || !hasM {
		return statusReply(400, "Both interface and method must be present, interface: "+jsString(iface, hasI)+", method: "+jsString(method, hasM)), nil
	}
	key := jsString(iface, true) + jsString(method, true)
	if err := validateJSONSchema(key, m); err != nil {
		return errorReply(err, 400), nil
	}

	h := &handler{n: n, tenant: tenant, opts: o}
	run := func(ctx context.Context) error {
		h.ctx = ctx
		var err error
		switch key {
		case "RecordsWrite":
			h.reply, err = h.recordsWrite(m)
		case "RecordsRead":
			h.reply, err = h.recordsRead(m)
		case "RecordsQuery":
			h.reply, err = h.recordsQuery(m)
		case "RecordsSubscribe":
			h.reply, err = h.recordsSubscribe(m)
		case "RecordsDelete":
			h.reply, err = h.recordsDelete(m)
		case "ProtocolsConfigure":
			h.reply, err = h.protocolsConfigure(m)
		case "ProtocolsQuery":
			h.reply, err = h.protocolsQuery(m)
		case "MessagesQuery":
			h.reply, err = h.messagesQuery(m)
		case "MessagesRead":
			h.reply, err = h.messagesRead(m)
		case "MessagesSubscribe":
			h.reply, err = h.messagesSubscribe(m)
		default:
			// a schema that is not a message's (GeneralJws, Definitions, ...) passed
			return jsError("Cannot read properties of undefined (reading 'handle')")
		}
		return err
	}
	if n.cfg.unit != nil && isMutating(key) {
		err = n.cfg.unit.RunUnit(ctx, run)
	} else {
		err = run(ctx)
	}
	if err != nil {
		if h.reply != nil && h.reply.Data != nil {
			h.reply.Data.Close()
		}
		return nil, &internalError{err}
	}
	for _, e := range h.events {
		n.stream.emit(tenant, e.event, e.ix)
	}
	return h.reply, nil
}

func isMutating(key string) bool {
	return key == "RecordsWrite" || key == "RecordsDelete" || key == "ProtocolsConfigure"
}

// IsInternal reports whether err from Process is an internal failure (as opposed to a context
// error or ErrClosed).
func IsInternal(err error) bool {
	var ie *internalError
	return errors.As(err, &ie)
}

// handler holds the state of one Process call.
type handler struct {
	n      *Node
	ctx    context.Context
	tenant string
	opts   procOpts
	reply  *Reply
	events []pendingEvent
}

type pendingEvent struct {
	event Event
	ix    Indexes
}

// emit queues an event; events go out once the message's processing has committed.
func (h *handler) emit(e Event, ix Indexes) { h.events = append(h.events, pendingEvent{e, ix}) }

func (h *handler) journal(msg *jsv.Object, data []byte, hasData bool) error {
	if h.n.cfg.journal == nil {
		return nil
	}
	return h.n.cfg.journal.Record(h.ctx, JournalEntry{Tenant: h.tenant, Message: msg, Data: data, HasData: hasData, Ingested: h.opts.ingested})
}

func (h *handler) query(filters []Filter, sort Sort, page *Pagination) ([]*jsv.Object, *Cursor, error) {
	return h.n.cfg.messages.Query(h.ctx, h.tenant, filters, sort, page)
}

func (h *handler) queryAll(filters ...Filter) ([]*jsv.Object, error) {
	ms, _, err := h.query(filters, Sort{Property: "messageTimestamp"}, nil)
	return ms, err
}

// filter builds a Filter from alternating keys and values.
func filter(kv ...any) Filter {
	f := jsv.NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i].(string), kv[i+1])
	}
	return f
}
