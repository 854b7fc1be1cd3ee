package blobs

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
)

// record notes ref among the held blobs and, as cc says, pins it and marks it unlisted. A blob
// recorded listed loses its mark; one recorded unlisted gets it only if it was not held listed.
func (s *Store) record(ctx context.Context, ref Ref, cc commitConfig) error {
	v := binary.AppendUvarint(nil, ref.Size)
	v = append(v, ref.CID.Bytes()...)
	mark := false
	if cc.unlisted {
		held, err := s.meta.Has(ctx, metaKey(rootsPrefix, ref.CID))
		if err != nil {
			return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
		}
		marked, err := s.meta.Has(ctx, metaKey(unlistedPrefix, ref.CID))
		if err != nil {
			return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
		}
		mark = !held || marked
	}
	b, err := s.meta.Batch(ctx)
	if err != nil {
		return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
	}
	if err := b.Put(ctx, metaKey(rootsPrefix, ref.CID), v); err != nil {
		return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
	}
	if mark {
		err = b.Put(ctx, metaKey(unlistedPrefix, ref.CID), nil)
	} else {
		err = b.Delete(ctx, metaKey(unlistedPrefix, ref.CID))
	}
	if err != nil {
		return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
	}
	if cc.pin {
		if err := b.Put(ctx, metaKey(pinsPrefix, ref.CID), ref.CID.Bytes()); err != nil {
			return fmt.Errorf("blob store: pin %s: %w", ref.CID, err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("blob store: record %s: %w", ref.CID, err)
	}
	s.signalChange()
	return nil
}

func decodeRoot(v []byte) (Ref, error) {
	size, n := binary.Uvarint(v)
	if n <= 0 {
		return Ref{}, fmt.Errorf("%w: stored root entry", ErrMalformed)
	}
	c, err := cid.Cast(v[n:])
	if err != nil {
		return Ref{}, fmt.Errorf("%w: stored root entry: %w", ErrInvalidCID, err)
	}
	return Ref{CID: c, Size: size}, nil
}

// Roots returns the blobs the store recorded as held complete (by Add or a fetch's Commit) and
// not collected since, in CID byte order. A peer announces these in the DHT.
func (s *Store) Roots(ctx context.Context) ([]Ref, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	var out []Ref
	err := s.scan(ctx, rootsPrefix, func(_ ds.Key, v []byte) error {
		r, err := decodeRoot(v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob store: list blobs: %w", err)
	}
	slices.SortFunc(out, func(a, b Ref) int { return strings.Compare(a.CID.KeyString(), b.CID.KeyString()) })
	return out, nil
}

// ListedRoots returns Roots without the unlisted blobs (Unlisted): those a peer announces.
func (s *Store) ListedRoots(ctx context.Context) ([]Ref, error) {
	roots, err := s.Roots(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	out := roots[:0]
	for _, r := range roots {
		unlisted, err := s.meta.Has(ctx, metaKey(unlistedPrefix, r.CID))
		if err != nil {
			return nil, fmt.Errorf("blob store: list blobs: %w", err)
		}
		if !unlisted {
			out = append(out, r)
		}
	}
	return out, nil
}
