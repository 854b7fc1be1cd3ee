package blobs

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
)

// gcState is what a running GC shares with the writers: every block a lease holds, held when
// the GC started or since. None of them is removed.
type gcState struct {
	protect map[string]struct{}
}

// GCResult says what a GC freed.
type GCResult struct {
	// Blocks and Bytes count the blocks removed and their bytes.
	Blocks int
	Bytes  uint64
	// Roots are the recorded blobs (Roots) whose root block was removed: a peer stops
	// announcing them.
	Roots []cid.Cid
	// Kept is the number of blocks left.
	Kept int
}

// Live lists the roots that references outside the store keep: blobs that datoms, DOIP objects
// or DWN records of held cores point to. An error aborts the GC before it removes anything.
type Live = iter.Seq2[cid.Cid, error]

// LiveRoots is a Live over a fixed list.
func LiveRoots(roots ...cid.Cid) Live {
	return func(yield func(cid.Cid, error) bool) {
		for _, c := range roots {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// gcBatch is how many blocks GC removes under one hold of the store's lock.
const gcBatch = 256

// GC removes every block that is not part of a pinned blob, of a blob live yields (live may be
// nil), or held by a lease, and reports what it freed. Blocks that an Add or a fetch writes
// while GC runs are kept. Blobs that are only partly held keep the part held. One GC runs at a
// time; a second waits.
func (s *Store) GC(ctx context.Context, live Live) (GCResult, error) {
	var res GCResult
	if err := s.begin(); err != nil {
		return res, err
	}
	defer s.end()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()

	g := &gcState{protect: map[string]struct{}{}}
	s.mu.Lock()
	for l := range s.leases {
		for k := range l.held {
			g.protect[k] = struct{}{}
		}
	}
	s.gc = g
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.gc = nil
		s.mu.Unlock()
	}()

	// Mark.
	marked := map[string]struct{}{}
	mark := func(root cid.Cid) error {
		if err := CheckCID(root); err != nil {
			return fmt.Errorf("blob GC: live root: %w", err)
		}
		return s.walk(ctx, Want{CID: root}, nil, func(w Want, n *Node) error {
			if n != nil {
				marked[mhKey(w.CID.Hash())] = struct{}{}
			}
			return nil
		})
	}
	pins, err := s.Pins(ctx)
	if err != nil {
		return res, fmt.Errorf("blob GC: %w", err)
	}
	for _, p := range pins {
		if err := mark(p); err != nil {
			return res, fmt.Errorf("blob GC: pinned %s: %w", p, err)
		}
	}
	if live != nil {
		for c, err := range live {
			if err != nil {
				return res, fmt.Errorf("blob GC: live set: %w", err)
			}
			if err := mark(c); err != nil {
				return res, fmt.Errorf("blob GC: live %s: %w", c, err)
			}
		}
	}

	// Sweep.
	keys, err := s.bs.AllKeysChan(ctx)
	if err != nil {
		return res, fmt.Errorf("blob GC: list blocks: %w", err)
	}
	var batch []cid.Cid
	sweep := func() error {
		defer func() { batch = batch[:0] }()
		sizes := make([]int, len(batch))
		for i, c := range batch {
			n, err := s.bs.GetSize(ctx, c)
			if err != nil && !ipld.IsNotFound(err) {
				return fmt.Errorf("blob GC: size of %s: %w", c, err)
			}
			sizes[i] = max(n, 0)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, c := range batch {
			if _, ok := g.protect[mhKey(c.Hash())]; ok {
				res.Kept++
				continue
			}
			if err := s.bs.DeleteBlock(ctx, c); err != nil {
				return fmt.Errorf("blob GC: remove %s: %w", c, err)
			}
			res.Blocks++
			res.Bytes += uint64(sizes[i])
		}
		return nil
	}
	for c := range keys {
		if _, ok := marked[mhKey(c.Hash())]; ok {
			res.Kept++
			continue
		}
		batch = append(batch, c)
		if len(batch) == gcBatch {
			if err := sweep(); err != nil {
				drain(keys)
				return res, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := sweep(); err != nil {
		return res, err
	}

	// Forget the recorded blobs whose root went.
	var gone []ds.Key
	err = s.scan(ctx, rootsPrefix, func(k ds.Key, v []byte) error {
		r, err := decodeRoot(v)
		if err != nil {
			return err
		}
		ok, err := s.bs.Has(ctx, r.CID)
		if err != nil {
			return err
		}
		if !ok {
			gone = append(gone, k)
			res.Roots = append(res.Roots, r.CID)
		}
		return nil
	})
	if err == nil {
		for _, k := range gone {
			if derr := s.meta.Delete(ctx, k); derr != nil {
				err = errors.Join(err, derr)
			}
			if derr := s.meta.Delete(ctx, unlistedPrefix.Child(ds.NewKey(k.BaseNamespace()))); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}
	if len(gone) > 0 {
		s.signalChange()
	}
	if err != nil {
		return res, fmt.Errorf("blob GC: forget removed blobs: %w", err)
	}
	return res, nil
}

func drain(ch <-chan cid.Cid) {
	for range ch {
	}
}
