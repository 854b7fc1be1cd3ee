package dwncore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/dwn"
)

// BlobDataStore is a dwn.DataStore on a peer's blob store (corestore/blobs), whose CIDs are
// dwn-sdk-js's dataCids: record data is a blob, and which (tenant, record) references which blob
// is kept in refs (a go-datastore the store uses alone, e.g. the corestore's Datastore at
// DatastorePrefix). Deleting a record's data drops its reference; the blob store's GC frees the
// blocks of blobs no record references, given Live among its live roots.
type BlobDataStore struct {
	b    *blobs.Store
	refs ds.Batching
}

// NewBlobDataStore returns a data store on b with its references in refs.
func NewBlobDataStore(b *blobs.Store, refs ds.Batching) *BlobDataStore {
	return &BlobDataStore{b: b, refs: refs}
}

const blobRefPrefix = "/dwnblob/"

func blobRefKey(tenant, record, root string) ds.Key {
	return ds.NewKey(blobRefPrefix + hex.EncodeToString([]byte(tenant)) + "/" + hex.EncodeToString([]byte(record)) + "/" + root)
}

// Put implements dwn.DataStore. Data that does not match is not referenced and is left to GC.
func (s *BlobDataStore) Put(ctx context.Context, tenant, recordID, wantCID string, wantSize int64, r io.Reader) (string, int64, error) {
	lease := s.b.NewLease()
	defer lease.Release()
	ref, err := s.b.Add(ctx, r, blobs.WithLease(lease), blobs.WithUnlisted()) // a record's data is not announced
	if err != nil {
		return "", 0, fmt.Errorf("store record data: %w", err)
	}
	got, n := ref.CID.String(), int64(ref.Size)
	if got != wantCID || n != wantSize {
		return got, n, nil
	}
	if err := s.refs.Put(ctx, blobRefKey(tenant, recordID, got), nil); err != nil {
		return "", n, err
	}
	return got, n, nil
}

// Get implements dwn.DataStore.
func (s *BlobDataStore) Get(ctx context.Context, tenant, recordID, root string) (io.ReadCloser, int64, error) {
	has, err := s.refs.Has(ctx, blobRefKey(tenant, recordID, root))
	if err != nil {
		return nil, 0, err
	}
	if !has {
		return nil, 0, fmt.Errorf("data %s of record %s: %w", root, recordID, dwn.ErrNotFound)
	}
	rd, err := s.Fetch(ctx, root)
	if err != nil {
		return nil, 0, err
	}
	return rd, int64(rd.(*blobs.Reader).Size()), nil
}

// Delete implements dwn.DataStore.
func (s *BlobDataStore) Delete(ctx context.Context, tenant, recordID, root string) error {
	return s.refs.Delete(ctx, blobRefKey(tenant, recordID, root))
}

// Fetch reads the blob dataCID, whichever record references it (a DataFetcher for other nodes).
func (s *BlobDataStore) Fetch(ctx context.Context, dataCID string) (io.ReadCloser, error) {
	c, err := cid.Decode(dataCID)
	if err != nil {
		return nil, err
	}
	rd, err := s.b.Open(ctx, c)
	if err != nil {
		if errors.Is(err, blobs.ErrNotFound) {
			return nil, fmt.Errorf("data %s: %w", dataCID, dwn.ErrNotFound)
		}
		return nil, fmt.Errorf("data %s: %w", dataCID, err)
	}
	return rd, nil
}

// Live lists the blobs DWN records reference, for the blob store's GC.
func (s *BlobDataStore) Live(ctx context.Context) blobs.Live {
	return func(yield func(cid.Cid, error) bool) {
		res, err := s.refs.Query(ctx, query.Query{Prefix: blobRefPrefix, KeysOnly: true})
		if err != nil {
			yield(cid.Undef, err)
			return
		}
		defer res.Close()
		for e := range res.Next() {
			if e.Error != nil {
				yield(cid.Undef, e.Error)
				return
			}
			k := e.Key[strings.LastIndexByte(e.Key, '/')+1:]
			c, err := cid.Decode(k)
			if !yield(c, err) || err != nil {
				return
			}
		}
	}
}
