package blobs

import (
	"context"
	"fmt"
	"iter"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// walk visits the DAG under root depth first, in file order, each distinct block once. For a
// held block fn gets its node (for a raw leaf, without Data: leaves are not read); for a missing
// one, nil, and the walk does not descend. With a lease, every block is held before it is
// looked at. Inner nodes are checked with DecodeWant against the store's limits.
func (s *Store) walk(ctx context.Context, root Want, l *Lease, fn func(Want, *Node) error) error {
	if err := CheckCID(root.CID); err != nil {
		return err
	}
	seen := map[string]struct{}{}
	stack := []Want{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k := mhKey(w.CID.Hash())
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		if l != nil {
			if err := l.hold(w.CID.Hash()); err != nil {
				return err
			}
		}
		if w.CID.Type() == cid.Raw {
			size, err := s.bs.GetSize(ctx, w.CID)
			if ipld.IsNotFound(err) {
				if err := fn(w, nil); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("blob store: size of %s: %w", w.CID, err)
			}
			if w.Depth > s.lim.MaxDepth {
				return fmt.Errorf("%w: %s is at depth %d", ErrTooDeep, w.CID, w.Depth)
			}
			if err := fn(w, &Node{CID: w.CID, FileSize: uint64(size)}); err != nil {
				return err
			}
			continue
		}
		data, err := s.bs.Get(ctx, w.CID)
		if ipld.IsNotFound(err) {
			if err := fn(w, nil); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("blob store: read %s: %w", w.CID, err)
		}
		n, err := DecodeWant(w, data.RawData(), s.lim)
		if err != nil {
			return err
		}
		if err := fn(w, &n); err != nil {
			return err
		}
		for i := len(n.Links) - 1; i >= 0; i-- {
			stack = append(stack, Want{CID: n.Links[i].CID, Depth: w.Depth + 1, Size: n.Links[i].Size})
		}
	}
	return nil
}

func (s *Store) missing(ctx context.Context, root Want, l *Lease) iter.Seq2[Want, error] {
	return func(yield func(Want, error) bool) {
		if err := s.begin(); err != nil {
			yield(Want{}, err)
			return
		}
		defer s.end()
		stop := fmt.Errorf("stop")
		err := s.walk(ctx, root, l, func(w Want, n *Node) error {
			if n == nil && !yield(w, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			yield(Want{}, err)
		}
	}
}

// Missing yields the blocks of the DAG under root that the store lacks, in file order: a
// missing inner node stands for its whole subtree. Callers pass Want{CID: c} for a blob's root.
// It ends early with an error if a held block fails the store's limits.
func (s *Store) Missing(ctx context.Context, root Want) iter.Seq2[Want, error] {
	return s.missing(ctx, root, nil)
}

// Complete reports whether the store holds every block of the blob root.
func (s *Store) Complete(ctx context.Context, root cid.Cid) (bool, error) {
	for _, err := range s.Missing(ctx, Want{CID: root}) {
		if err != nil {
			return false, err
		}
		return false, nil
	}
	return true, nil
}
