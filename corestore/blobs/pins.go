package blobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// Pin keeps the blob root through every GC until Unpin. The blob need not be held yet (a fetch
// can follow); the blocks of it that are held are protected from a GC running at the same time.
func (s *Store) Pin(ctx context.Context, root cid.Cid) error {
	if err := CheckCID(root); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	// A GC that has already read the pins would miss this one: hold the held part of the DAG
	// while the pin is written, so that such a GC keeps it.
	l := s.NewLease()
	defer l.Release()
	if err := l.Keep(ctx, root); err != nil && !errors.Is(err, ErrIncomplete) {
		return err
	}
	return s.putPin(ctx, root)
}

func (s *Store) putPin(ctx context.Context, root cid.Cid) error {
	if err := s.meta.Put(ctx, metaKey(pinsPrefix, root), root.Bytes()); err != nil {
		return fmt.Errorf("blob store: pin %s: %w", root, err)
	}
	return nil
}

// Unpin removes the pin of root; the next GC collects the blob unless something else keeps it.
// Unpinning a blob that is not pinned is not an error.
func (s *Store) Unpin(ctx context.Context, root cid.Cid) error {
	if err := CheckCID(root); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	if err := s.meta.Delete(ctx, metaKey(pinsPrefix, root)); err != nil {
		return fmt.Errorf("blob store: unpin %s: %w", root, err)
	}
	return nil
}

// IsPinned reports whether root is pinned.
func (s *Store) IsPinned(ctx context.Context, root cid.Cid) (bool, error) {
	if err := CheckCID(root); err != nil {
		return false, err
	}
	ok, err := s.meta.Has(ctx, metaKey(pinsPrefix, root))
	if err != nil {
		return false, fmt.Errorf("blob store: pin of %s: %w", root, err)
	}
	return ok, nil
}

// Pins returns the pinned roots, in CID byte order.
func (s *Store) Pins(ctx context.Context) ([]cid.Cid, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	var out []cid.Cid
	err := s.scan(ctx, pinsPrefix, func(_ ds.Key, v []byte) error {
		c, err := cid.Cast(v)
		if err != nil {
			return fmt.Errorf("%w: stored pin: %w", ErrInvalidCID, err)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob store: list pins: %w", err)
	}
	slices.SortFunc(out, func(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) })
	return out, nil
}

// scan calls fn for every entry under prefix in the metadata datastore.
func (s *Store) scan(ctx context.Context, prefix ds.Key, fn func(ds.Key, []byte) error) error {
	res, err := s.meta.Query(ctx, dsq.Query{Prefix: prefix.String()})
	if err != nil {
		return err
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		if err := fn(ds.RawKey(r.Key), r.Value); err != nil {
			return err
		}
	}
	return nil
}
