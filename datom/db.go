package datom

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	badger "github.com/dgraph-io/badger/v4"
)

// DB is the datom database over every core of a corestore.Store: it indexes datom transactions
// as they arrive and answers reads. It is safe for concurrent use.
type DB struct {
	store *corestore.Store
	bdb   *badger.DB
	log   *slog.Logger
	now   func() time.Time
	poll  time.Duration
	codec codec
	cols  *columnCache
	qmem  *memBudget // shared by every query

	blobs         *blobs.Store // WithBlobs, or nil
	blobThreshold int

	mu     sync.Mutex // guards cores, core-number allocation and closed
	cores  map[corestore.Key]*coreIndex
	closed bool

	// Follow runs under ctx until its own context or Close stops it; Close waits for follows.
	ctx     context.Context
	stop    context.CancelFunc
	follows sync.WaitGroup

	// batchBlocks and commitEntries size index batches; tests make them small.
	batchBlocks   uint64
	commitEntries int
	// afterCommit, when set by tests, runs after each index commit; an error stops indexing.
	afterCommit func(next uint64) error
}

// coreIndex is the index state of one core.
type coreIndex struct {
	key  corestore.Key
	core *corestore.Core

	mu    sync.Mutex                // serializes indexing and Transact on this core
	state atomic.Pointer[coreState] // as committed to Badger
	sch   atomic.Pointer[schema]

	// The Transact pipeline: a transaction's index commit is applied by Badger while the next
	// transaction is validated and indexed against snap, a read snapshot older than the commits
	// in flight, plus ov, everything indexed since snap. Guarded by mu, except inflight and
	// asyncErr.
	pend     coreState // state after the last issued commit
	snap     *reader
	ov       *overlay
	ops      []op                          // the last writer's emptied ops, for the next Transact
	inflight atomic.Pointer[chan struct{}] // closed when the last issued commit is applied
	asyncErr atomic.Pointer[error]         // a commit in flight failed

	forgotten bool // Forget dropped this index: nothing may write it again; guarded by mu
}

// overlay holds index changes made since a snapshot was taken.
type overlay struct {
	live  map[string][]liveVal // e \x00 a → live values, for every (e, a) touched
	fresh map[string]bool      // entity → it had no datom in the snapshot
	uniq  map[string]uniqOwner // a \x00 v → the owner of a unique value, or deleted
	n     int                  // entries, to bound its size
}

type uniqOwner struct {
	e       string
	deleted bool
}

func newOverlay() *overlay {
	return &overlay{live: make(map[string][]liveVal, 4096), fresh: make(map[string]bool, 1024), uniq: make(map[string]uniqOwner, 256)}
}

// applied waits for the core's index commits in flight and returns the committed state.
func (ci *coreIndex) applied() *coreState {
	if ch := ci.inflight.Load(); ch != nil {
		<-*ch
	}
	return ci.state.Load()
}

type options struct {
	log           *slog.Logger
	now           func() time.Time
	poll          time.Duration
	colsBytes     int64
	queryMem      int64
	blobs         *blobs.Store
	blobThreshold int
}

// Option configures Open. An option given a value it cannot take makes Open fail.
type Option func(*options) error

// WithColumnCache sets the memory, in bytes, that cached attribute columns may use (default
// 128 MiB, about 500,000 datoms; 0 turns the cache off). A join that looks an attribute up for
// many entities reads the attribute's current values once into memory and answers from there
// until the core changes.
func WithColumnCache(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("column cache of %d bytes: the size cannot be negative", n)
		}
		o.colsBytes = n
		return nil
	}
}

// WithQueryMemory sets the query memory budget, in bytes: the memory that all the queries of
// the database running at once may hold for their intermediate rows, index entries and results.
// A query that would need more fails with ErrQueryTooLarge, and the memory it held is free for
// the others at once. The default is DefaultQueryMemory (1 GiB), or a quarter of the machine's
// memory (or of its cgroup's limit) when that is less, but at least 64 MiB. The attribute
// columns that joins cache are bounded apart, by WithColumnCache.
func WithQueryMemory(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("query memory budget of %d bytes: it must be positive", n)
		}
		o.queryMem = n
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithClock sets the clock that stamps transactions (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("nil clock")
		}
		o.now = now
		return nil
	}
}

// WithPollInterval sets how often Follow looks for cores that are new in the store (default 1s).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("poll interval %s: it must be positive", d)
		}
		o.poll = d
		return nil
	}
}

// Open returns the datom database of store and brings the index of every core up to date with
// its log, which is how indexes recover after a crash. Close it before closing the store.
func Open(ctx context.Context, store *corestore.Store, opts ...Option) (*DB, error) {
	o := options{log: slog.Default(), now: time.Now, poll: time.Second, colsBytes: 128 << 20, blobThreshold: DefaultBlobThreshold}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("open datom database: %w", err)
		}
	}
	if o.queryMem == 0 {
		o.queryMem = defaultQueryMemory(physicalMemory())
	}
	bdb, err := store.Derived()
	if err != nil {
		return nil, err
	}
	if err := dropLegacyIndexes(store); err != nil {
		return nil, err
	}
	if err := dropOrphanIndexes(ctx, bdb, o.log); err != nil {
		return nil, fmt.Errorf("store %s: %w", store.Dir(), err)
	}
	bctx, stop := context.WithCancel(context.Background())
	db := &DB{store: store, bdb: bdb, log: o.log, ctx: bctx, stop: stop, now: o.now, poll: o.poll, codec: defaultCodec, cols: newColumnCache(o.colsBytes, bdb, o.log),
		qmem: &memBudget{max: o.queryMem}, blobs: o.blobs, blobThreshold: o.blobThreshold,
		cores: map[corestore.Key]*coreIndex{}, batchBlocks: catchUpBlocks, commitEntries: commitEntries}
	if err := db.CatchUp(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// dropLegacyIndexes deletes the indexes that versions before the derived database kept in the
// store's own database. The derived database starts empty, so every core is indexed again.
func dropLegacyIndexes(store *corestore.Store) error {
	prefix := []byte{keyPrefix}
	found := false
	err := store.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("look for the indexes of an older version in store %s: %w", store.Dir(), err)
	}
	if !found {
		return nil
	}
	if err := store.DB().DropPrefix(prefix); err != nil {
		return fmt.Errorf("drop the indexes of an older version from store %s: %w", store.Dir(), err)
	}
	return nil
}

// Close stops the database's background work, Follow and the building of attribute columns for
// joins, and waits for it. It does not close the store, which must stay open until Close returns.
func (db *DB) Close() error {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	db.stop()
	db.follows.Wait()
	db.cols.close()
	return nil
}

// dropOrphanIndexes deletes index keys under core numbers that no core state refers to: what a
// crash leaves when it strikes a reset between recording the new number and dropping the old
// one. It costs one seek per core number and index.
func dropOrphanIndexes(ctx context.Context, bdb *badger.DB, log *slog.Logger) error {
	var orphans [][]byte
	err := bdb.View(func(txn *badger.Txn) error {
		live := map[uint32]bool{}
		states := []byte{keyPrefix, subCoreState}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: states})
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				st, err := decodeCoreState(v)
				if err == nil {
					live[st.cid] = true
				}
				return nil // a malformed state is dealt with when its core is loaded
			})
			if err != nil {
				it.Close()
				return err
			}
		}
		it.Close()
		for _, sub := range indexSubs {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{keyPrefix, sub}})
			for it.Seek(corePrefix(sub, 0)); it.Valid(); {
				if err := ctx.Err(); err != nil {
					it.Close()
					return err
				}
				k := it.Item().Key()
				if len(k) < 6 {
					it.Next()
					continue
				}
				cid := binary.BigEndian.Uint32(k[2:6])
				if !live[cid] {
					orphans = append(orphans, corePrefix(sub, cid))
				}
				if cid == math.MaxUint32 {
					break
				}
				it.Seek(corePrefix(sub, cid+1))
			}
			it.Close()
		}
		return nil
	})
	if err != nil || len(orphans) == 0 {
		return err
	}
	log.Info("datom: dropping indexes no core refers to", "prefixes", len(orphans))
	if err := bdb.DropPrefix(orphans...); err != nil {
		return fmt.Errorf("drop indexes no core refers to: %w", err)
	}
	return nil
}

// coreIndex returns the index state of the core with key, loading it on first use.
func (db *DB) coreIndex(ctx context.Context, key corestore.Key) (*coreIndex, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if ci, ok := db.cores[key]; ok {
		return ci, nil
	}
	core, err := db.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	ci := &coreIndex{key: key, core: core}
	var st coreState
	err = db.bdb.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(coreStateKey(key))
		if err == nil {
			return item.Value(func(v []byte) error {
				st, err = decodeCoreState(v)
				return err
			})
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		cid, err := allocCoreNumber(txn)
		if err != nil {
			return err
		}
		st = coreState{cid: cid, fork: core.Info().Fork}
		return txn.Set(coreStateKey(key), st.encode())
	})
	if err != nil {
		return nil, fmt.Errorf("core %s: load index state: %w", key, err)
	}
	// The block the index ended with must still be the one it indexed. One that is not held
	// here (cleared, or a replica's block lost in a crash) proves nothing either way; a replica's
	// blocks are fixed by the signed tree anyway, and it is fetched again.
	if st.stale == "" && st.next > 0 && st.next <= core.Length() && core.Has(st.next-1) {
		blk, err := core.Get(ctx, st.next-1)
		if err != nil {
			return nil, fmt.Errorf("core %s: check the index against block %d: %w", key, st.next-1, err)
		}
		if blockFingerprint(blk) != st.last {
			st.stale = fmt.Sprintf("block %d is not the block that was indexed (it was lost in a crash and replaced)", st.next-1)
		}
	}
	ci.state.Store(&st)
	ci.pend = st
	sch, err := db.loadSchema(ctx, st.cid)
	if err != nil {
		return nil, fmt.Errorf("core %s: load schema: %w", key, err)
	}
	ci.sch.Store(sch)
	db.cores[key] = ci
	return ci, nil
}

// allocCoreNumber takes the next unused core number in txn.
func allocCoreNumber(txn *badger.Txn) (uint32, error) {
	next := uint32(1)
	if item, err := txn.Get(nextCoreKey); err == nil {
		if err := item.Value(func(v []byte) error {
			if len(v) != 4 {
				return errors.New("malformed next core number")
			}
			next = binary.BigEndian.Uint32(v)
			return nil
		}); err != nil {
			return 0, err
		}
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return 0, err
	}
	return next, txn.Set(nextCoreKey, binary.BigEndian.AppendUint32(nil, next+1))
}

// loadSchema reads a core's attributes back from its indexes.
func (db *DB) loadSchema(ctx context.Context, cid uint32) (*schema, error) {
	s := newSchema()
	err := db.bdb.View(func(txn *badger.Txn) error {
		prefix := appendKeyString(corePrefix(subAEVT, cid), AttrIdent)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var ents []string
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(it.Item().Key()) > 0 && it.Item().ValueSize() == 0 {
				en, err := decodeEntry(it.Item().Key(), nil)
				if err != nil {
					return err
				}
				ents = append(ents, en.e)
			}
		}
		r := &reader{txn: txn, cid: cid}
		defer r.close()
		for _, e := range ents {
			v, err := readSchemaValues(e, r.live)
			if err != nil {
				return err
			}
			s.set(e, v)
		}
		return nil
	})
	return s, err
}

// blockFingerprint is the fingerprint of a block that core states record: enough to tell two
// blocks apart after a crash, and fast enough to take for every transaction.
func blockFingerprint(b []byte) uint64 { return xxhash.Sum64(b) }

// reader reads one core's committed state inside a Badger transaction.
type reader struct {
	txn *badger.Txn
	cid uint32
	it  *badger.Iterator // over the core's EAVT, created on first use
}

func (r *reader) close() {
	if r.it != nil {
		r.it.Close()
		r.it = nil
	}
}

func (r *reader) eavt() *badger.Iterator {
	if r.it == nil {
		r.it = r.txn.NewIterator(badger.IteratorOptions{Prefix: corePrefix(subEAVT, r.cid)})
	}
	return r.it
}

// liveVal is one live assertion of an (e, a): its encoded value and tx.
type liveVal struct {
	vk []byte
	tx uint64
}

// live returns the live values of (e, a), read from EAVT.
func (r *reader) live(e, a string) ([]liveVal, error) {
	prefix := appendKeyString(appendKeyString(corePrefix(subEAVT, r.cid), e), a)
	it := r.eavt()
	var out []liveVal
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		if item.ValueSize() != 0 {
			continue // retracted
		}
		k := item.Key()
		if len(k) < len(prefix)+9 {
			return nil, fmt.Errorf("%w %x", errBadKey, k)
		}
		out = append(out, liveVal{vk: slices.Clone(k[len(prefix) : len(k)-8]), tx: binary.BigEndian.Uint64(k[len(k)-8:])})
	}
	return out, nil
}

// hasEntity reports whether e may have a datom, live or retracted; false is certain. It reads
// the entity key, one point read that Badger's bloom filters answer for a new entity, where a
// seek into EAVT costs tens of microseconds while the LSM tree is busy with a bulk load.
func (r *reader) hasEntity(e string) (bool, error) {
	_, err := r.txn.Get(entityKey(r.cid, e))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// uniqueOwner returns the entity that holds the live unique value (a, v).
func (r *reader) uniqueOwner(a string, vk []byte) (string, bool, error) {
	item, err := r.txn.Get(uniqueKey(r.cid, a, vk))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	v, err := item.ValueCopy(nil)
	return string(v), err == nil, err
}

// readSchemaValues reads the live schema datoms of entity e through live.
func readSchemaValues(e string, live func(e, a string) ([]liveVal, error)) (schemaValues, error) {
	var sv schemaValues
	for _, f := range []struct {
		a string
		p *string
	}{{AttrIdent, &sv.ident}, {AttrValueType, &sv.valueType}, {AttrCardinality, &sv.cardinality},
		{AttrUnique, &sv.unique}, {AttrDoc, &sv.doc}} {
		lv, err := live(e, f.a)
		if err != nil {
			return sv, err
		}
		if len(lv) > 0 {
			if v, _, err := decodeKeyValue(lv[len(lv)-1].vk); err == nil && v.Kind == KindString {
				*f.p = v.Str
			}
		}
	}
	return sv, nil
}

// CatchUp indexes, in every core of the store, the blocks that arrived since the last call.
func (db *DB) CatchUp(ctx context.Context) error {
	keys, err := db.store.Keys(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		if err := db.CatchUpCore(ctx, k); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CatchUpCore indexes the blocks of one core that arrived since the last call: for a replica,
// up to its first missing block.
func (db *DB) CatchUpCore(ctx context.Context, key corestore.Key) error {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		return err
	}
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return db.catchUpLocked(ctx, ci)
}

// Reindex drops every index and rebuilds it from the logs, and returns the state of every core
// afterwards. progress, when set, is called after each core, with how many are done of how many.
func (db *DB) Reindex(ctx context.Context, progress func(done, total int, core CoreInfo)) ([]CoreInfo, error) {
	keys, err := db.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CoreInfo, 0, len(keys))
	for i, k := range keys {
		ci, err := db.coreIndex(ctx, k)
		if err != nil {
			return out, err
		}
		ci.mu.Lock()
		err = db.resetLocked(ci)
		if err == nil {
			err = db.catchUpLocked(ctx, ci)
		}
		ci.mu.Unlock()
		if err != nil {
			return out, fmt.Errorf("reindex core %s: %w", k, err)
		}
		info, err := db.CoreInfo(ctx, k)
		if err != nil {
			return out, err
		}
		out = append(out, info)
		if progress != nil {
			progress(i+1, len(keys), info)
		}
	}
	return out, nil
}

// resetLocked gives a core a new, empty index under a new core number and drops the old one.
func (db *DB) resetLocked(ci *coreIndex) error {
	if err := db.quiesce(context.Background(), ci); err != nil {
		return err
	}
	// The new index gets a new core number, and its empty state is synced before the old keys
	// are deleted, so that a power loss can never bring the old state back over missing keys;
	// keys a power loss leaves under the old number are dropped by the next Open.
	old := *ci.state.Load()
	ns := coreState{fork: ci.core.Info().Fork}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		var err error
		if ns.cid, err = allocCoreNumber(txn); err != nil {
			return err
		}
		return txn.Set(coreStateKey(ci.key), ns.encode())
	})
	if err == nil {
		err = db.bdb.Sync()
	}
	if err != nil {
		return fmt.Errorf("core %s: reset index state: %w", ci.key, err)
	}
	ci.state.Store(&ns)
	ci.pend = ns
	ci.sch.Store(newSchema())
	prefixes := make([][]byte, 0, len(indexSubs))
	for _, sub := range indexSubs {
		prefixes = append(prefixes, corePrefix(sub, old.cid))
	}
	if err := deletePrefixes(db.bdb, prefixes...); err != nil {
		// Nothing refers to the old number any more; the next Open drops its keys.
		db.log.Warn("datom: drop the old index of a reindexed core", "core", ci.key, "err", err)
	}
	return nil
}

// quiesce waits for the core's index commits in flight and drops the pipeline's snapshot and
// overlay. After a failed commit it reloads the state and schema from Badger.
func (db *DB) quiesce(ctx context.Context, ci *coreIndex) error {
	if ch := ci.inflight.Load(); ch != nil {
		<-*ch
		ci.inflight.Store(nil)
	}
	if ci.snap != nil {
		ci.snap.close()
		ci.snap.txn.Discard()
		ci.snap = nil
	}
	ci.ov = nil
	if p := ci.asyncErr.Swap(nil); p != nil {
		db.log.Warn("datom: an index commit failed; reloading the core's index state", "core", ci.key, "err", *p)
		var st coreState
		err := db.bdb.View(func(txn *badger.Txn) error {
			item, err := txn.Get(coreStateKey(ci.key))
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error {
				st, err = decodeCoreState(v)
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("core %s: reload index state: %w", ci.key, err)
		}
		sch, err := db.loadSchema(ctx, st.cid)
		if err != nil {
			return fmt.Errorf("core %s: reload schema: %w", ci.key, err)
		}
		ci.state.Store(&st)
		ci.sch.Store(sch)
	}
	ci.pend = *ci.state.Load()
	return nil
}

// idle reports whether no index commit of the core is in flight.
func (ci *coreIndex) idle() bool {
	ch := ci.inflight.Load()
	if ch == nil {
		return true
	}
	select {
	case <-*ch:
		return true
	default:
		return false
	}
}

// maxOverlay bounds the pipeline's overlay; past it, Transact waits for the commits in flight
// and starts over from a new snapshot.
const maxOverlay = 1 << 18

// pipeline readies the snapshot and overlay that Transact validates and indexes against. A new
// snapshot is taken only when no commit is in flight, since Badger makes a new read wait for them.
func (db *DB) pipeline(ctx context.Context, ci *coreIndex, fresh bool) error {
	if ci.snap != nil && !fresh && ci.ov.n < maxOverlay && !ci.idle() {
		return nil
	}
	if err := db.quiesce(ctx, ci); err != nil {
		return err
	}
	ci.snap = &reader{txn: db.bdb.NewTransaction(false), cid: ci.pend.cid}
	ci.ov = newOverlay()
	return nil
}

// needsCatchUp reports whether the core has blocks, or a fork, that the index has not seen.
func (ci *coreIndex) needsCatchUp() bool {
	info := ci.core.Info()
	return ci.pend.stale != "" || ci.pend.fork != info.Fork || ci.pend.next > info.Length ||
		ci.pend.kind != kindRaw && ci.pend.next < ci.core.Contiguous()
}

// Index batching: blocks are read catchUpBlocks at a time and a Badger transaction is committed
// before it could outgrow Badger's limits (about 100k entries with the store's 64 MiB memtable).
const (
	catchUpBlocks  = 256
	commitEntries  = 40_000
	entriesPerItem = 12 // the most writes one datom can cause
)

func (db *DB) catchUpLocked(ctx context.Context, ci *coreIndex) error {
	if ci.forgotten {
		return fmt.Errorf("core %s: %w", ci.key, errForgotten)
	}
	if !ci.needsCatchUp() && ci.asyncErr.Load() == nil {
		return nil
	}
	if err := db.quiesce(ctx, ci); err != nil {
		return err
	}
	st := *ci.state.Load()
	info := ci.core.Info()
	if st.stale != "" || st.fork != info.Fork || st.next > info.Length {
		switch {
		case st.stale != "":
			db.log.Info("datom: reindexing: "+st.stale, "core", ci.key)
		case st.next > info.Length:
			db.log.Warn("datom: the index is ahead of the log, whose last blocks were lost in a crash; reindexing", "core", ci.key,
				"indexed", st.next, "length", info.Length)
		default:
			db.log.Info("datom: core moved to a new fork; reindexing", "core", ci.key, "fork", info.Fork)
		}
		if err := db.resetLocked(ci); err != nil {
			return err
		}
		st = *ci.state.Load()
	}
	if st.kind == kindRaw {
		return nil
	}
	target := ci.core.Contiguous()
	for st.next < target {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(target, st.next+db.batchBlocks)
		blocks, err := ci.core.GetRange(ctx, st.next, end)
		if err != nil {
			return fmt.Errorf("core %s: read blocks [%d, %d): %w", ci.key, st.next, end, err)
		}
		if st, err = db.indexBlocks(ci, st, blocks); err != nil {
			return err
		}
		if st.kind == kindRaw {
			return nil
		}
	}
	return nil
}

// indexCommitReserve is the room an index commit asks the store's disk reserve for, besides the
// reserve itself: more than one commit's keys.
const indexCommitReserve = 8 << 20

// indexBlocks indexes blocks, the core's blocks from st.next on, and returns the new committed
// state.
func (db *DB) indexBlocks(ci *coreIndex, st coreState, blocks [][]byte) (coreState, error) {
	snap := db.bdb.NewTransaction(false)
	defer snap.Discard()
	w := &writer{db: db, cid: st.cid, sch: ci.sch.Load(), snap: &reader{txn: snap, cid: st.cid}, ov: newOverlay()}
	defer w.snap.close()
	commit := func() error {
		// The derived database writes through memory maps too: a write the disk cannot hold
		// must fail here, as the store's own writes do, not fault in Badger.
		if err := db.store.CheckSpace(indexCommitReserve); err != nil {
			return fmt.Errorf("core %s: index to tx %d: %w", ci.key, st.next, err)
		}
		txn := db.bdb.NewTransaction(true)
		defer txn.Discard()
		if err := w.flush(txn, ci.key, st); err != nil {
			return err
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("core %s: commit index to tx %d: %w", ci.key, st.next, err)
		}
		committed := st
		ci.state.Store(&committed)
		ci.pend = committed
		ci.sch.Store(w.sch)
		w.schOwn = false // published: copy again before the next change
		if db.afterCommit != nil {
			return db.afterCommit(st.next)
		}
		return nil
	}
	for _, block := range blocks {
		txn := st.next
		tx, err := db.codec.decodeTx(block, txn)
		switch {
		case errors.Is(err, ErrNotTx) && txn == 0:
			db.log.Info("datom: core does not hold datom transactions; not indexing it", "core", ci.key)
			st.kind = kindRaw
			return st, commit()
		case err != nil:
			db.log.Warn("datom: skipping block that is not a valid transaction", "core", ci.key, "tx", txn, "err", err)
			st.skipped++
			st.next++
			st.last = blockFingerprint(block)
			continue
		}
		if w.entries > 0 && w.entries+entriesPerItem*len(tx.Datoms) > db.commitEntries {
			if err := commit(); err != nil {
				return st, err
			}
		}
		if txn == 0 {
			st.kind = kindDatom
		}
		if err := w.applyTx(tx, txn); err != nil {
			return st, fmt.Errorf("core %s: index tx %d: %w", ci.key, txn, err)
		}
		st.next++
		st.last = blockFingerprint(block)
	}
	return st, commit()
}

// writer applies transactions to the index. It reads the state of a snapshot, keeps what it
// changed since in an overlay, so that it never reads its own uncommitted writes back from
// Badger, and buffers its writes until flush.
type writer struct {
	db      *DB
	cid     uint32
	sch     *schema // copied before its first change
	schOwn  bool
	entries int

	snap *reader
	ov   *overlay
	ops  []op
	slab []byte // keys are carved from here: Badger keeps them until commit
	vbuf []byte // the current datom's encoded value
}

// op is one buffered index write; a nil value with del set deletes the key.
type op struct {
	k, v []byte
	del  bool
}

// slabSize is the size of the chunks keys are carved from. A transaction of 1,000 datoms needs
// about 200 KiB; a chunk is not reused, so a larger one would mostly be allocated, zeroed and
// collected for nothing.
const slabSize = 64 << 10

// keep copies b into the slab and returns the copy.
func (w *writer) keep(b []byte) []byte {
	if len(w.slab)+len(b) > cap(w.slab) {
		w.slab = make([]byte, 0, max(slabSize, len(b)))
	}
	n := len(w.slab)
	w.slab = append(w.slab, b...)
	return w.slab[n:len(w.slab):len(w.slab)]
}

func (w *writer) set(k, v []byte) {
	w.entries++
	w.ov.n++
	w.ops = append(w.ops, op{k: w.keep(k), v: v})
}
func (w *writer) del(k []byte) {
	w.entries++
	w.ov.n++
	w.ops = append(w.ops, op{k: w.keep(k), del: true})
}

// flush writes the buffered writes and the core state st into txn.
func (w *writer) flush(txn *badger.Txn, key corestore.Key, st coreState) error {
	for _, o := range w.ops {
		var err error
		if o.del {
			err = txn.Delete(o.k)
		} else {
			err = txn.Set(o.k, o.v)
		}
		if err != nil {
			return fmt.Errorf("core %s: index write: %w", key, err)
		}
	}
	clear(w.ops) // Badger keeps the keys and values, not the ops: let the slabs go with the commit
	w.ops, w.entries = w.ops[:0], 0
	return txn.Set(coreStateKey(key), st.encode())
}

// live returns the live values of (e, a) as of the last applied datom.
func (w *writer) live(e, a string) ([]liveVal, error) {
	lv, _, err := w.liveKey(e, a)
	return lv, err
}

// liveKey is live, and also returns the overlay key of (e, a) for the caller's update.
func (w *writer) liveKey(e, a string) ([]liveVal, string, error) {
	k := e + "\x00" + a
	if lv, ok := w.ov.live[k]; ok {
		return lv, k, nil
	}
	fresh, ok := w.ov.fresh[e]
	if !ok {
		has, err := w.snap.hasEntity(e)
		if err != nil {
			return nil, "", err
		}
		fresh = !has
		w.ov.fresh[e] = fresh
		if fresh {
			w.set(entityKey(w.cid, e), nil)
		}
	}
	var lv []liveVal
	if !fresh {
		var err error
		if lv, err = w.snap.live(e, a); err != nil {
			return nil, "", err
		}
	}
	w.ov.live[k] = lv
	return lv, k, nil
}

// uniqueOwner returns the entity that holds the live unique value (a, v).
func (w *writer) uniqueOwner(a string, vk []byte) (string, bool, error) {
	if u, ok := w.ov.uniq[a+"\x00"+string(vk)]; ok {
		return u.e, !u.deleted, nil
	}
	return w.snap.uniqueOwner(a, vk)
}

// applyTx indexes transaction tx. Its schema datoms are applied first, and its other datoms
// under the schema as they leave it, which is how Transact validated them.
func (w *writer) applyTx(tx Tx, txn uint64) error {
	// Most datoms write three or four keys; growing ops would copy it again and again.
	w.ops = slices.Grow(w.ops, 4*len(tx.Datoms))
	apply := func(d Datom) error {
		at, _ := w.sch.attr(d.A)
		vk := d.V.key(w.vbuf[:0])
		w.vbuf = vk
		var err error
		if d.Added {
			err = w.assert(at, d, vk, txn)
		} else {
			err = w.retract(at, d, vk, txn)
		}
		if err != nil {
			return fmt.Errorf("datom %s: %w", d, err)
		}
		return nil
	}
	var touched []string
	for _, d := range tx.Datoms {
		if isSchemaAttr(d.A) {
			if err := apply(d); err != nil {
				return err
			}
			touched = append(touched, d.E)
		}
	}
	for _, e := range touched {
		sv, err := readSchemaValues(e, w.live)
		if err != nil {
			return err
		}
		if !w.schOwn {
			w.sch, w.schOwn = w.sch.clone(), true
		}
		w.sch.set(e, sv)
	}
	for _, d := range tx.Datoms {
		if len(touched) > 0 && isSchemaAttr(d.A) {
			continue
		}
		if err := apply(d); err != nil {
			return err
		}
	}
	return nil
}

// assert records d. An assertion of a live value changes nothing; for a cardinality-one
// attribute it retracts every other live value of (e, a).
func (w *writer) assert(at Attribute, d Datom, vk []byte, txn uint64) error {
	lv, k, err := w.liveKey(d.E, d.A)
	if err != nil {
		return err
	}
	for _, l := range lv {
		if bytes.Equal(l.vk, vk) {
			return nil
		}
	}
	var keep []liveVal
	if at.Cardinality == CardinalityOne {
		for _, l := range lv {
			if err := w.retractEntry(at, d.E, d.A, l.vk, l.tx, txn); err != nil {
				return err
			}
		}
	} else {
		keep = lv
	}
	kept := w.keep(vk)
	w.ov.live[k] = append(keep[:len(keep):len(keep)], liveVal{vk: kept, tx: txn})
	if at.Unique != UniqueNone {
		w.set(uniqueKey(w.cid, d.A, vk), []byte(d.E))
		w.ov.uniq[d.A+"\x00"+string(vk)] = uniqOwner{e: d.E}
	}
	w.writeEntry(d.E, d.A, kept, txn, nil)
	return nil
}

// retract records the retraction d; retracting what is not live changes nothing.
func (w *writer) retract(at Attribute, d Datom, vk []byte, txn uint64) error {
	lv, k, err := w.liveKey(d.E, d.A)
	if err != nil {
		return err
	}
	for i, l := range lv {
		if bytes.Equal(l.vk, vk) {
			rest := append(slices.Clone(lv[:i]), lv[i+1:]...)
			w.ov.live[k] = rest
			return w.retractEntry(at, d.E, d.A, l.vk, l.tx, txn)
		}
	}
	return nil
}

// retractEntry marks the assertion (e, a, v) made in tx added as retracted in tx retracted.
func (w *writer) retractEntry(at Attribute, e, a string, vk []byte, added, retracted uint64) error {
	if at.Unique != UniqueNone {
		owner, ok, err := w.uniqueOwner(a, vk)
		if err != nil {
			return err
		}
		if ok && owner == e {
			w.del(uniqueKey(w.cid, a, vk))
			w.ov.uniq[a+"\x00"+string(vk)] = uniqOwner{deleted: true}
		}
	}
	w.writeEntry(e, a, vk, added, be64(retracted))
	return nil
}

func (w *writer) writeEntry(e, a string, vk []byte, tx uint64, val []byte) {
	subs := indexSubs[:3]
	if Kind(vk[0]) == KindRef {
		subs = indexSubs[:4]
	}
	// The keys are built in place in the slab: at most every byte of e and a escaped, plus
	// terminators, prefix and tx.
	need := len(subs) * (2*(len(e)+len(a)) + len(vk) + 24)
	if len(w.slab)+need > cap(w.slab) {
		w.slab = make([]byte, 0, max(slabSize, need))
	}
	for _, sub := range subs {
		n := len(w.slab)
		w.slab = indexKeyTo(w.slab, sub, w.cid, e, a, vk, tx)
		w.entries++
		w.ov.n++
		w.ops = append(w.ops, op{k: w.slab[n:len(w.slab):len(w.slab)], v: val})
	}
	if Kind(vk[0]) == KindBlob && val == nil {
		// The blob stays referenced after a retraction (an as-of read shows it): only the
		// assertion writes its key.
		if v, _, err := decodeKeyValue(vk); err == nil {
			w.set(blobKey(w.cid, v.Blob.CID), nil)
		}
	}
}

// Follow keeps the indexes of the given cores, or of every core in the store when keys is empty,
// up to date as blocks arrive, appended locally or replicated, until ctx is done. With no keys
// it also picks up cores that appear in the store later. It returns ctx's error.
func (db *DB) Follow(ctx context.Context, keys ...corestore.Key) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return fmt.Errorf("follow: the datom database is %w", corestore.ErrClosed)
	}
	db.follows.Add(1)
	db.mu.Unlock()
	defer db.follows.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(db.ctx, cancel)()
	var wg sync.WaitGroup
	defer wg.Wait()
	followed := map[corestore.Key]bool{}
	start := func(k corestore.Key) {
		if followed[k] {
			return
		}
		followed[k] = true
		wg.Go(func() { db.followCore(ctx, k) })
	}
	for _, k := range keys {
		start(k)
	}
	if len(keys) > 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	tick := time.NewTicker(db.poll)
	defer tick.Stop()
	for {
		all, err := db.store.Keys(ctx)
		if err != nil && ctx.Err() == nil {
			db.log.Warn("datom: list cores", "err", err)
		}
		for _, k := range all {
			start(k)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (db *DB) followCore(ctx context.Context, key corestore.Key) {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			db.log.Warn("datom: follow core", "core", key, "err", err)
		}
		return
	}
	for {
		updated := ci.core.Updated() // taken before catching up, so no change is missed
		ci.mu.Lock()
		err := db.catchUpLocked(ctx, ci)
		ci.mu.Unlock()
		if errors.Is(err, errForgotten) {
			return
		}
		if err != nil && ctx.Err() == nil {
			db.log.Warn("datom: index core", "core", key, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-updated:
		}
	}
}

// CoreInfo describes how far a core is indexed.
type CoreInfo struct {
	Key corestore.Key
	// Datom is false for a core whose first block is not a datom transaction (show its blocks
	// raw) and for a core with no block indexed yet; Raw is set only in the first case.
	Datom, Raw bool
	// Indexed is the number of blocks indexed; Length the core's length.
	Indexed, Length uint64
	// Skipped counts malformed datom blocks that were left out of the index.
	Skipped uint64
}

// CoreInfo reports the index state of the core with key.
func (db *DB) CoreInfo(ctx context.Context, key corestore.Key) (CoreInfo, error) {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		return CoreInfo{}, err
	}
	st := ci.applied()
	return CoreInfo{Key: key, Datom: st.kind == kindDatom, Raw: st.kind == kindRaw, Indexed: st.next,
		Length: ci.core.Length(), Skipped: st.skipped}, nil
}

// Schema returns the attributes of the core with key that have schema, by name.
func (db *DB) Schema(ctx context.Context, key corestore.Key) (map[string]Attribute, error) {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		return nil, err
	}
	out := map[string]Attribute{}
	for k, v := range ci.sch.Load().attrs {
		out[k] = v
	}
	return out, nil
}
