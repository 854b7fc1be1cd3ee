package dwncore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/datomspace/datomspace/dwn"
)

// BlockDataStore is a dwn.DataStore that keeps record data as UnixFS DAGs in a blockstore on a
// go-datastore (in a node, the corestore's Badger through Store.Datastore), with the blocks of
// every (tenant, record, dataCid) counted, so that identical data is stored once and deleting one
// record's data keeps the blocks another record still uses.
type BlockDataStore struct {
	d   ds.Batching
	bs  blockstore.Blockstore
	dag ipld.DAGService
	mu  sync.Mutex
}

// NewBlockDataStore returns a data store on d, which it uses alone.
func NewBlockDataStore(d ds.Batching) *BlockDataStore {
	bs := blockstore.NewBlockstore(d)
	return &BlockDataStore{d: d, bs: bs, dag: merkledag.NewDAGService(blockservice.New(bs, nil))}
}

// Blockstore returns the blockstore the DAGs are kept in (for serving them over bitswap).
func (s *BlockDataStore) Blockstore() blockstore.Blockstore { return s.bs }

func refKey(tenant, record, root string) ds.Key {
	return ds.NewKey("/dwnref/" + hex.EncodeToString([]byte(tenant)) + "/" + hex.EncodeToString([]byte(record)) + "/" + root)
}

func countKey(c cid.Cid) ds.Key { return ds.NewKey("/dwnrc/" + c.String()) }

// recording adds nodes to a DAG service and remembers which.
type recording struct {
	ipld.DAGService
	seen  map[cid.Cid]bool
	order []cid.Cid
}

func (r *recording) Add(ctx context.Context, n ipld.Node) error {
	if !r.seen[n.Cid()] {
		r.seen[n.Cid()] = true
		r.order = append(r.order, n.Cid())
	}
	return r.DAGService.Add(ctx, n)
}

func (r *recording) AddMany(ctx context.Context, ns []ipld.Node) error {
	for _, n := range ns {
		if err := r.Add(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (s *BlockDataStore) count(ctx context.Context, c cid.Cid) (uint64, error) {
	b, err := s.d.Get(ctx, countKey(c))
	if errors.Is(err, ds.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(b) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// Put implements dwn.DataStore.
func (s *BlockDataStore) Put(ctx context.Context, tenant, recordID, wantCID string, wantSize int64, r io.Reader) (string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &recording{DAGService: s.dag, seen: map[cid.Cid]bool{}}
	root, n, err := dwn.ImportUnixFS(ctx, r, rec)
	keep := err == nil && root.String() == wantCID && n == wantSize
	if keep {
		if has, herr := s.d.Has(ctx, refKey(tenant, recordID, root.String())); herr != nil {
			err, keep = herr, false
		} else if has {
			return root.String(), n, s.dropUnreferenced(ctx, rec.order)
		}
	}
	if !keep {
		if derr := s.dropUnreferenced(ctx, rec.order); derr != nil && err == nil {
			err = derr
		}
		if err != nil {
			return "", n, fmt.Errorf("store record data: %w", err)
		}
		return root.String(), n, nil
	}
	b, err := s.d.Batch(ctx)
	if err != nil {
		return "", n, err
	}
	list := make([]byte, 0, len(rec.order)*40)
	for _, c := range rec.order {
		k, err := s.count(ctx, c)
		if err != nil {
			return "", n, err
		}
		if err := b.Put(ctx, countKey(c), binary.BigEndian.AppendUint64(nil, k+1)); err != nil {
			return "", n, err
		}
		list = binary.AppendUvarint(list, uint64(c.ByteLen()))
		list = append(list, c.Bytes()...)
	}
	if err := b.Put(ctx, refKey(tenant, recordID, root.String()), list); err != nil {
		return "", n, err
	}
	if err := b.Commit(ctx); err != nil {
		return "", n, err
	}
	return root.String(), n, nil
}

// dropUnreferenced deletes blocks an import added that no kept data references.
func (s *BlockDataStore) dropUnreferenced(ctx context.Context, cs []cid.Cid) error {
	for _, c := range cs {
		k, err := s.count(ctx, c)
		if err != nil {
			return err
		}
		if k == 0 {
			if err := s.bs.DeleteBlock(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fetch reads the DAG with root dataCID from the blockstore, whichever record holds it: what a
// peer serves when another node fetches data by CID (a DataFetcher of a node that reads this one).
func (s *BlockDataStore) Fetch(ctx context.Context, dataCID string) (io.ReadCloser, error) {
	c, err := cid.Decode(dataCID)
	if err != nil {
		return nil, err
	}
	nd, err := s.dag.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", dataCID, dwn.ErrNotFound)
	}
	return uio.NewDagReader(ctx, nd, s.dag)
}

// Get implements dwn.DataStore.
func (s *BlockDataStore) Get(ctx context.Context, tenant, recordID, root string) (io.ReadCloser, int64, error) {
	has, err := s.d.Has(ctx, refKey(tenant, recordID, root))
	if err != nil {
		return nil, 0, err
	}
	if !has {
		return nil, 0, fmt.Errorf("data %s of record %s: %w", root, recordID, dwn.ErrNotFound)
	}
	c, err := cid.Decode(root)
	if err != nil {
		return nil, 0, err
	}
	nd, err := s.dag.Get(ctx, c)
	if err != nil {
		return nil, 0, fmt.Errorf("data %s: %w", root, err)
	}
	rd, err := uio.NewDagReader(ctx, nd, s.dag)
	if err != nil {
		return nil, 0, err
	}
	return rd, int64(rd.Size()), nil
}

// Delete implements dwn.DataStore.
func (s *BlockDataStore) Delete(ctx context.Context, tenant, recordID, root string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := refKey(tenant, recordID, root)
	list, err := s.d.Get(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := s.d.Batch(ctx)
	if err != nil {
		return err
	}
	var drop []cid.Cid
	for len(list) > 0 {
		l, n := binary.Uvarint(list)
		if n <= 0 || uint64(len(list)-n) < l {
			return fmt.Errorf("data references of %s: corrupt", root)
		}
		c, err := cid.Cast(list[n : n+int(l)])
		if err != nil {
			return err
		}
		list = list[n+int(l):]
		cnt, err := s.count(ctx, c)
		if err != nil {
			return err
		}
		if cnt <= 1 {
			if err := b.Delete(ctx, countKey(c)); err != nil {
				return err
			}
			drop = append(drop, c)
		} else if err := b.Put(ctx, countKey(c), binary.BigEndian.AppendUint64(nil, cnt-1)); err != nil {
			return err
		}
	}
	if err := b.Delete(ctx, k); err != nil {
		return err
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	for _, c := range drop {
		if err := s.bs.DeleteBlock(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
