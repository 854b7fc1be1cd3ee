// Package dwncore keeps a DWN node's state on cores. Every message the node accepts for a
// tenant, from a client or found in another node's core, is appended to the node's own writable
// core for that tenant (named CoreName(tenant)); the message store, event log and indexes are
// derived from those cores into the corestore's derived Badger database, and rebuilt from them.
//
// Processing is deterministic, so a node that replays its cores gets the state it had, and nodes
// that replicate each other's tenant cores and ingest what they find there (Store.Ingest, with the
// judgement of dwn.Node.Ingest) converge.
//
// Crash safety: each accepted message is one unit, in which the core append comes first and the
// derived writes, with the position in the core, commit after it in one Badger transaction. On
// open the node processes the entries its derived state has not seen, so a crash between the two
// loses nothing; a unit too big for one transaction leaves a dirty mark that makes Open rebuild.
package dwncore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/kvstore"
)

// KeyPrefix is the first byte of every key dwncore writes in the derived database.
const KeyPrefix byte = 0xD0

// DatastorePrefix is the corestore datastore prefix of the default data store.
const DatastorePrefix byte = 0xD1

// DataFetcher fetches record data by its dataCid from elsewhere (other nodes), for messages
// ingested from another node's core whose data is not inline. The store checks the data against
// the CID.
type DataFetcher func(ctx context.Context, dataCID string) (io.ReadCloser, error)

// Option configures Open.
type Option func(*config) error

type config struct {
	data     dwn.DataStore
	nodeOpts []dwn.Option
	fetch    DataFetcher
	log      *slog.Logger
	parked   int
	blobs    *blobs.Store
}

// WithDataStore sets where record data over the inline threshold is kept (default a
// BlockDataStore on the corestore's datastore with prefix DatastorePrefix).
func WithDataStore(d dwn.DataStore) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("nil data store")
		}
		c.data = d
		return nil
	}
}

// WithBlobs keeps record data in the peer's blob store b (NewBlobDataStore, with the references in
// the corestore's Datastore(DatastorePrefix)); Store.DataStore().(*BlobDataStore).Live gives the
// roots for b's GC. Without it, or WithDataStore, data is kept in a BlockDataStore of its own.
func WithBlobs(b *blobs.Store) Option {
	return func(c *config) error {
		if b == nil {
			return errors.New("nil blob store")
		}
		c.blobs = b
		return nil
	}
}

// WithNodeOptions passes options (resolver, tenant gate, limits) to the dwn.Node.
func WithNodeOptions(opts ...dwn.Option) Option {
	return func(c *config) error { c.nodeOpts = append(c.nodeOpts, opts...); return nil }
}

// WithDataFetcher sets how ingest fetches large record data it does not hold.
func WithDataFetcher(f DataFetcher) Option { return func(c *config) error { c.fetch = f; return nil } }

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

// WithMaxParked bounds the ingested messages kept per tenant for a retry because they could not
// be accepted yet (default 10,000).
func WithMaxParked(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("max parked %d is negative", n)
		}
		c.parked = n
		return nil
	}
}

// Store is a DWN node whose state lives on cores.
type Store struct {
	cs      *corestore.Store
	db      *badger.DB
	backend *badgerBackend
	cfg     config
	node    *dwn.Node

	mu     sync.Mutex
	cores  map[string]*corestore.Core // tenant → own core
	closed bool
	ingest sync.Mutex // one Ingest at a time per store
}

// Keys under KeyPrefix (the kvstore namespaces are 'M' and 'E'):
//
//	'p' tenant            -> own-core length applied (uint64)
//	'r' tenant corekey    -> next entry to ingest from that core (uint64)
//	'k' tenant cid        -> a parked entry
func markerKey(tenant string) []byte { return append([]byte{'p'}, tenant...) }

func remoteKey(tenant string, core corestore.Key) []byte {
	k := []byte{'r'}
	k = binary.AppendUvarint(k, uint64(len(tenant)))
	k = append(k, tenant...)
	return append(k, core[:]...)
}

func parkedPrefix(tenant string) []byte {
	k := []byte{'k'}
	k = binary.AppendUvarint(k, uint64(len(tenant)))
	return append(k, tenant...)
}

// Open opens the DWN state of cs: it brings the derived indexes up to date with the node's
// tenant cores (rebuilding them after an interrupted oversized write) and returns the store.
// Close it before closing cs.
func Open(ctx context.Context, cs *corestore.Store, opts ...Option) (*Store, error) {
	c := config{log: slog.Default(), parked: 10_000}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, fmt.Errorf("dwncore: %w", err)
		}
	}
	db, err := cs.Derived()
	if err != nil {
		return nil, err
	}
	if c.data == nil {
		d, err := cs.Datastore(DatastorePrefix)
		if err != nil {
			return nil, err
		}
		if c.blobs != nil {
			c.data = NewBlobDataStore(c.blobs, d)
		} else {
			c.data = NewBlockDataStore(d)
		}
	}
	s := &Store{cs: cs, db: db, backend: newBackend(db, []byte{KeyPrefix}), cfg: c, cores: map[string]*corestore.Core{}}
	nodeOpts := append([]dwn.Option{
		dwn.WithMessageStore(kvstore.NewMessageStore(s.backend, 'M')),
		dwn.WithEventLog(kvstore.NewEventLog(s.backend, 'E')),
		dwn.WithDataStore(c.data),
		dwn.WithJournal(s),
		dwn.WithUnit(s),
		dwn.WithLogger(c.log),
	}, c.nodeOpts...)
	if s.node, err = dwn.New(nodeOpts...); err != nil {
		return nil, err
	}
	if err := s.loadCores(ctx); err != nil {
		return nil, err
	}
	dirty, err := s.isDirty()
	if err != nil {
		return nil, err
	}
	if dirty {
		c.log.Warn("dwn: derived state was left mid-write; rebuilding it from the cores")
		if err := s.Rebuild(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Node returns the node, for processing messages.
func (s *Store) Node() *dwn.Node { return s.node }

// DataStore returns the data store.
func (s *Store) DataStore() dwn.DataStore { return s.cfg.data }

// Close closes the node. The corestore stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.node.Close()
}

func (s *Store) isDirty() (bool, error) {
	var dirty bool
	err := s.backend.View(context.Background(), func(tx kvstore.Tx) error {
		_, ok, err := tx.Get([]byte("!dirty"))
		dirty = ok
		return err
	})
	return dirty, err
}

// loadCores finds the node's own tenant cores.
func (s *Store) loadCores(ctx context.Context) error {
	keys, err := s.cs.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		c, err := s.cs.Get(ctx, k)
		if err != nil {
			return err
		}
		if !c.Writable() || !strings.HasPrefix(c.Name(), CoreNamePrefix) {
			continue
		}
		s.cores[strings.TrimPrefix(c.Name(), CoreNamePrefix)] = c
	}
	return nil
}

// Tenants returns the tenants this node has a core for.
func (s *Store) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.cores))
	for t := range s.cores {
		out = append(out, t)
	}
	return out
}

// TenantCore returns the node's own core for tenant, creating it (empty) if needed. Its key is
// what other nodes of the tenant replicate.
func (s *Store) TenantCore(ctx context.Context, tenant string) (*corestore.Core, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cores[tenant]; c != nil {
		return c, nil
	}
	if s.closed {
		return nil, dwn.ErrClosed
	}
	c, err := s.cs.Create(ctx, CoreName(tenant))
	if err != nil {
		return nil, fmt.Errorf("tenant core for %s: %w", tenant, err)
	}
	s.cores[tenant] = c
	return c, nil
}

// unit state: the entries the message produced, and during a replay the position it comes from.
type unitState struct {
	entries []dwn.JournalEntry
}

type unitKey struct{}
type replayKey struct{}

type replayAt struct {
	tenant string
	index  uint64
}

// Record implements dwn.Journal: the entry is appended when the unit commits.
func (s *Store) Record(ctx context.Context, e dwn.JournalEntry) error {
	if _, ok := ctx.Value(replayKey{}).(*replayAt); ok {
		return nil // the entry is in the core already
	}
	u, ok := ctx.Value(unitKey{}).(*unitState)
	if !ok {
		return errors.New("dwncore: journal entry outside a unit")
	}
	u.entries = append(u.entries, e)
	return nil
}

// RunUnit implements dwn.Unit.
func (s *Store) RunUnit(ctx context.Context, fn func(ctx context.Context) error) error {
	u := &unitState{}
	ctx = context.WithValue(ctx, unitKey{}, u)
	return kvstore.RunUnit(ctx, s.backend, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		if r, ok := ctx.Value(replayKey{}).(*replayAt); ok {
			return s.setMarker(ctx, r.tenant, r.index+1)
		}
		for _, e := range u.entries {
			b, err := EncodeEntry(Entry{Message: e.Message, Data: e.Data, WithData: e.HasData, Ingested: e.Ingested})
			if err != nil {
				return err
			}
			core, err := s.TenantCore(ctx, e.Tenant)
			if err != nil {
				return err
			}
			n, err := core.Append(ctx, b)
			if err != nil {
				return fmt.Errorf("append to the core of %s: %w", e.Tenant, err)
			}
			if err := s.setMarker(ctx, e.Tenant, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) setMarker(ctx context.Context, tenant string, n uint64) error {
	return kvstore.Update(ctx, s.backend, func(tx kvstore.Tx) error {
		return tx.Set(markerKey(tenant), binary.BigEndian.AppendUint64(nil, n))
	})
}

func (s *Store) getUint(ctx context.Context, key []byte) (uint64, error) {
	var n uint64
	err := kvstore.View(ctx, s.backend, func(tx kvstore.Tx) error {
		b, ok, err := tx.Get(key)
		if ok && len(b) == 8 {
			n = binary.BigEndian.Uint64(b)
		}
		return err
	})
	return n, err
}

// catchUp processes the entries of the node's cores that the derived state has not applied.
func (s *Store) catchUp(ctx context.Context) error {
	s.mu.Lock()
	cores := make(map[string]*corestore.Core, len(s.cores))
	for t, c := range s.cores {
		cores[t] = c
	}
	s.mu.Unlock()
	for tenant, core := range cores {
		from, err := s.getUint(ctx, markerKey(tenant))
		if err != nil {
			return err
		}
		if err := s.replay(ctx, tenant, core, from); err != nil {
			return err
		}
	}
	return nil
}

// Rebuild drops the derived state and processes every entry of the node's tenant cores again.
// Ingest markers go too, so other nodes' cores are read again from their start (what was already
// taken is a 409 the second time).
func (s *Store) Rebuild(ctx context.Context) error {
	if err := s.db.DropPrefix([]byte{KeyPrefix}); err != nil {
		return fmt.Errorf("drop the derived DWN state: %w", err)
	}
	return s.catchUp(ctx)
}

func (s *Store) replay(ctx context.Context, tenant string, core *corestore.Core, from uint64) error {
	var batch [][]byte
	var at uint64
	for i := from; i < core.Length(); i++ {
		if i >= at+uint64(len(batch)) {
			var err error
			at = i
			if batch, err = core.GetRange(ctx, i, min(i+readBatch, core.Length())); err != nil {
				return fmt.Errorf("replay %s entries from %d: %w", tenant, i, err)
			}
		}
		b := batch[i-at]
		e, err := DecodeEntry(b)
		if err != nil {
			return fmt.Errorf("replay %s entry %d: %w", tenant, i, err)
		}
		rctx := context.WithValue(ctx, replayKey{}, &replayAt{tenant: tenant, index: i})
		var data io.Reader
		if e.WithData {
			if data, err = s.localData(rctx, tenant, e); err != nil {
				return err
			}
		}
		if _, err := s.process(rctx, tenant, e, data); err != nil {
			return fmt.Errorf("replay %s entry %d: %w", tenant, i, err)
		}
		// a message the replay did not run a unit for (none should) still counts as applied
		if err := s.setMarker(ctx, tenant, i+1); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) process(ctx context.Context, tenant string, e Entry, data io.Reader) (*dwn.Reply, error) {
	if e.Ingested {
		return s.node.Ingest(ctx, tenant, e.Message, data)
	}
	var opts []dwn.ProcessOption
	if data != nil {
		opts = append(opts, dwn.WithData(data))
	}
	return s.node.Process(ctx, tenant, e.Message, opts...)
}

// localData returns the data of an entry from the entry or, for large data, from the local data
// store (nil when it is gone: the replay then processes the write without data).
func (s *Store) localData(ctx context.Context, tenant string, e Entry) (io.Reader, error) {
	if e.Data != nil {
		return bytes.NewReader(e.Data), nil
	}
	rid, cid, large := largeData(e.Message)
	if !large {
		return nil, nil
	}
	rc, _, err := s.cfg.data.Get(ctx, tenant, rid, cid)
	if errors.Is(err, dwn.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &closeOnEOF{rc: rc}, nil
}

// largeData returns the record and dataCid of a RecordsWrite whose data is over the inline
// threshold.
func largeData(m *jsv.Object) (recordID, dataCID string, ok bool) {
	dv, _ := m.Get("descriptor")
	d, _ := dv.(*jsv.Object)
	iv, _ := d.Get("interface")
	mv, _ := d.Get("method")
	sv, _ := d.Get("dataSize")
	cv, _ := d.Get("dataCid")
	rv, _ := m.Get("recordId")
	size, _ := sv.(float64)
	if iv != dwn.InterfaceRecords || mv != dwn.MethodWrite || size <= dwn.MaxDataSizeAllowedToBeEncoded {
		return "", "", false
	}
	recordID, _ = rv.(string)
	dataCID, _ = cv.(string)
	return recordID, dataCID, dataCID != ""
}

// closeOnEOF closes a reader once it is read to the end.
type closeOnEOF struct {
	rc   io.ReadCloser
	done bool
}

func (c *closeOnEOF) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.rc.Read(p)
	if err != nil {
		c.done = true
		c.rc.Close()
	}
	return n, err
}

// CoreKey returns the key and length of the node's core for tenant, if it has one: what
// jsonrpc.WithTenantCores serves to the tenant's other nodes.
func (s *Store) CoreKey(tenant string) (corestore.Key, uint64, bool) {
	c, ok := s.ownCore(tenant)
	if !ok {
		return corestore.Key{}, 0, false
	}
	return c.Key(), c.Length(), true
}

// TenantCoreKey is CoreKey in the shape jsonrpc.OpenTenantCores takes:
// jsonrpc.New(s.Node(), jsonrpc.WithTenantCores(jsonrpc.OpenTenantCores(s.TenantCoreKey))).
func (s *Store) TenantCoreKey(_ context.Context, tenant string) ([]byte, uint64, bool) {
	k, n, ok := s.CoreKey(tenant)
	if !ok {
		return nil, 0, false
	}
	return k[:], n, true
}
