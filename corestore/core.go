package corestore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// Core is one signed append-only log. A writable core holds its key pair; a replica holds only
// what proofs have shown to belong to its owner's signed tree. All methods are safe for
// concurrent use; writes are serialized per core.
type Core struct {
	s   *Store
	id  uint64
	key Key
	dk  Key
	kp  *KeyPair

	mu sync.Mutex // serializes writes

	hdr atomic.Pointer[header] // the current header; never mutated, replaced on each write

	enc atomic.Pointer[encState] // nil: not known to be encrypted (see encryption_core.go)

	cacheMu sync.RWMutex
	pages   map[uint64]*nodePage // cached node pages; never mutated once cached
	bits    map[uint64]*bitPage  // loaded bitfield pages; never mutated once loaded
	bitsAll bool                 // every bitfield page has been loaded

	notifyMu sync.Mutex
	notify   chan struct{}
	hadData  atomic.Bool // the length has been above 0: the store was told (Store.Changed)
	gone     atomic.Bool // deleted from the store: writes fail

	qmu     sync.Mutex
	queue   []*appendReq
	leading bool
}

// appendReq is one caller's Append waiting in the core's queue. Concurrent appends to one core
// are grouped: a leader takes every queued request and commits them as one signed append.
type appendReq struct {
	blocks [][]byte
	wake   chan struct{} // closed when processed, or when this request must lead
	done   bool          // processed; length, ticket and err are set
	length uint64
	ticket uint64
	err    error
}

func newCore(ctx context.Context, s *Store, id uint64, h *header) (*Core, error) {
	c := &Core{s: s, id: id, key: h.Key, dk: DiscoveryKey(h.Key), pages: map[uint64]*nodePage{},
		bits: map[uint64]*bitPage{}, notify: make(chan struct{})}
	if h.Name != "" {
		kp := s.keyPairFor(h.Name)
		if DefaultManifest(kp.PublicKey).Key() != h.Key {
			return nil, fmt.Errorf("core %s (%q): %w: name does not derive this key with the store's primary key", h.Key, h.Name, ErrCorrupt)
		}
		c.kp = &kp
	}
	c.hdr.Store(h)
	c.hadData.Store(h.Tree.Length > 0)
	if err := c.loadEncryption(); err != nil {
		return nil, err
	}
	if h.CleanupTo > h.CleanupFrom {
		c.mu.Lock()
		err := c.finishCleanup(ctx)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Key returns the core key.
func (c *Core) Key() Key { return c.key }

// DiscoveryKey returns the key the core is announced under.
func (c *Core) DiscoveryKey() Key { return c.dk }

// Writable reports whether this store holds the core's secret key.
func (c *Core) Writable() bool { return c.kp != nil }

// Name returns the name of a named writable core, or "".
func (c *Core) Name() string { return c.hdr.Load().Name }

// Info is a snapshot of a core's state.
type Info struct {
	Key          Key
	DiscoveryKey Key
	Name         string
	Writable     bool
	Length       uint64
	ByteLength   uint64
	Fork         uint64
	TreeHash     Hash
	Signature    []byte
	// Frozen is set, with the reason, when two signed trees conflicted.
	Frozen string
	// Encrypted is set when the core is known to be encrypted; ByteLength then counts plaintext,
	// as Hypercore's does (the tree's byte length counts the stored bytes, padding included).
	Encrypted bool
	// EncryptionKeyHeld is set when this store holds the block key, so reads return plaintext.
	EncryptionKeyHeld bool
	// KeyCheck is the key check value of the core's block key; zero when not known.
	KeyCheck KeyCheck
}

// Info returns the core's current state. It reads no storage.
func (c *Core) Info() Info {
	h := c.hdr.Load()
	in := Info{Key: c.key, DiscoveryKey: c.dk, Name: h.Name, Writable: c.kp != nil, Length: h.Tree.Length,
		ByteLength: h.Tree.ByteLength, Fork: h.Tree.Fork, TreeHash: h.Tree.Hash(), Signature: slices.Clone(h.Tree.Signature)}
	if h.Conflict != nil {
		in.Frozen = fmt.Sprintf("a second signed tree of length %d at fork %d has tree hash %s", h.Conflict.Length, h.Conflict.Fork, h.Conflict.TreeHash)
	}
	c.encryptionInfo(&in)
	return in
}

// Tree returns a copy of the core's current signed tree.
func (c *Core) Tree() Tree { return c.hdr.Load().Tree.clone() }

// Length returns the core's signed length.
func (c *Core) Length() uint64 { return c.hdr.Load().Tree.Length }

// Manifest returns the core's manifest, or nil for a replica that has not yet received it.
func (c *Core) Manifest() *Manifest { return c.hdr.Load().Manifest }

// Updated returns a channel that is closed at the next change of the core's state: an append, a
// verified download, a truncation, a clear or a conflict.
func (c *Core) Updated() <-chan struct{} {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	return c.notify
}

func (c *Core) changed() {
	c.notifyMu.Lock()
	close(c.notify)
	c.notify = make(chan struct{})
	c.notifyMu.Unlock()
	if c.Length() > 0 && !c.hadData.Swap(true) {
		c.s.signalChange()
	}
}

func (c *Core) errf(format string, args ...any) error {
	return fmt.Errorf("core %s: "+format, append([]any{c.key}, args...)...)
}

// maxTxnBytes and maxTxnBlocks bound one append transaction; a larger batch is committed as
// several appends, each atomic and signed, so a crash still leaves a valid prefix. maxTxnBlocks
// keeps the tree nodes of one transaction within what Badger takes in one, 15% of a memtable
// (about 30,000 one-byte blocks fit with the store's 16 MiB memtables, see storeMemTableSize;
// 31,000 did not).
const (
	maxTxnBytes    = 64 << 20
	maxTxnBlocks   = 1 << 14
	maxSegmentData = 8 << 20
)

// Append adds blocks to a writable core and returns the length just after them. The blocks of one
// call land contiguously and atomically (a call larger than one transaction, see maxTxnBlocks
// and maxTxnBytes, as several atomic appends). A block larger than MaxBlockSize (less
// EncryptionPadding for an encrypted core) is ErrBlockTooLarge and an append to a replica
// ErrReadOnly; either way nothing is appended. When
// the store is durable it returns once the append is on disk. Concurrent appends to a core are
// grouped into one signed, committed append, and concurrent commits share one sync.
func (c *Core) Append(ctx context.Context, blocks ...[]byte) (uint64, error) {
	if c.kp == nil {
		return 0, c.errf("append: %w", ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(blocks) == 0 {
		return c.Length(), nil
	}
	limit := MaxBlockSize
	if c.enc.Load() != nil {
		limit -= EncryptionPadding // the stored block carries the padding
	}
	for i, b := range blocks {
		if len(b) > limit {
			return 0, c.errf("append: block %d of %d in the call is %d bytes, more than %d: %w", i, len(blocks), len(b), limit, ErrBlockTooLarge)
		}
	}
	req := &appendReq{blocks: blocks, wake: make(chan struct{})}
	if c.s.durable {
		c.s.syncer.begin()
	}
	c.qmu.Lock()
	c.queue = append(c.queue, req)
	lead := !c.leading
	c.leading = true
	c.qmu.Unlock()
	if !lead {
		<-req.wake // a queued append is committed whatever happens to ctx, so wait for it
	}
	if !req.done {
		c.qmu.Lock()
		batch := c.queue
		c.queue = nil
		c.qmu.Unlock()
		c.appendBatch(batch, req)
		c.qmu.Lock()
		if len(c.queue) > 0 {
			close(c.queue[0].wake) // hand over: the next waiter leads
		} else {
			c.leading = false
		}
		c.qmu.Unlock()
		c.changed()
	}
	if c.s.durable {
		c.s.syncer.end()
	}
	if req.err != nil {
		return 0, req.err
	}
	if c.s.durable {
		if err := c.s.syncer.wait(ctx, req.ticket); err != nil {
			return 0, c.errf("sync append: %w", err)
		}
	}
	return req.length, nil
}

// appendBatch commits queued requests, grouping whole requests up to the transaction limits, and
// wakes every request but self.
func (c *Core) appendBatch(batch []*appendReq, self *appendReq) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(batch) > 0 {
		// Take whole requests while they fit; a single oversized request is split.
		n, blocks, size := 0, 0, 0
		for n < len(batch) {
			rb, rs := len(batch[n].blocks), 0
			for _, b := range batch[n].blocks {
				rs += len(b)
			}
			if n > 0 && (blocks+rb > maxTxnBlocks || size+rs > maxTxnBytes) {
				break
			}
			n, blocks, size = n+1, blocks+rb, size+rs
		}
		group := batch[:n]
		batch = batch[n:]
		var all [][]byte
		if n == 1 {
			all = group[0].blocks
		} else {
			all = make([][]byte, 0, blocks)
			for _, r := range group {
				all = append(all, r.blocks...)
			}
		}
		start := c.Length()
		var ticket uint64
		var err error
		for rest := all; len(rest) > 0 && err == nil; {
			k, sz := 0, 0
			for k < len(rest) && k < maxTxnBlocks && (k == 0 || sz+len(rest[k]) <= maxTxnBytes) {
				sz += len(rest[k])
				k++
			}
			ticket, err = c.appendLocked(rest[:k])
			rest = rest[k:]
		}
		pos := start
		for _, r := range group {
			pos += uint64(len(r.blocks))
			r.length, r.ticket, r.err, r.done = pos, ticket, err, true
			if r != self {
				close(r.wake)
			}
		}
	}
}

func (c *Core) appendLocked(blocks [][]byte) (uint64, error) {
	h := c.hdr.Load()
	if h.Conflict != nil {
		return 0, c.errf("append: %w", ErrFrozen)
	}
	blocks, err := c.encryptForAppend(h.Tree.Length, h.Tree.Fork, blocks)
	if err != nil {
		return 0, err
	}
	for i, b := range blocks {
		if uint64(len(b)) > maxTxnBytes {
			return 0, c.errf("append block %d: %w: %d bytes", h.Tree.Length+uint64(i), ErrTooLarge, len(b))
		}
	}
	tree, nodes := appendToTree(h.Tree, blocks)
	tree.Signature = sign(*c.kp, c.key, tree)
	nh := *h
	nh.Tree = tree
	w := c.newWrite()
	if err := w.putNodes(nodes); err != nil {
		return 0, err
	}
	// A writable core's bitfield pages are implicit (every block below the length is present) until
	// a Clear or truncation writes one; only such explicit pages need the new bits.
	for p := h.Tree.Length / bitsPerPage; p*bitsPerPage < tree.Length; p++ {
		bp, err := c.bitPage(p)
		if err != nil {
			return 0, err
		}
		if bp != nil {
			lo, hi := max(h.Tree.Length, p*bitsPerPage), min(tree.Length, (p+1)*bitsPerPage)
			if err := w.setBits(lo, hi, true); err != nil {
				return 0, err
			}
		}
	}
	err = c.commit(func(txn *badger.Txn) error {
		if err := c.putSegments(txn, h.Tree.Length, blocks); err != nil {
			return err
		}
		return w.flush(txn, &nh)
	})
	if err != nil {
		return 0, c.errf("append at %d: %w", h.Tree.Length, err)
	}
	w.install(&nh)
	return c.s.syncer.ticket(), nil
}

// commit runs fn in one write transaction and commits it, if the disk reserve allows a write.
func (c *Core) commit(fn func(txn *badger.Txn) error) error {
	return c.commitIf(func() error { return c.s.space.check(0) }, fn)
}

// commitFreeing is commit for a write that frees space (a clear, a truncation): it goes ahead on a
// full disk as long as Badger has room to log it.
func (c *Core) commitFreeing(fn func(txn *badger.Txn) error) error {
	return c.commitIf(c.s.space.checkFreeing, fn)
}

func (c *Core) commitIf(check func() error, fn func(txn *badger.Txn) error) error {
	if c.gone.Load() {
		return c.errf("%w: it was deleted", ErrNotFound)
	}
	if err := check(); err != nil {
		return err
	}
	txn := c.s.db.NewTransaction(true)
	defer txn.Discard()
	if err := fn(txn); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return err
	}
	return txn.Commit()
}

// eachSegment calls f for each run of blocks, the core's blocks from start on, that one segment
// holds: at most maxSegmentData bytes, or a single larger block.
func eachSegment(start uint64, blocks [][]byte, f func(start uint64, blocks [][]byte, size int) error) error {
	for len(blocks) > 0 {
		n, size := 0, 0
		for n < len(blocks) && (n == 0 || size+len(blocks[n]) <= maxSegmentData) {
			size += len(blocks[n])
			n++
		}
		if err := f(start, blocks[:n], size); err != nil {
			return err
		}
		start, blocks = start+uint64(n), blocks[n:]
	}
	return nil
}

// putSegments stores blocks, the core's blocks from start on, in inline segments.
func (c *Core) putSegments(txn *badger.Txn, start uint64, blocks [][]byte) error {
	return eachSegment(start, blocks, func(start uint64, blocks [][]byte, _ int) error {
		return txn.Set(posKey(kindSegment, c.id, start), encodeSegment(blocks))
	})
}

// putExternal writes blocks, the core's blocks from start on, to the store's data file, and
// records them in txn: external segments that point to them, and an unsynced record until the
// data file is synced. It returns the extent written.
func (c *Core) putExternal(txn *badger.Txn, start uint64, blocks [][]byte) (extent, error) {
	size := 0
	for k, b := range blocks {
		if len(b) > maxTxnBytes {
			return extent{}, fmt.Errorf("block %d: %w: %d bytes", start+uint64(k), ErrTooLarge, len(b))
		}
		size += len(b)
	}
	if size == 0 {
		// Nothing to write: empty blocks are stored inline, and no write shares the offset.
		return extent{}, c.putSegments(txn, start, blocks)
	}
	off, err := c.s.data.append(blocks)
	if err != nil {
		return extent{}, err
	}
	e := extent{off, int64(size)}
	u := unsynced{ID: c.id, Start: start, Count: uint64(len(blocks)), Size: uint64(size)}
	if err := txn.Set(unsyncedKey(uint64(off)), u.encode()); err != nil {
		return e, err
	}
	return e, eachSegment(start, blocks, func(start uint64, blocks [][]byte, size int) error {
		err := txn.Set(posKey(kindSegment, c.id, start), encodeExternalSegment(blocks, uint64(off)))
		off += int64(size)
		return err
	})
}

// write collects the node and bitfield pages one transaction changes, copy-on-write, so the
// cache changes only after the commit succeeds.
type write struct {
	c     *Core
	pages map[uint64]*nodePage
	bits  map[uint64]*bitPage
	dropP []uint64 // node pages to delete
	dropB []uint64 // bitfield pages to delete
}

func (c *Core) newWrite() *write {
	return &write{c: c, pages: map[uint64]*nodePage{}, bits: map[uint64]*bitPage{}}
}

func (w *write) page(p uint64) (*nodePage, error) {
	if pg, ok := w.pages[p]; ok {
		return pg, nil
	}
	old, err := w.c.nodePage(p)
	if err != nil {
		return nil, err
	}
	pg := new(nodePage)
	if old != nil {
		*pg = *old
	}
	w.pages[p] = pg
	return pg, nil
}

func (w *write) putNodes(nodes []Node) error {
	for _, n := range nodes {
		pg, err := w.page(n.Index / nodesPerPage)
		if err != nil {
			return err
		}
		pg.set(uint(n.Index%nodesPerPage), n)
	}
	return nil
}

func (w *write) bitPage(p uint64) (*bitPage, error) {
	if bp, ok := w.bits[p]; ok {
		return bp, nil
	}
	old, err := w.c.bitPage(p)
	if err != nil {
		return nil, err
	}
	bp := new(bitPage)
	if old != nil {
		*bp = *old
	} else if w.c.kp != nil {
		// Materialize an implicit page of a writable core: every block below the length is present.
		length := w.c.Length()
		if lo := p * bitsPerPage; length > lo {
			bp.setRange(0, min(length-lo, bitsPerPage), true)
		}
	}
	w.bits[p] = bp
	return bp, nil
}

func (w *write) setBits(lo, hi uint64, v bool) error {
	for lo < hi {
		p := lo / bitsPerPage
		end := min(hi, (p+1)*bitsPerPage)
		bp, err := w.bitPage(p)
		if err != nil {
			return err
		}
		bp.setRange(lo-p*bitsPerPage, end-p*bitsPerPage, v)
		lo = end
	}
	return nil
}

func (w *write) flush(txn *badger.Txn, h *header) error {
	for p, pg := range w.pages {
		var err error
		if pg.mask == 0 {
			err = txn.Delete(posKey(kindNodePage, w.c.id, p))
		} else {
			err = txn.Set(posKey(kindNodePage, w.c.id, p), pg.encode())
		}
		if err != nil {
			return err
		}
	}
	for _, p := range w.dropP {
		if err := txn.Delete(posKey(kindNodePage, w.c.id, p)); err != nil {
			return err
		}
	}
	for p, bp := range w.bits {
		if err := txn.Set(posKey(kindBitfield, w.c.id, p), bp.encode()); err != nil {
			return err
		}
	}
	for _, p := range w.dropB {
		if err := txn.Delete(posKey(kindBitfield, w.c.id, p)); err != nil {
			return err
		}
	}
	if h != nil {
		return txn.Set(coreRecordKey(kindHeader, w.c.id), h.encode())
	}
	return nil
}

// install publishes a committed write: the pages into the caches and h as the new header.
func (w *write) install(h *header) {
	c := w.c
	c.cacheMu.Lock()
	for p, pg := range w.pages {
		c.cachePageLocked(p, pg)
	}
	for _, p := range w.dropP {
		c.uncachePageLocked(p)
	}
	for p, bp := range w.bits {
		c.bits[p] = bp
	}
	for _, p := range w.dropB {
		c.bits[p] = nil // no record: implicit (writable) or empty (replica)
	}
	c.cacheMu.Unlock()
	if h != nil {
		c.hdr.Store(h)
	}
}

// nodePage returns the node page p, or nil when none is stored.
func (c *Core) nodePage(p uint64) (*nodePage, error) {
	c.cacheMu.RLock()
	pg, ok := c.pages[p]
	c.cacheMu.RUnlock()
	if ok {
		return pg, nil
	}
	var b []byte
	err := c.s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(posKey(kindNodePage, c.id, p))
		if err != nil {
			return err
		}
		b, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, c.errf("read nodes %d..%d: %w", p*nodesPerPage, p*nodesPerPage+nodesPerPage-1, err)
	}
	pg, err = decodeNodePage(b)
	if err != nil {
		return nil, c.errf("nodes %d..%d: %w: %w", p*nodesPerPage, p*nodesPerPage+nodesPerPage-1, ErrCorrupt, err)
	}
	c.cacheMu.Lock()
	c.cachePageLocked(p, pg)
	c.cacheMu.Unlock()
	return pg, nil
}

// cachePageLocked caches a node page within the store-wide page budget; when the budget is spent
// the core drops a quarter of its own pages first.
func (c *Core) cachePageLocked(p uint64, pg *nodePage) {
	if _, ok := c.pages[p]; !ok {
		if c.s.cachedPages.Load() >= c.s.maxCachedPages {
			drop := len(c.pages)/4 + 1
			for k := range c.pages {
				if drop == 0 {
					break
				}
				c.uncachePageLocked(k)
				drop--
			}
		}
		c.s.cachedPages.Add(1)
	}
	c.pages[p] = pg
}

func (c *Core) uncachePageLocked(p uint64) {
	if _, ok := c.pages[p]; ok {
		delete(c.pages, p)
		c.s.cachedPages.Add(-1)
	}
}

// node returns stored node idx; ok is false when it is not stored.
func (c *Core) node(idx uint64) (Node, bool, error) {
	pg, err := c.nodePage(idx / nodesPerPage)
	if err != nil || pg == nil {
		return Node{}, false, err
	}
	size, h, ok := pg.get(uint(idx % nodesPerPage))
	return Node{Index: idx, Size: size, Hash: h}, ok, nil
}

// rootsAt returns the stored roots of a tree of the given length.
func (c *Core) rootsAt(length uint64) ([]Node, error) {
	h := c.hdr.Load()
	if length == h.Tree.Length {
		return h.Tree.Roots, nil
	}
	if length > h.Tree.Length {
		return nil, c.errf("roots of length %d: %w: local length is %d", length, ErrOutOfRange, h.Tree.Length)
	}
	var roots []Node
	for _, idx := range fullRoots(length) {
		n, ok, err := c.node(idx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, c.errf("root %d of length %d: %w", idx, length, ErrNotAvailable)
		}
		roots = append(roots, n)
	}
	return roots, nil
}

// RootsHeldUpTo returns the greatest length, at most n, whose tree roots this core holds, so that
// an upgrade proven from that length can be checked here. A sparse replica holds the roots of few
// lengths; 0 always qualifies.
func (c *Core) RootsHeldUpTo(n uint64) uint64 {
	h := c.hdr.Load()
	n = min(n, h.Tree.Length)
	if n == h.Tree.Length {
		return n
	}
	held := func(idx uint64) bool {
		for _, r := range h.Tree.Roots {
			if r.Index == idx {
				return true
			}
		}
		_, ok, err := c.node(idx)
		return err == nil && ok
	}
	// The roots of a length are the full subtrees of its binary decomposition, largest first: so
	// taking each subtree that is held, from the largest size down, gives the greatest length.
	var length uint64
	for size := uint64(1) << 62; size > 0; size >>= 1 {
		if length+size <= n && held(2*length+size-1) {
			length += size
		}
	}
	return length
}

// bitPage returns bitfield page p, or nil when none is stored. A missing page means "every block
// below the length" for a writable core and "no block" for a replica.
func (c *Core) bitPage(p uint64) (*bitPage, error) {
	c.cacheMu.RLock()
	bp, ok := c.bits[p]
	all := c.bitsAll
	c.cacheMu.RUnlock()
	if ok || all {
		return bp, nil
	}
	var b []byte
	err := c.s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(posKey(kindBitfield, c.id, p))
		if err != nil {
			return err
		}
		b, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		bp = nil
	} else if err != nil {
		return nil, c.errf("read bitfield page %d: %w", p, err)
	} else if bp, err = decodeBitPage(b); err != nil {
		return nil, c.errf("bitfield for blocks %d..: %w: %w", p*bitsPerPage, ErrCorrupt, err)
	}
	c.cacheMu.Lock()
	if cur, raced := c.bits[p]; raced {
		bp = cur
	} else {
		c.bits[p] = bp
	}
	c.cacheMu.Unlock()
	return bp, nil
}

// Has reports whether block i is stored locally.
func (c *Core) Has(i uint64) bool {
	if i >= c.Length() {
		return false
	}
	bp, err := c.bitPage(i / bitsPerPage)
	if err != nil {
		return false
	}
	if bp == nil {
		return c.kp != nil
	}
	return bp.get(i % bitsPerPage)
}

// FirstMissing returns the first block at or after from, and before the core's length, that is
// not stored locally; ok is false when every block in [from, length) is stored.
func (c *Core) FirstMissing(from uint64) (uint64, bool) {
	length := c.Length()
	for from < length {
		p := from / bitsPerPage
		bp, err := c.bitPage(p)
		if err != nil || (bp == nil && c.kp == nil) {
			return from, true
		}
		if bp == nil {
			from = (p + 1) * bitsPerPage
			continue
		}
		if z, ok := bp.firstZero(from % bitsPerPage); ok {
			if i := p*bitsPerPage + z; i < length {
				return i, true
			}
			return 0, false
		}
		from = (p + 1) * bitsPerPage
	}
	return 0, false
}

// Contiguous returns the number of blocks stored from block 0 without a gap.
func (c *Core) Contiguous() uint64 {
	if i, ok := c.FirstMissing(0); ok {
		return i
	}
	return c.Length()
}

// Get returns block i. It fails with ErrOutOfRange past the length and ErrNotAvailable when the
// block is not stored here. Every block is checked against its tree leaf before it is returned.
func (c *Core) Get(ctx context.Context, i uint64) ([]byte, error) {
	bs, err := c.GetRange(ctx, i, i+1)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// GetRange returns blocks [start, end), all of which must be stored locally, each checked against
// its tree leaf. An encrypted core returns plaintext, or fails with ErrNoEncryptionKey when the key
// is not held; GetRangeStored returns the stored bytes.
func (c *Core) GetRange(ctx context.Context, start, end uint64) ([][]byte, error) {
	es, err := c.readable(start, end)
	if err != nil {
		return nil, err
	}
	bs, err := c.getRange(ctx, start, end, true)
	if err != nil {
		return nil, err
	}
	return c.plaintext(es, start, c.hdr.Load().Tree.Fork, bs)
}

// getRange reads blocks [start, end); with verify it checks each against its tree leaf. Proofs
// read without it: the peer that receives a proof hashes every block anyway, and rejects a
// corrupt one.
func (c *Core) getRange(ctx context.Context, start, end uint64, verify bool) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := c.hdr.Load()
	if end > h.Tree.Length || start > end {
		return nil, c.errf("blocks [%d, %d): %w: length is %d", start, end, ErrOutOfRange, h.Tree.Length)
	}
	for i := start; i < end; i++ {
		if !c.Has(i) {
			return nil, c.errf("block %d: %w", i, ErrNotAvailable)
		}
	}
	out := make([][]byte, 0, end-start)
	// Holding the data file's read lock from the snapshot to the reads keeps the blocks the
	// snapshot points to from being punched out meanwhile.
	c.s.data.rw.RLock()
	defer c.s.data.rw.RUnlock()
	err := c.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: coreRecordKey(kindSegment, c.id)})
		defer it.Close()
		for i := start; i < end; {
			it.Seek(posKey(kindSegment, c.id, i))
			if !it.Valid() {
				return fmt.Errorf("block %d: %w: no segment holds it", i, ErrCorrupt)
			}
			segStart, _ := posFromKey(it.Item().Key())
			err := it.Item().Value(func(seg []byte) error {
				n, err := segmentCount(seg)
				if err != nil {
					return fmt.Errorf("segment at %d: %w: %w", segStart, ErrCorrupt, err)
				}
				if i-segStart >= uint64(n) {
					return fmt.Errorf("block %d: %w: segment at %d has only %d blocks", i, ErrCorrupt, segStart, n)
				}
				// The blocks read from one segment are copied out in one allocation: seg is
				// Badger's, valid only inside the transaction.
				// segmentCount checked that the offsets never decrease and stay within the data.
				first, last := int(i-segStart), int(min(end-segStart, uint64(n)))
				base, top := segmentOffset(seg, first), segmentOffset(seg, last)
				data := make([]byte, top-base)
				if file, ext := segmentFile(seg, n); ext {
					if err := c.s.data.readAt(data, int64(file)+int64(base)); err != nil {
						return fmt.Errorf("blocks [%d, %d): %w", i, segStart+uint64(last), err)
					}
				} else {
					hdr := uint32(4 + 4*(n+1))
					copy(data, seg[hdr+base:hdr+top])
				}
				for k := first; k < last; k++ {
					lo, hi := segmentOffset(seg, k)-base, segmentOffset(seg, k+1)-base
					out = append(out, data[lo:hi:hi])
				}
				i = segStart + uint64(last)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, c.errf("read: %w", err)
	}
	if !verify {
		return out, nil
	}
	for k, b := range out {
		i := start + uint64(k)
		leaf, ok, err := c.node(2 * i)
		if err != nil {
			return nil, err
		}
		if !ok || LeafNode(i, b) != leaf {
			return nil, c.errf("block %d: %w: it does not match its tree leaf", i, ErrCorrupt)
		}
	}
	return out, nil
}

// ProofRequest says what a peer wants proven.
type ProofRequest struct {
	// Start and End select blocks [Start, End); equal for none.
	Start, End uint64
	// Upgrade asks for the prover's newest signed tree. HaveFork and HaveLength are the
	// requester's tree; without Upgrade the blocks are proven against that tree.
	Upgrade              bool
	HaveFork, HaveLength uint64
	// NeedManifest asks for the manifest, for a requester that does not know the signer yet.
	NeedManifest bool
}

// Prove builds a proof for req from what this core stores. A replica proves what it holds.
func (c *Core) Prove(ctx context.Context, req ProofRequest) (*Proof, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := c.hdr.Load()
	if h.Conflict != nil {
		return nil, c.errf("prove: %w", ErrFrozen)
	}
	if req.End < req.Start {
		return nil, c.errf("prove [%d, %d): %w", req.Start, req.End, ErrOutOfRange)
	}
	var blocks [][]byte
	if req.End > req.Start {
		var err error
		if blocks, err = c.getRange(ctx, req.Start, req.End, false); err != nil {
			return nil, err
		}
	}
	var manifest []byte
	if req.NeedManifest && h.Manifest != nil {
		manifest = h.Manifest.Encode()
	}
	if req.Upgrade {
		from, err := c.upgradeFrom(h, req.HaveFork, req.HaveLength)
		if err != nil {
			return nil, err
		}
		return buildProof(c.node, h.Tree, req.Start, blocks, int64(from), manifest)
	}
	if req.HaveFork != h.Tree.Fork {
		return nil, c.errf("prove against fork %d: %w: local fork is %d; ask for an upgrade", req.HaveFork, ErrStale, h.Tree.Fork)
	}
	roots, err := c.rootsAt(req.HaveLength)
	if err != nil {
		return nil, err
	}
	p, err := buildProof(c.node, Tree{Fork: h.Tree.Fork, Length: req.HaveLength, Roots: roots}, req.Start, blocks, -1, nil)
	if err != nil {
		return nil, c.errf("prove [%d, %d): %w", req.Start, req.End, err)
	}
	return p, nil
}

// upgradeFrom returns the length a peer with tree (fork, length) shares with this core.
func (c *Core) upgradeFrom(h *header, fork, length uint64) (uint64, error) {
	switch {
	case fork > h.Tree.Fork:
		return 0, c.errf("peer is at fork %d, ahead of local fork %d: %w", fork, h.Tree.Fork, ErrStale)
	case fork == h.Tree.Fork && length >= h.Tree.Length:
		return 0, c.errf("peer already has length %d: %w", length, ErrStale)
	case fork == h.Tree.Fork:
		return length, nil
	}
	from := min(length, h.Tree.Length)
	for _, t := range h.Truncations {
		if t.Fork > fork {
			from = min(from, t.Length)
		}
	}
	return from, nil
}

// ApplyResult says what a verified proof changed.
type ApplyResult struct {
	// Upgraded is set when the proof moved the core to a newer signed tree.
	Upgraded bool
	// Truncated is set when that tree is a new fork and local data past the shared prefix was
	// dropped.
	Truncated bool
	// Blocks is the number of new blocks stored.
	Blocks int
}

// ApplyProof verifies a proof received from a peer and stores what it proves. Nothing is stored
// unless every block and node hashes up to a validly signed tree. Two validly signed trees of the
// same length and fork freeze the core and return ErrConflict.
//
// What it stores is committed atomically but not synced: see Flush.
func (c *Core) ApplyProof(ctx context.Context, p *Proof) (ApplyResult, error) {
	var res ApplyResult
	if c.kp != nil {
		return res, c.errf("apply proof: the core is writable here; its owner never takes remote data")
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// Hashing the blocks depends on nothing but the proof, so it is done before taking the core's
	// lock, while an earlier proof is being stored.
	leaves := leafNodes(p.Start, p.Blocks)
	c.mu.Lock()
	h := c.hdr.Load()
	if h.Conflict != nil {
		c.mu.Unlock()
		return res, c.errf("apply proof: %w", ErrFrozen)
	}
	v, err := verifyProofLeaves(c.key, h.Manifest, h.Tree, c.rootsAt, p, leaves)
	if errors.Is(err, ErrConflict) {
		ferr := c.freezeLocked(p.Upgrade)
		c.mu.Unlock()
		c.changed()
		if ferr != nil {
			return res, ferr
		}
		return res, c.errf("%w", err)
	}
	if err != nil {
		c.mu.Unlock()
		return res, c.errf("apply proof: %w", err)
	}
	nh := *h
	if v.upgraded {
		nh.Tree = v.tree
		nh.Manifest = v.manifest
		res.Upgraded = true
		if v.tree.Fork != h.Tree.Fork {
			// Record the fork point, so that this replica can prove the new fork to peers that are
			// still on the old one, as the owner does.
			nh.Truncations = append(slices.Clone(h.Truncations), truncation{Fork: v.tree.Fork, Length: v.from})
		}
		if v.tree.Fork != h.Tree.Fork && h.Tree.Length > v.from {
			if err := c.truncateLocked(ctx, v.from, nh); err != nil {
				c.mu.Unlock()
				return res, err
			}
			res.Truncated = true
			nh = *c.hdr.Load()
		}
	}
	w := c.newWrite()
	if err := w.putNodes(v.nodes); err != nil {
		c.mu.Unlock()
		return res, err
	}
	// Store only the blocks not already held, as runs, so segments never overlap live blocks.
	type run struct {
		start  uint64
		blocks [][]byte
	}
	var runs []run
	for k, b := range v.blocks {
		i := v.start + uint64(k)
		if c.Has(i) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].start+uint64(len(runs[n-1].blocks)) == i {
			runs[n-1].blocks = append(runs[n-1].blocks, b)
		} else {
			runs = append(runs, run{start: i, blocks: [][]byte{b}})
		}
		res.Blocks++
	}
	for _, r := range runs {
		if err := w.setBits(r.start, r.start+uint64(len(r.blocks)), true); err != nil {
			c.mu.Unlock()
			return res, err
		}
	}
	// The blocks go to the data file once the proof is verified, and the records that point to
	// them commit with the tree.
	var written []extent
	err = c.commit(func(txn *badger.Txn) error {
		for _, r := range runs {
			e, err := c.putExternal(txn, r.start, r.blocks)
			if e.n > 0 {
				written = append(written, e)
			}
			if err != nil {
				return err
			}
		}
		return w.flush(txn, &nh)
	})
	if err != nil {
		c.mu.Unlock()
		c.s.data.punch(written)
		return res, c.errf("store proof: %w", err)
	}
	w.install(&nh)
	c.s.syncer.ticket()
	c.mu.Unlock()
	c.changed()
	return res, nil
}

// Flush makes everything stored for this core so far durable, whatever the store's durability
// setting. Replicas call it when a download completes: ApplyProof does not wait for the disk,
// since a replicated block lost to a crash is simply fetched again, and one sync per download is
// far cheaper than one per proof (the kernel writes most of the data back while it arrives).
func (c *Core) Flush(ctx context.Context) error {
	if err := c.s.Sync(ctx); err != nil {
		return c.errf("flush: %w", err)
	}
	return nil
}

func (c *Core) freezeLocked(u *Upgrade) error {
	h := c.hdr.Load()
	nh := *h
	nh.Conflict = &conflict{Fork: u.Fork, Length: u.Length, TreeHash: TreeHash(u.Roots), Signature: slices.Clone(u.Signature)}
	if err := c.commit(func(txn *badger.Txn) error {
		return txn.Set(coreRecordKey(kindHeader, c.id), nh.encode())
	}); err != nil {
		return c.errf("freeze after conflict: %w", err)
	}
	c.hdr.Store(&nh)
	c.s.log.Error("core frozen: two validly signed trees conflict", "core", c.key.String(), "fork", u.Fork, "length", u.Length)
	return nil
}

// Truncate shortens a writable core to length n and increments its fork; the new tree is signed.
func (c *Core) Truncate(ctx context.Context, n uint64) error {
	if c.kp == nil {
		return c.errf("truncate: %w", ErrReadOnly)
	}
	c.mu.Lock()
	h := c.hdr.Load()
	if h.Conflict != nil {
		c.mu.Unlock()
		return c.errf("truncate: %w", ErrFrozen)
	}
	if n > h.Tree.Length {
		c.mu.Unlock()
		return c.errf("truncate to %d: %w: length is %d", n, ErrOutOfRange, h.Tree.Length)
	}
	roots, err := c.rootsAt(n)
	if err == nil {
		nh := *h
		nh.Tree = Tree{Fork: h.Tree.Fork + 1, Length: n, Roots: roots}
		for _, r := range roots {
			nh.Tree.ByteLength += r.Size
		}
		nh.Tree.Signature = sign(*c.kp, c.key, nh.Tree)
		nh.Truncations = append(slices.Clone(h.Truncations), truncation{Fork: nh.Tree.Fork, Length: n})
		err = c.truncateLocked(ctx, n, nh)
	}
	ticket := c.s.syncer.ticket()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.changed()
	if c.s.durable {
		return c.s.syncer.wait(ctx, ticket)
	}
	return nil
}

// truncateLocked drops every record of blocks at or past n and commits nh, the header that
// follows (a signed, truncated tree for the owner; the verified new-fork tree for a replica),
// together with the bitfield and the boundary nodes in one transaction. The remaining records are
// then removed in batches; a crash in between is finished by finishCleanup when the core opens.
func (c *Core) truncateLocked(ctx context.Context, n uint64, nh header) error {
	h := c.hdr.Load()
	old := h.Tree.Length
	nh.CleanupFrom, nh.CleanupTo = n, max(old, h.CleanupTo)
	w := c.newWrite()
	if err := w.setBits(n, min(old, (n/bitsPerPage+1)*bitsPerPage), false); err != nil {
		return err
	}
	for p := n/bitsPerPage + 1; p*bitsPerPage < old; p++ {
		w.dropB = append(w.dropB, p)
	}
	// Nodes below index 2n whose span reaches past block n are exactly the ancestors of leaf 2n.
	for idx, d := 2*n, 0; d < 62; d++ {
		idx = ftParent(idx)
		if idx < 2*n {
			pg, err := w.page(idx / nodesPerPage)
			if err != nil {
				return err
			}
			pg.mask &^= 1 << (idx % nodesPerPage)
		}
	}
	// The page holding index 2n keeps only its slots below 2n; later pages go in finishCleanup.
	pg, err := w.page(2 * n / nodesPerPage)
	if err != nil {
		return err
	}
	pg.mask &= (uint64(1) << (2 * n % nodesPerPage)) - 1
	var freed []extent
	err = c.commitFreeing(func(txn *badger.Txn) error {
		var err error
		if freed, err = c.trimSegmentAt(txn, n); err != nil {
			return err
		}
		return w.flush(txn, &nh)
	})
	if err != nil {
		return c.errf("truncate to %d: %w", n, err)
	}
	w.install(&nh)
	c.s.data.free(freed)
	return c.finishCleanup(ctx)
}

// trimSegmentAt rewrites the segment that starts before block n and runs past it so that it ends
// at n; it returns the data file bytes that freed, to be punched once txn commits. Segments that
// start at or after n are removed by finishCleanup.
func (c *Core) trimSegmentAt(txn *badger.Txn, n uint64) ([]extent, error) {
	if n == 0 {
		return nil, nil
	}
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: coreRecordKey(kindSegment, c.id)})
	defer it.Close()
	it.Seek(posKey(kindSegment, c.id, n-1))
	if !it.Valid() {
		return nil, nil
	}
	start, _ := posFromKey(it.Item().Key())
	seg, err := it.Item().ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	cnt, err := segmentCount(seg)
	if err != nil {
		return nil, fmt.Errorf("segment at %d: %w: %w", start, ErrCorrupt, err)
	}
	if start+uint64(cnt) <= n {
		return nil, nil
	}
	kept := int(n - start)
	if e, ext := segmentExtent(seg, cnt, kept, cnt); ext {
		return []extent{e}, txn.Set(posKey(kindSegment, c.id, start), rebaseExternal(seg, cnt, 0, kept))
	}
	var keep [][]byte
	for i := start; i < n; i++ {
		b, err := segmentBlock(seg, int(i-start))
		if err != nil {
			return nil, fmt.Errorf("block %d: %w: %w", i, ErrCorrupt, err)
		}
		keep = append(keep, b)
	}
	return nil, txn.Set(posKey(kindSegment, c.id, start), encodeSegment(keep))
}

// segmentExtent returns the data file bytes of blocks [lo, hi) of a validated segment of n
// blocks, and false for an inline segment.
func segmentExtent(seg []byte, n, lo, hi int) (extent, bool) {
	file, ext := segmentFile(seg, n)
	from, to := segmentOffset(seg, lo), segmentOffset(seg, hi)
	return extent{int64(file) + int64(from), int64(to - from)}, ext
}

// finishCleanup removes the records of blocks [CleanupFrom, CleanupTo) in batches: node pages
// wholly past 2*CleanupFrom and segments starting at or after CleanupFrom. Then it clears the mark.
func (c *Core) finishCleanup(ctx context.Context) error {
	h := c.hdr.Load()
	from := h.CleanupFrom
	firstPage := (2*from)/nodesPerPage + 1
	for _, kind := range []byte{kindNodePage, kindSegment} {
		seek := posKey(kind, c.id, from)
		if kind == kindNodePage {
			seek = posKey(kind, c.id, firstPage)
		}
		for {
			var keys [][]byte
			var freed []extent
			err := c.s.db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: coreRecordKey(kind, c.id)})
				defer it.Close()
				for it.Seek(seek); it.Valid() && len(keys) < 10000; it.Next() {
					keys = append(keys, it.Item().KeyCopy(nil))
					if kind != kindSegment {
						continue
					}
					if err := it.Item().Value(func(v []byte) error {
						n, err := segmentCount(v)
						if err != nil {
							return nil // a damaged record goes all the same; its bytes, if any, leak
						}
						if e, ext := segmentExtent(v, n, 0, n); ext {
							freed = append(freed, e)
						}
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return c.errf("cleanup after truncation: %w", err)
			}
			if len(keys) == 0 {
				break
			}
			err = c.commitFreeing(func(txn *badger.Txn) error {
				for _, k := range keys {
					if err := txn.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return c.errf("cleanup after truncation: %w", err)
			}
			c.s.data.free(freed)
			if kind == kindNodePage {
				c.cacheMu.Lock()
				for _, k := range keys {
					p, _ := posFromKey(k)
					c.uncachePageLocked(p)
				}
				c.cacheMu.Unlock()
			}
		}
	}
	nh := *c.hdr.Load()
	nh.CleanupFrom, nh.CleanupTo = 0, 0
	if err := c.commitFreeing(func(txn *badger.Txn) error {
		return txn.Set(coreRecordKey(kindHeader, c.id), nh.encode())
	}); err != nil {
		return c.errf("cleanup after truncation: %w", err)
	}
	c.hdr.Store(&nh)
	return nil
}

// Clear drops the locally stored data of blocks [start, end) and keeps the tree, so the core
// still verifies and can download the blocks again. It works on writable cores and replicas.
func (c *Core) Clear(ctx context.Context, start, end uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hdr.Load()
	end = min(end, h.Tree.Length)
	if start >= end {
		return nil
	}
	type seg struct {
		start uint64
		data  []byte
	}
	var segs []seg
	err := c.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: coreRecordKey(kindSegment, c.id)})
		defer it.Close()
		// The segment holding start may begin before it: seek back to it first.
		rit := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: coreRecordKey(kindSegment, c.id)})
		defer rit.Close()
		first := posKey(kindSegment, c.id, start)
		if rit.Seek(first); rit.Valid() {
			first = rit.Item().KeyCopy(nil)
		}
		for it.Seek(first); it.Valid(); it.Next() {
			s, _ := posFromKey(it.Item().Key())
			if s >= end {
				break
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			segs = append(segs, seg{s, v})
		}
		return nil
	})
	if err != nil {
		return c.errf("clear [%d, %d): %w", start, end, err)
	}
	w := c.newWrite()
	if err := w.setBits(start, end, false); err != nil {
		return err
	}
	var freed []extent
	err = c.commitFreeing(func(txn *badger.Txn) error {
		for _, s := range segs {
			n, err := segmentCount(s.data)
			if err != nil {
				return fmt.Errorf("segment at %d: %w: %w", s.start, ErrCorrupt, err)
			}
			segEnd := min(s.start+uint64(n), h.Tree.Length)
			if segEnd <= start {
				continue // ends before the range: untouched
			}
			if err := txn.Delete(posKey(kindSegment, c.id, s.start)); err != nil {
				return err
			}
			// What stays is a prefix [s.start, a) and a suffix [b, segEnd); the rest goes.
			a, b := max(s.start, min(start, segEnd)), max(end, s.start)
			if _, ext := segmentFile(s.data, n); ext {
				rel := func(i uint64) int { return int(i - s.start) }
				if a > s.start {
					if err := txn.Set(posKey(kindSegment, c.id, s.start), rebaseExternal(s.data, n, 0, rel(a))); err != nil {
						return err
					}
				}
				if b < segEnd {
					if err := txn.Set(posKey(kindSegment, c.id, b), rebaseExternal(s.data, n, rel(b), rel(segEnd))); err != nil {
						return err
					}
				}
				// Dropped: the cleared blocks, and any past the length.
				mid, _ := segmentExtent(s.data, n, rel(a), rel(min(b, segEnd)))
				tail, _ := segmentExtent(s.data, n, rel(segEnd), n)
				freed = append(freed, mid, tail)
				continue
			}
			keep := func(lo, hi uint64) error {
				var bs [][]byte
				for i := lo; i < hi; i++ {
					b, err := segmentBlock(s.data, int(i-s.start))
					if err != nil {
						return fmt.Errorf("block %d: %w: %w", i, ErrCorrupt, err)
					}
					bs = append(bs, b)
				}
				if len(bs) == 0 {
					return nil
				}
				return c.putSegments(txn, lo, bs)
			}
			if err := keep(s.start, a); err != nil {
				return err
			}
			if err := keep(b, segEnd); err != nil {
				return err
			}
		}
		return w.flush(txn, nil)
	})
	if err != nil {
		return c.errf("clear [%d, %d): %w", start, end, err)
	}
	w.install(nil)
	c.s.data.free(freed)
	c.changed()
	return nil
}

// Verify checks the core against its signature: the signed tree, and every stored block against
// its leaf; for a core that holds every block it rebuilds the whole tree from the blocks and
// compares the roots. It reports the first problem with its core and index.
func (c *Core) Verify(ctx context.Context) error {
	h := c.hdr.Load()
	if h.Tree.Length == 0 {
		return nil
	}
	if h.Manifest == nil {
		return c.errf("verify: %w: no manifest", ErrCorrupt)
	}
	if !ed25519.Verify(h.Manifest.PublicKey[:], h.Tree.Signable(c.key), h.Tree.Signature) {
		return c.errf("verify length %d: %w: %w", h.Tree.Length, ErrCorrupt, ErrBadSignature)
	}
	full := c.Contiguous() == h.Tree.Length
	rebuilt := Tree{}
	const chunk = 4096
	for lo := uint64(0); lo < h.Tree.Length; lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+chunk, h.Tree.Length)
		if !full {
			for i := lo; i < hi; i++ {
				if c.Has(i) {
					if _, err := c.GetStored(ctx, i); err != nil {
						return err
					}
				}
			}
			continue
		}
		bs, err := c.GetRangeStored(ctx, lo, hi)
		if err != nil {
			return err
		}
		rebuilt, _ = appendToTree(rebuilt, bs)
	}
	if full && !slices.Equal(rebuilt.Roots, h.Tree.Roots) {
		return c.errf("verify: %w: blocks do not hash to the signed roots", ErrCorrupt)
	}
	return nil
}
