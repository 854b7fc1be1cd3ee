package blobs

import (
	"context"
	"fmt"
	"iter"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// A Lease keeps GC off the blocks it holds until Release: the blocks an Add or a fetch writes,
// and the blobs a caller is about to reference (Keep). A block is held before it is written, so
// a GC that runs meanwhile either sees it held or has already removed it, and then the write
// stores it again.
//
// A fetcher writes the blocks it receives through a lease (PutNode), then calls Commit to check
// that the blob is complete and record it. A lease is safe for concurrent use.
type Lease struct {
	s        *Store
	held     map[string]struct{} // guarded by s.mu
	released bool                // guarded by s.mu
}

// NewLease returns an empty lease. Release it when done.
func (s *Store) NewLease() *Lease {
	l := &Lease{s: s, held: map[string]struct{}{}}
	s.mu.Lock()
	s.leases[l] = struct{}{}
	s.mu.Unlock()
	return l
}

// hold protects the block with multihash h.
func (l *Lease) hold(h mh.Multihash) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.released {
		return ErrReleased
	}
	k := mhKey(h)
	l.held[k] = struct{}{}
	if g := l.s.gc; g != nil {
		g.protect[k] = struct{}{}
	}
	return nil
}

// Release ends the lease; its blocks are collectable again unless pinned or live. Releasing
// twice does nothing.
func (l *Lease) Release() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	l.held = nil
	delete(l.s.leases, l)
}

// Len returns the number of blocks the lease holds.
func (l *Lease) Len() int {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return len(l.held)
}

// Put checks that data hashes to c and stores it under the lease. It checks nothing about the
// block's place in a DAG: a fetcher decodes untrusted blocks with DecodeWant and stores them
// with PutNode.
func (l *Lease) Put(ctx context.Context, c cid.Cid, data []byte) error {
	if err := Verify(c, data); err != nil {
		return err
	}
	if len(data) > l.s.lim.MaxBlockSize {
		return fmt.Errorf("%w: block %s has %d bytes", ErrTooLarge, c, len(data))
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCID, err)
	}
	return l.putMany(ctx, []blocks.Block{b})
}

// PutNode stores nodes that Decode or DecodeWant returned, under the lease, in one batch.
func (l *Lease) PutNode(ctx context.Context, nodes ...Node) error {
	bs := make([]blocks.Block, 0, len(nodes))
	for _, n := range nodes {
		if !n.decoded {
			return fmt.Errorf("%w: node %s was not decoded from a block", ErrInvalidOption, n.CID)
		}
		b, err := blocks.NewBlockWithCid(n.block, n.CID)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidCID, err)
		}
		bs = append(bs, b)
	}
	return l.putMany(ctx, bs)
}

func (l *Lease) putMany(ctx context.Context, bs []blocks.Block) error {
	if err := l.s.begin(); err != nil {
		return err
	}
	defer l.s.end()
	for _, b := range bs {
		if err := l.hold(b.Cid().Hash()); err != nil {
			return err
		}
	}
	if err := l.s.bs.PutMany(ctx, bs); err != nil {
		return fmt.Errorf("blob store: write %d blocks: %w", len(bs), err)
	}
	return nil
}

// Keep holds every block of the held DAG under root, so that a caller can reference a blob the
// store already holds without a GC removing it in between. It returns ErrIncomplete if a block
// is missing (the blocks found are held all the same).
func (l *Lease) Keep(ctx context.Context, root cid.Cid) error {
	if err := l.s.begin(); err != nil {
		return err
	}
	defer l.s.end()
	missing := 0
	err := l.s.walk(ctx, Want{CID: root}, l, func(w Want, n *Node) error {
		if n == nil {
			missing++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if missing > 0 {
		return fmt.Errorf("%w: %s lacks %d blocks", ErrIncomplete, root, missing)
	}
	return nil
}

// Missing yields the blocks of the DAG under root that the store lacks, in file order, and
// holds every block of it that the store has, so that a GC cannot remove them before the fetch
// that resumes from them ends. It reads the held inner nodes and checks them against the
// limits; a block that fails the checks ends it with an error.
func (l *Lease) Missing(ctx context.Context, root Want) iter.Seq2[Want, error] {
	return l.s.missing(ctx, root, l)
}

// CommitOption configures Commit and Add.
type CommitOption func(*commitConfig)

type commitConfig struct{ pin, unlisted bool }

// Pinned pins the blob as it is recorded.
func Pinned() CommitOption { return func(c *commitConfig) { c.pin = true } }

// Unlisted records the blob as held but not to be announced (ListedRoots leaves it out): data
// that only those told its CID may learn of, such as a DWN record's. A blob recorded listed
// before, or later, is listed.
func Unlisted() CommitOption { return func(c *commitConfig) { c.unlisted = true } }

// Commit checks that the store holds every block of the blob root, records it among the held
// blobs (Roots) and, with Pinned, pins it. It returns ErrIncomplete if a block is missing. A
// fetcher calls it when its last block is written, before releasing the lease.
func (l *Lease) Commit(ctx context.Context, root cid.Cid, opts ...CommitOption) (Ref, error) {
	if err := l.s.begin(); err != nil {
		return Ref{}, err
	}
	defer l.s.end()
	var cc commitConfig
	for _, o := range opts {
		o(&cc)
	}
	var size uint64
	missing := 0
	err := l.s.walk(ctx, Want{CID: root}, l, func(w Want, n *Node) error {
		if n == nil {
			missing++
			return nil
		}
		if w.Depth == 0 {
			size = n.FileSize
		}
		return nil
	})
	if err != nil {
		return Ref{}, err
	}
	if missing > 0 {
		return Ref{}, fmt.Errorf("%w: %s lacks %d blocks", ErrIncomplete, root, missing)
	}
	ref := Ref{CID: root, Size: size}
	if err := l.s.record(ctx, ref, cc); err != nil {
		return Ref{}, err
	}
	return ref, nil
}
