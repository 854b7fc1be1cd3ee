package corestore

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	boptions "github.com/dgraph-io/badger/v4/options"
)

// Store holds many cores in one Badger database. Opening it reads one record; cores are opened
// lazily, one header read each, so a store with thousands of cores opens in constant time.
type Store struct {
	db      *badger.DB
	dir     string
	log     *slog.Logger
	durable bool
	syncer  *syncer
	primary [32]byte

	// cachedPages counts the decoded node pages all cores cache; maxCachedPages bounds it.
	cachedPages    atomic.Int64
	maxCachedPages int64

	mu      sync.Mutex
	cores   map[Key]*Core
	nextID  uint64
	closed  bool
	derived *badger.DB // opened by the first Derived call
	data    *dataFile  // the blocks of replicas

	changeMu sync.Mutex
	change   chan struct{} // closed at the next Changed event

	syncMu     sync.Mutex // held by syncAll; Close takes it to stop syncs for good
	syncClosed bool
	cache      int64 // block cache bytes, for the derived database

	space *spaceGuard // the disk reserve; read-only when the disk was full at open
}

type options struct {
	primaryKey *[32]byte
	durable    bool
	logger     *slog.Logger
	cacheBytes int64
	nodeCache  int64
	reserve    int64
	readOnly   bool
}

// Option configures Open.
type Option func(*options)

// WithPrimaryKey sets the primary key that named cores are derived from. It is used when the
// store is created; opening an existing store with a different key fails.
func WithPrimaryKey(k [32]byte) Option { return func(o *options) { o.primaryKey = &k } }

// WithDurability sets whether an append returns only once it is on disk (the default, true).
// false is for bulk imports: appends are atomic but a crash may lose the most recent ones.
func WithDurability(durable bool) Option { return func(o *options) { o.durable = durable } }

// WithLogger sets the logger for the store and for Badger's messages.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCacheSize sets the block cache size in bytes of each of the store's two Badger databases,
// its own and the derived one (default 0: none). Their tables are not compressed, so Badger reads
// blocks straight from its memory-mapped files, and the kernel's page cache is the cache; a block
// cache would only copy them into the heap.
func WithCacheSize(n int64) Option { return func(o *options) { o.cacheBytes = n } }

// WithNodeCacheSize sets the memory, in bytes, all cores together may use for decoded Merkle tree
// nodes (default 32 MiB). Proofs read about log2(length) nodes; the upper levels stay cached.
// 64 MiB made random proofs over a 1M-block core about 20% faster (BenchmarkProofRandomBlock),
// and a replica following a live core about 60 MB larger in resident memory.
func WithNodeCacheSize(n int64) Option { return func(o *options) { o.nodeCache = n } }

// nodePageBytes is the approximate memory of one cached node page.
const nodePageBytes = 8 + nodesPerPage*40 + 64

// Open opens, or creates, the store in dir.
//
// When the disk is too full for Badger to open its database for writing (see WithDiskReserve),
// the store opens read-only: every block and proof can be read, and every write fails with
// ErrDiskFull until the store is opened again with space free.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	o := options{durable: true, logger: slog.Default(), nodeCache: 32 << 20, reserve: DefaultDiskReserve}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	space := newSpaceGuard(dir, o.reserve, o.logger)
	// Blocks of 8 KiB and more, and segments of small blocks, go to the value log; durability
	// comes from group commit (see syncer), not from Badger syncing every write.
	bo := badgerOptions(dir, o.logger, o.cacheBytes).
		WithValueThreshold(8 << 10).
		WithMemTableSize(storeMemTableSize).
		WithValueLogFileSize(256 << 20).
		WithReadOnly(o.readOnly)
	db, readOnly, err := space.open(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("open store %s: %w (stop the other datomspace process, or use another repo)", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	space.readOnly = readOnly
	s := &Store{db: db, dir: dir, log: o.logger, durable: o.durable, cores: map[Key]*Core{}, change: make(chan struct{}),
		maxCachedPages: max(o.nodeCache/nodePageBytes, 64), cache: o.cacheBytes, space: space}
	s.syncer = newSyncer(s.syncAll)
	if err := s.loadMeta(o.primaryKey); err != nil {
		db.Close()
		return nil, err
	}
	if s.data, err = openDataFile(filepath.Join(dir, DataFileName), readOnly); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if readOnly {
		// Recovery may clear blocks, which is a write. Blocks a crash lost are still found when
		// they are read: every read checks its block against the tree leaf.
		s.data.markClean()
		return s, nil
	}
	if err := s.recoverUnsynced(ctx); err != nil {
		// No sync: that would mark blocks not yet checked as safe.
		db.Close()
		s.data.close()
		if errors.Is(err, ErrDiskFull) {
			// Clearing the blocks a crash lost is a write; read-only, they are found when read.
			return Open(ctx, dir, append(opts, withReadOnly())...)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	space.start(storeMemTableSize)
	return s, nil
}

// withReadOnly opens the store read-only, as a full disk does.
func withReadOnly() Option { return func(o *options) { o.readOnly = true } }

// The memtable sizes of the store's two Badger databases. Each memtable takes its size and a fifth
// more of heap, up to three of them at once, and a write-ahead log as large on disk.
const (
	storeMemTableSize   = 16 << 20
	derivedMemTableSize = 16 << 20
)

// ReadOnly reports whether the store was opened read-only because its disk was full.
func (s *Store) ReadOnly() bool { return s.space.readOnly }

// CheckSpace returns ErrDiskFull when writing n more bytes to the store's disk would break into its
// reserve (see WithDiskReserve), and nil otherwise. Every write of the store checks it first;
// packages that write to DB or Derived themselves should too, since a write Badger cannot back
// with disk space kills the process.
func (s *Store) CheckSpace(n int64) error {
	if err := s.space.check(n); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return nil
}

// syncAll makes everything written so far durable: first the data file, then a record of how
// far it is synced, then the database. The syncer runs it, one call at a time.
func (s *Store) syncAll() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.syncClosed {
		return ErrClosed
	}
	if s.space.readOnly {
		return nil // nothing was written
	}
	// Bytes freed by commits made from here on wait for the next sync: this one may not cover
	// those commits.
	freed := s.data.takeFreed()
	end, dirty, err := s.data.sync()
	if err == nil && dirty {
		err = s.markSynced(end)
	}
	if err == nil {
		err = s.db.Sync()
	}
	if err == nil {
		_, err = syncMemtableLogs(s.dir, syncData)
	}
	if err != nil {
		s.data.free(freed)
		return err
	}
	// Only now are the commits that freed these bytes durable: punched earlier, a power loss
	// could leave the database pointing at a hole.
	s.data.punch(freed)
	return nil
}

// syncMemtableLogs syncs, with syncFile, the write-ahead logs of the memtables in the Badger
// directory dir other than the newest, and returns how many it synced. Badger's DB.Sync syncs
// only the active memtable's log (badger v4.9.6, db.go:708): a memtable that filled up since the
// last sync waits, with its log unsynced, until its table is written, and a power loss meanwhile
// would take commits a sync had acknowledged. The newest log is the active one's, which DB.Sync
// covers.
func syncMemtableLogs(dir string, syncFile func(*os.File) error) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("sync memtable logs: %w", err)
	}
	type log struct {
		fid  uint64
		name string
	}
	var logs []log
	for _, e := range entries {
		fid, ok := strings.CutSuffix(e.Name(), ".mem")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(fid, 10, 64)
		if err != nil {
			continue
		}
		logs = append(logs, log{n, e.Name()})
	}
	if len(logs) < 2 {
		return 0, nil
	}
	slices.SortFunc(logs, func(a, b log) int { return cmp.Compare(a.fid, b.fid) })
	n := 0
	for _, l := range logs[:len(logs)-1] {
		f, err := os.Open(filepath.Join(dir, l.name))
		if errors.Is(err, os.ErrNotExist) {
			continue // its table was written and the log deleted meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("sync memtable log: %w", err)
		}
		err = syncFile(f)
		f.Close()
		if err != nil {
			return n, fmt.Errorf("sync memtable log %s: %w", l.name, err)
		}
		n++
	}
	return n, nil
}

// maxUnsyncedDeletes bounds the unsynced records one sync deletes; older ones go with later
// syncs, or when the store next opens.
const maxUnsyncedDeletes = 10000

// markSynced records that the data file is on disk below end, and deletes the unsynced records
// that it covers.
func (s *Store) markSynced(end int64) error {
	return s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindUnsynced}})
		var keys [][]byte
		for it.Rewind(); it.Valid() && len(keys) < maxUnsyncedDeletes; it.Next() {
			k := it.Item().Key()
			if len(k) != 9 || int64(beUint64(k[1:])) >= end {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return txn.Set(dataSyncedKey, be64(uint64(end)))
	})
}

// syncedMark returns how far the data file is recorded as synced: 0 if it never was.
func syncedMark(txn *badger.Txn) (uint64, error) {
	item, err := txn.Get(dataSyncedKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: data file mark of %d bytes", ErrCorrupt, len(v))
	}
	return beUint64(v), nil
}

// recoverUnsynced deals with a crash. Replicas write their blocks to the data file and record
// them in the database without syncing either; a sync writes the data file first, and only then
// marks it synced. So after a crash every block the database refers to is on disk, except those
// of unsynced records at or past the mark. Each such block is checked against its Merkle leaf,
// and one that is not intact is cleared, to be downloaded again.
func (s *Store) recoverUnsynced(ctx context.Context) error {
	var mark uint64
	var suspect []unsynced
	var stale [][]byte
	reach := int64(0)
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if mark, err = syncedMark(txn); err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindUnsynced}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			if len(k) != 9 {
				return fmt.Errorf("%w: unsynced record key of %d bytes", ErrCorrupt, len(k))
			}
			if off := beUint64(k[1:]); off < mark {
				stale = append(stale, k)
				continue
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			u, err := decodeUnsynced(v)
			if err != nil {
				// The blocks it names are still checked against their leaves on every Get.
				s.log.Warn("skipping a damaged record of unsynced blocks", "store", s.dir, "offset", beUint64(k[1:]), "err", err)
				stale = append(stale, k)
				reach = max(reach, int64(beUint64(k[1:]))+1)
				continue
			}
			suspect = append(suspect, u)
			reach = max(reach, int64(beUint64(k[1:])+u.Size))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read unsynced records: %w", err)
	}
	// Nothing may be written where the database already points, even past the file's end, nor
	// below the mark, which would then count as synced.
	s.data.reserve(max(reach, int64(mark)))
	byCore := map[uint64][]unsynced{}
	var ids []uint64
	for _, u := range suspect {
		if byCore[u.ID] == nil {
			ids = append(ids, u.ID)
		}
		byCore[u.ID] = append(byCore[u.ID], u)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := s.recheck(ctx, id, byCore[id]); err != nil {
			return err
		}
	}
	if len(suspect) == 0 && len(stale) == 0 {
		// Nothing the database refers to lies past the mark: what the file holds beyond it,
		// if anything, is unreferenced, and need not be synced.
		s.data.markClean()
		return nil
	}
	// Every block left is intact: sync, which marks the whole file synced and drops the records.
	if err := s.syncAll(); err != nil {
		return fmt.Errorf("after recovery: %w", err)
	}
	return nil
}

// recheck checks the blocks of core id that the unsynced records us name, and clears those that
// the crash lost.
func (s *Store) recheck(ctx context.Context, id uint64, us []unsynced) error {
	var key Key
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(coreRecordKey(kindHeader, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) < 2+len(key) {
				return fmt.Errorf("%w: header of core %d is %d bytes", ErrCorrupt, id, len(v))
			}
			copy(key[:], v[2:])
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil // the core is gone
	}
	if err != nil {
		return fmt.Errorf("recover core %d: %w", id, err)
	}
	c, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	lost := 0
	for _, u := range us {
		end := min(u.Start+u.Count, c.Length())
		if u.Start >= end {
			continue // a new fork dropped them
		}
		if m, missing := c.FirstMissing(u.Start); !missing || m >= end {
			// The usual case: every block is there; one read checks them all.
			if _, err := c.GetRangeStored(ctx, u.Start, end); err == nil {
				continue
			} else if !errors.Is(err, ErrCorrupt) {
				return err
			}
		}
		for i := u.Start; i < end; i++ {
			if !c.Has(i) {
				continue
			}
			_, err := c.GetStored(ctx, i)
			if errors.Is(err, ErrCorrupt) {
				if err := c.Clear(ctx, i, i+1); err != nil {
					return err
				}
				lost++
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	if lost > 0 {
		s.log.Warn("blocks lost in a crash were cleared; they will be downloaded again", "core", key.String(), "blocks", lost)
	}
	return nil
}

func (s *Store) loadMeta(want *[32]byte) error {
	var m storeMeta
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey)
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if m, err = decodeStoreMeta(b); err != nil {
			return fmt.Errorf("store %s: %w: %w", s.dir, ErrCorrupt, err)
		}
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		// A new store.
		m = storeMeta{Version: storeVersion, NextID: 1}
		if want != nil {
			m.PrimaryKey = *want
		} else if _, err := rand.Read(m.PrimaryKey[:]); err != nil {
			return err
		}
		if err := s.space.check(0); err != nil {
			return fmt.Errorf("create store %s: %w", s.dir, err)
		}
		err = s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey, m.encode()) })
	} else if err == nil && want != nil && *want != m.PrimaryKey {
		return fmt.Errorf("store %s already has a different primary key", s.dir)
	}
	if err != nil {
		return err
	}
	s.primary, s.nextID = m.PrimaryKey, m.NextID
	return nil
}

// Close closes every core and the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	derived := s.derived
	s.mu.Unlock()
	// Closing flushes each database's memtable to a table: the reserve file makes way if the disk
	// is too full for that.
	need := int64(openSpace + storeMemTableSize)
	if derived != nil {
		need += derivedMemTableSize
	}
	s.space.release(need)
	var errs []error
	if derived != nil {
		// Closing writes the memtables out; there is nothing to sync that cannot be rebuilt.
		if err := derived.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close derived database of store %s: %w", s.dir, err))
		}
	}
	err := s.syncer.wait(context.Background(), s.syncer.ticket())
	s.syncMu.Lock()
	s.syncClosed = true // a later Sync or Flush reports ErrClosed
	s.syncMu.Unlock()
	if err != nil {
		s.db.Close()
		s.data.close()
		return errors.Join(append(errs, fmt.Errorf("close store %s: %w", s.dir, err))...)
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store %s: %w", s.dir, err))
	}
	if err := s.data.close(); err != nil {
		errs = append(errs, fmt.Errorf("close store %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// badgerOptions are the options both of a store's Badger databases share. They keep the heap
// small and its size independent of how much the store holds:
//
//   - Tables are not compressed, and there is no block cache unless cacheBytes asks for one:
//     Badger reads blocks straight from the memory-mapped tables, so what it reads is page cache
//     (file-backed memory the kernel reclaims), not heap. With compression every read copied a
//     decompressed block into the heap, and every compaction ran compression goroutines.
//   - A compaction buffers the tables it builds in memory, up to a dozen at a time, each twice
//     the table size. Tables are 1 MiB and the same size at every level (TableSizeMultiplier 1),
//     so that this stays at a few tens of MB a compaction and does not double with every level a
//     growing store adds. (With 2 MiB tables a replica's anonymous memory peaked about 60 MB higher
//     in the soak.)
//   - The memtables (see storeMemTableSize) and the index cache are small and fixed.
func badgerOptions(dir string, log *slog.Logger, cacheBytes int64) badger.Options {
	bo := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(false).
		WithNumMemtables(3).
		WithNumLevelZeroTables(8).
		WithNumLevelZeroTablesStall(16).
		WithCompression(boptions.None).
		WithBlockCacheSize(cacheBytes).
		WithIndexCacheSize(16 << 20).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false).
		WithCompactL0OnClose(false).
		WithNumCompactors(2)
	bo.BaseTableSize = 1 << 20
	bo.TableSizeMultiplier = 1
	return bo
}

// DerivedDir is the subdirectory of a store that holds its derived database.
const DerivedDir = "derived"

// Derived returns the store's derived database, a second Badger database in the subdirectory
// DerivedDir, for state that other packages compute from the cores and can compute again (the
// datom indexes). It is opened on first use and closed with the store.
//
// It is never synced. Keeping derived writes out of the store's own database keeps them out of
// every append's sync, which would otherwise write them to disk once per transaction, and gives
// them a write goroutine of their own. The price is that after a power loss a derived database
// may be behind the cores, or, for writes that were themselves not synced, ahead of them: its
// users must record how far they got and check it against the cores when they open.
func (s *Store) Derived() (*badger.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store %s: %w", s.dir, ErrClosed)
	}
	if s.derived != nil {
		return s.derived, nil
	}
	dir := filepath.Join(s.dir, DerivedDir)
	if s.space.readOnly {
		if _, err := os.Stat(filepath.Join(dir, badger.ManifestFilename)); err != nil {
			return nil, fmt.Errorf("open derived database %s: %w: the store is open read-only, and the derived database was never created", dir, ErrDiskFull)
		}
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			if isNoSpace(err) {
				err = fmt.Errorf("%w: %w", ErrDiskFull, err)
			}
			return nil, fmt.Errorf("open derived database %s: %w", dir, err)
		}
	}
	// Derived keys are small and many: larger memtables were faster for the datom indexes (32 MiB
	// 167k, 64 MiB 176k, 128 MiB 170k datoms/s in BenchmarkTransact), but each takes its size of
	// heap on every node, datoms or not.
	bo := badgerOptions(dir, s.log, s.cache).
		WithValueThreshold(1 << 10).
		WithMemTableSize(derivedMemTableSize).
		WithReadOnly(s.space.readOnly)
	db, readOnly, err := s.space.open(bo)
	if err != nil {
		return nil, fmt.Errorf("open derived database %s: %w", dir, err)
	}
	if !readOnly {
		s.space.watch(dir, derivedMemTableSize)
	}
	s.derived = db
	return db, nil
}

// Sync makes every write committed to the store so far durable. Concurrent callers share one
// fsync.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.syncer.wait(ctx, s.syncer.ticket()); err != nil {
		return fmt.Errorf("sync store %s: %w", s.dir, err)
	}
	return nil
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// KeyPairFor returns the key pair of the named core in the default namespace.
func (s *Store) keyPairFor(name string) KeyPair {
	return KeyPairFromSeed(NamedSeed(s.primary, DefaultNamespace, name))
}

// KeyForName returns the key that the writable core called name has, or would have, in this store.
func (s *Store) KeyForName(name string) Key {
	return DefaultManifest(s.keyPairFor(name).PublicKey).Key()
}

// Create returns the writable core called name, creating it if it does not exist. Its key pair is
// derived from the primary key as Corestore 7 derives it. A name CheckName refuses is ErrBadName.
// Options (WithEncryptionKey) apply to a new core and are checked against an existing one.
func (s *Store) Create(ctx context.Context, name string, opts ...CoreOption) (*Core, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	co, err := newCoreOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("create core %q: %w", name, err)
	}
	kp := s.keyPairFor(name)
	m := DefaultManifest(kp.PublicKey)
	key := m.Key()
	c, err := s.openOrCreate(ctx, key, func() *header {
		return &header{Key: key, Manifest: &m, Name: name}
	})
	return co.apply(ctx, c, err)
}

// Replica returns the core with key, creating an empty read-only replica if the store does not
// hold it. Only local callers may create replicas: a remote peer must never make a node create a
// core, so network code uses Get. Options (WithEncryptionKey, WithBlockKey, WithEncrypted) apply
// to the core, new or existing.
func (s *Store) Replica(ctx context.Context, key Key, opts ...CoreOption) (*Core, error) {
	co, err := newCoreOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", key, err)
	}
	c, err := s.openOrCreate(ctx, key, func() *header { return &header{Key: key} })
	return co.apply(ctx, c, err)
}

// Get returns the core with key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key Key) (*Core, error) {
	return s.openOrCreate(ctx, key, nil)
}

func (s *Store) openOrCreate(ctx context.Context, key Key, create func() *header) (*Core, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store %s: %w", s.dir, ErrClosed)
	}
	if c, ok := s.cores[key]; ok {
		return c, nil
	}
	var id uint64
	var h *header
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyIndexKey(key))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 8 {
			return fmt.Errorf("%w: key index of %d bytes", ErrCorrupt, len(v))
		}
		id = beUint64(v)
		item, err = txn.Get(coreRecordKey(kindHeader, id))
		if err != nil {
			return fmt.Errorf("%w: header missing: %v", ErrCorrupt, err)
		}
		hb, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if h, err = decodeHeader(hb); err != nil {
			return fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
		if h.Key != key {
			return fmt.Errorf("%w: header holds key %s", ErrCorrupt, h.Key)
		}
		return nil
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		if create == nil {
			return nil, fmt.Errorf("core %s: %w", key, ErrNotFound)
		}
		h = create()
		id = s.nextID
		if err := s.space.check(0); err != nil {
			return nil, fmt.Errorf("create core %s: %w", key, err)
		}
		err = s.db.Update(func(txn *badger.Txn) error {
			m := storeMeta{Version: storeVersion, PrimaryKey: s.primary, NextID: id + 1}
			if err := txn.Set(metaKey, m.encode()); err != nil {
				return err
			}
			if err := txn.Set(keyIndexKey(key), be64(id)); err != nil {
				return err
			}
			dk := DiscoveryKey(key)
			if err := txn.Set(discIndexKey(dk), key[:]); err != nil {
				return err
			}
			return txn.Set(coreRecordKey(kindHeader, id), h.encode())
		})
		if err != nil {
			return nil, fmt.Errorf("create core %s: %w", key, err)
		}
		s.nextID = id + 1
		if s.durable {
			if err := s.db.Sync(); err != nil {
				return nil, fmt.Errorf("create core %s: %w", key, err)
			}
		}
		defer s.signalChange()
	case err != nil:
		return nil, fmt.Errorf("open core %s: %w", key, err)
	}
	c, err := newCore(ctx, s, id, h)
	if err != nil {
		return nil, err
	}
	s.cores[key] = c
	return c, nil
}

// Changed returns a channel that is closed at the next change of the set of cores worth serving:
// a core is created, or a core's length first rises above 0 (a replica's first verified data).
// Announcing every such core needs no polling: wait on Changed, then look at Keys.
func (s *Store) Changed() <-chan struct{} {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	return s.change
}

func (s *Store) signalChange() {
	s.changeMu.Lock()
	close(s.change)
	s.change = make(chan struct{})
	s.changeMu.Unlock()
}

// GetByDiscoveryKey returns the core announced under discovery key dk, or ErrNotFound. It is one
// index read: replication uses it to find the core a peer asks for, and never creates one.
func (s *Store) GetByDiscoveryKey(ctx context.Context, dk Key) (*Core, error) {
	var key Key
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(discIndexKey(dk))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 32 {
				return fmt.Errorf("%w: discovery index entry of %d bytes", ErrCorrupt, len(v))
			}
			copy(key[:], v)
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("core with discovery key %s: %w", dk, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("core with discovery key %s: %w", dk, err)
	}
	if DiscoveryKey(key) != dk {
		return nil, fmt.Errorf("core with discovery key %s: %w: index points at %s", dk, ErrCorrupt, key)
	}
	return s.Get(ctx, key)
}

// Keys lists the keys of every core in the store, in key order. It reads only the key index.
func (s *Store) Keys(ctx context.Context) ([]Key, error) {
	var keys []Key
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindKeyIndex}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if len(k) != 33 {
				return fmt.Errorf("%w: key index entry of %d bytes", ErrCorrupt, len(k))
			}
			keys = append(keys, Key(k[1:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cores in %s: %w", s.dir, err)
	}
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(string(a[:]), string(b[:])) })
	return keys, nil
}

// badgerLogger routes Badger's messages to slog: its info and debug chatter at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// DB returns the store's own Badger database, for packages that keep state beside the cores that
// must be as durable as they are (the peer's DHT records and peerstore). They must use keys whose
// first byte is at least ExtensionKeyPrefix; the lower prefixes belong to corestore. State that
// can be computed again from the cores belongs in Derived.
func (s *Store) DB() *badger.DB { return s.db }

// ExtensionKeyPrefix is the lowest first key byte other packages may use in DB.
const ExtensionKeyPrefix byte = 0x80
