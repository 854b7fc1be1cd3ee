// Package memstore is the in-memory implementation of the DWN stores: a skiplist Backend for
// kvstore's MessageStore and EventLog, and a DataStore that keeps record data as UnixFS DAGs
// (CIDv1, raw leaves, 256 KiB chunks, balanced, 174 links) in memory.
//
// New returns the three stores of one node (Stores) on a fresh Backend; Stores.Options gives
// the dwn.Node options that use them, and Stores is a dwn.Unit (dwn.WithUnit) that makes each
// message's store writes one transaction. Nothing survives the process: it is for tests,
// examples and short-lived nodes. dwn/dwncore is the persistent implementation.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/kvstore"
)

var errReadOnly = errors.New("memstore: write in a read-only transaction")

// Stores are the three stores of one in-memory DWN.
type Stores struct {
	Backend  *Backend
	Messages *kvstore.MessageStore
	Events   *kvstore.EventLog
	Data     *DataStore
}

// New returns fresh in-memory stores.
func New() *Stores {
	b := NewBackend()
	return &Stores{Backend: b, Messages: kvstore.NewMessageStore(b, 'M'), Events: kvstore.NewEventLog(b, 'E'), Data: NewDataStore()}
}

// Options returns the node options that use these stores.
func (s *Stores) Options() []dwn.Option {
	return []dwn.Option{dwn.WithMessageStore(s.Messages), dwn.WithEventLog(s.Events), dwn.WithDataStore(s.Data)}
}

// RunUnit implements dwn.Unit: the message's store calls share one rolled-back-on-failure
// transaction.
func (s *Stores) RunUnit(ctx context.Context, fn func(ctx context.Context) error) error {
	return kvstore.RunUnit(ctx, s.Backend, fn)
}

// DataStore is an in-memory dwn.DataStore. Blocks are shared between records that hold the same
// data and counted, so deleting one record's data keeps the other's.
type DataStore struct {
	mu     sync.Mutex
	blocks map[cid.Cid]*refNode
	refs   map[dataKey][]cid.Cid // the blocks of each (tenant, record, root)
}

type dataKey struct{ tenant, record, root string }

type refNode struct {
	node ipld.Node
	refs int
}

// NewDataStore returns an empty data store.
func NewDataStore() *DataStore {
	return &DataStore{blocks: map[cid.Cid]*refNode{}, refs: map[dataKey][]cid.Cid{}}
}

// staging collects the nodes of one import.
type staging struct {
	nodes map[cid.Cid]ipld.Node
	order []cid.Cid
}

func (s *staging) Get(_ context.Context, c cid.Cid) (ipld.Node, error) {
	if n, ok := s.nodes[c]; ok {
		return n, nil
	}
	return nil, ipld.ErrNotFound{Cid: c}
}
func (s *staging) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		n, err := s.Get(ctx, c)
		ch <- &ipld.NodeOption{Node: n, Err: err}
	}
	close(ch)
	return ch
}
func (s *staging) Add(_ context.Context, n ipld.Node) error {
	if _, ok := s.nodes[n.Cid()]; !ok {
		s.nodes[n.Cid()] = n
		s.order = append(s.order, n.Cid())
	}
	return nil
}
func (s *staging) AddMany(ctx context.Context, ns []ipld.Node) error {
	for _, n := range ns {
		if err := s.Add(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
func (s *staging) Remove(context.Context, cid.Cid) error       { return nil }
func (s *staging) RemoveMany(context.Context, []cid.Cid) error { return nil }

// Put implements dwn.DataStore.
func (d *DataStore) Put(ctx context.Context, tenant, recordID, wantCID string, wantSize int64, r io.Reader) (string, int64, error) {
	st := &staging{nodes: map[cid.Cid]ipld.Node{}}
	root, n, err := dwn.ImportUnixFS(ctx, r, st)
	if err != nil {
		return "", n, fmt.Errorf("import record data: %w", err)
	}
	got := root.String()
	if got != wantCID || n != wantSize {
		return got, n, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := dataKey{tenant, recordID, got}
	if _, ok := d.refs[k]; ok {
		return got, n, nil
	}
	for _, c := range st.order {
		if b, ok := d.blocks[c]; ok {
			b.refs++
		} else {
			d.blocks[c] = &refNode{node: st.nodes[c], refs: 1}
		}
	}
	d.refs[k] = st.order
	return got, n, nil
}

// Get implements dwn.DataStore.
func (d *DataStore) Get(ctx context.Context, tenant, recordID, root string) (io.ReadCloser, int64, error) {
	d.mu.Lock()
	blocks, ok := d.refs[dataKey{tenant, recordID, root}]
	view := &staging{nodes: map[cid.Cid]ipld.Node{}}
	for _, c := range blocks {
		view.nodes[c] = d.blocks[c].node
	}
	d.mu.Unlock()
	if !ok {
		return nil, 0, fmt.Errorf("data %s of record %s: %w", root, recordID, dwn.ErrNotFound)
	}
	rc, err := cid.Decode(root)
	if err != nil {
		return nil, 0, err
	}
	nd, err := view.Get(ctx, rc)
	if err != nil {
		return nil, 0, err
	}
	r, err := uio.NewDagReader(ctx, nd, view)
	if err != nil {
		return nil, 0, err
	}
	return r, int64(r.Size()), nil
}

// Delete implements dwn.DataStore.
func (d *DataStore) Delete(_ context.Context, tenant, recordID, root string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := dataKey{tenant, recordID, root}
	blocks, ok := d.refs[k]
	if !ok {
		return nil
	}
	delete(d.refs, k)
	for _, c := range blocks {
		if b := d.blocks[c]; b != nil {
			if b.refs--; b.refs == 0 {
				delete(d.blocks, c)
			}
		}
	}
	return nil
}

// Blocks returns the number of distinct blocks held, for tests.
func (d *DataStore) Blocks() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.blocks)
}
