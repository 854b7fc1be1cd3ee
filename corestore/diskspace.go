package corestore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrDiskFull: a write would leave less free disk space than the store keeps in reserve, or the
// store was opened read-only because its disk was full. Nothing was written; free space and retry.
var ErrDiskFull = errors.New("disk full")

// ReserveFileName is the file, inside a store's directory, that holds part of its disk reserve.
const ReserveFileName = "space.reserve"

// DefaultDiskReserve is the disk space a store keeps for itself unless WithDiskReserve says
// otherwise.
const DefaultDiskReserve = 128 << 20

// WithDiskReserve sets how much disk space, in bytes, the store keeps for itself (default
// DefaultDiskReserve); 0 turns the reserve off. Negative values count as 0.
//
// Badger writes its logs and tables through memory maps, and a write into a memory-mapped page
// that the filesystem cannot back kills the process (SIGBUS): it is not an error anyone could
// handle. So the store refuses, with ErrDiskFull, every write that would leave less than the
// reserve free, and keeps the reserve for what Badger must still write: memtables that are being
// flushed, compactions, and the flush when the store closes. Half of the reserve is held in the
// file ReserveFileName, so that another process filling the disk cannot take it; when the disk
// fills up the store releases it, and takes it again once there is room. The write-ahead log of
// each Badger memtable is allocated on disk before Badger writes into it.
func WithDiskReserve(n int64) Option { return func(o *options) { o.reserve = max(n, 0) } }

// openSpace is the free space, beyond the logs left to replay, a writable Badger database needs to
// open: the first page of a new memtable log and of a new value log, the discard-stats file, the
// manifest and key registry.
const openSpace = 4 << 20

// spaceGuard keeps a store's disk reserve. Its methods are safe for concurrent use; a nil guard
// allows everything.
type spaceGuard struct {
	dir     string // the store's directory: statfs is asked about its filesystem
	reserve int64  // free space writes must leave, with the reserve file counted as free
	hold    int64  // how much of it the reserve file holds
	log     *slog.Logger

	// readOnly is set when the store was opened read-only for want of space; every write fails.
	readOnly bool

	mu   sync.Mutex
	held int64 // bytes the reserve file holds now
	wals []*walWatch
}

// walWatch preallocates the memtable logs of one Badger database: Badger names them %05d.mem
// with increasing numbers, creates the next when a memtable fills, and writes them through a
// memory map.
type walWatch struct {
	dir     string
	next    uint64 // the number of the next log, not yet seen
	size    int64  // how much of each log to allocate
	pending uint64 // a log seen but not allocated for want of space, plus one; 0 if none
}

func newSpaceGuard(dir string, reserve int64, log *slog.Logger) *spaceGuard {
	return &spaceGuard{dir: dir, reserve: reserve, hold: reserve / 2, log: log}
}

// floor returns the free space below which writes are refused now: the reserve, less what the
// reserve file holds and would give back.
func (g *spaceGuard) floorLocked() int64 { return g.reserve - g.held }

// check returns nil when n more bytes may be written: when at least the reserve would remain
// free, counting the reserve file as free. Otherwise it releases the reserve file, so that Badger
// has room to finish what it has begun, and returns ErrDiskFull. It also allocates memtable logs
// Badger has created since the last check.
func (g *spaceGuard) check(n int64) error {
	if g == nil {
		return nil
	}
	if g.readOnly {
		return fmt.Errorf("%w: store %s was opened read-only because its disk was full; free space and open it again", ErrDiskFull, g.dir)
	}
	if g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.watchLocked()
	free, err := freeSpace(g.dir)
	if err != nil {
		return nil // no way to tell here: let Badger try
	}
	if free-n >= g.floorLocked() {
		if g.held < g.hold && free-n >= g.reserve+g.hold {
			g.fillLocked()
		}
		return nil
	}
	g.releaseLocked(free)
	return g.fullError(free)
}

// checkFreeing is check for a write that frees space, such as a clear: it goes ahead while the
// store is writable and Badger has room to log it, releasing the reserve file if it must.
func (g *spaceGuard) checkFreeing() error {
	if g == nil {
		return nil
	}
	if g.readOnly {
		return g.check(0)
	}
	if g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.watchLocked()
	free, err := freeSpace(g.dir)
	if err != nil || free >= openSpace {
		return nil
	}
	g.releaseLocked(free)
	if free, err = freeSpace(g.dir); err != nil || free >= openSpace {
		return nil
	}
	return g.fullError(free)
}

func (g *spaceGuard) fullError(free int64) error {
	return fmt.Errorf("%w: %s free on %s, and the store keeps a reserve of %s; free space and retry", ErrDiskFull, byteSize(free), g.dir, byteSize(g.reserve))
}

// fillLocked makes the reserve file hold g.hold bytes. It leaves the file empty when that fails.
func (g *spaceGuard) fillLocked() {
	path := filepath.Join(g.dir, ReserveFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		g.log.Debug("cannot create the disk reserve file", "path", path, "err", err)
		return
	}
	defer f.Close()
	if err := allocate(f, 0, g.hold, false); err != nil {
		f.Truncate(0)
		g.held = 0
		g.log.Debug("cannot fill the disk reserve file", "path", path, "err", err)
		return
	}
	g.held = g.hold
}

// releaseLocked empties the reserve file, giving its space back to the filesystem.
func (g *spaceGuard) releaseLocked(free int64) {
	if g.held == 0 {
		return
	}
	path := filepath.Join(g.dir, ReserveFileName)
	if err := os.Truncate(path, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		g.log.Warn("cannot release the disk reserve file", "path", path, "err", err)
		return
	}
	g.log.Warn("the disk is nearly full: writes are refused, and the store released its disk reserve so that the database can finish its work",
		"store", g.dir, "free", byteSize(free), "released", byteSize(g.held))
	g.held = 0
}

// release empties the reserve file if free space is below need.
func (g *spaceGuard) release(need int64) {
	if g == nil || g.readOnly {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if free, err := freeSpace(g.dir); err == nil && free < need {
		g.releaseLocked(free)
	}
}

// start records what the reserve file holds after the store opened writable, fills it if there is
// room, and starts watching the memtable logs of the Badger database in dir.
func (g *spaceGuard) start(memTableSize int64) {
	if g == nil || g.readOnly || g.reserve == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = min(allocatedBytes(filepath.Join(g.dir, ReserveFileName)), g.hold)
	if free, err := freeSpace(g.dir); err == nil && g.held < g.hold && free >= g.reserve+g.hold {
		g.fillLocked()
	}
	g.watchDirLocked(g.dir, memTableSize)
}

// watch starts allocating the memtable logs of another Badger database, in dir.
func (g *spaceGuard) watch(dir string, memTableSize int64) {
	if g == nil || g.readOnly || g.reserve == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.watchDirLocked(dir, memTableSize)
}

func (g *spaceGuard) watchDirLocked(dir string, memTableSize int64) {
	// A memtable takes writes until its log passes memTableSize; one batch may go past it, and a
	// batch is at most 15% of the memtable size (badger v4.9.6, db.go:154).
	w := &walWatch{dir: dir, size: memTableSize + memTableSize*15/100 + 1<<20}
	fids := memtableLogs(dir)
	if len(fids) > 0 {
		newest := fids[len(fids)-1]
		g.preallocateLocked(w, newest)
		w.next = newest + 1
	}
	g.wals = append(g.wals, w)
}

// watchLocked allocates the memtable logs created since the last call, and one left unallocated
// for want of space if there is room now: one stat per database when there is nothing to do.
func (g *spaceGuard) watchLocked() {
	for _, w := range g.wals {
		if w.pending != 0 {
			fid := w.pending - 1
			w.pending = 0
			g.preallocateLocked(w, fid)
		}
		for {
			if _, err := os.Stat(w.path(w.next)); err != nil {
				break
			}
			g.preallocateLocked(w, w.next)
			w.next++
		}
	}
}

// preallocateLocked preallocates log fid of w if that leaves half the reserve free: Badger's
// flushes and compactions need that space more than the log does, and when it is short, writes
// are refused anyway. Otherwise the log is left for a later check.
func (g *spaceGuard) preallocateLocked(w *walWatch, fid uint64) {
	if _, err := os.Stat(w.path(fid)); err != nil {
		return // flushed and removed meanwhile
	}
	if free, err := freeSpace(w.dir); err != nil || free-w.size < g.reserve/2 {
		w.pending = fid + 1
		return
	}
	w.preallocate(fid, g.log)
}

func (w *walWatch) path(fid uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%05d.mem", fid))
}

// preallocate allocates the first w.size bytes of memtable log fid, so that Badger's writes into
// its memory map never meet a page the filesystem cannot back. Failure only leaves the log as
// Badger made it.
func (w *walWatch) preallocate(fid uint64, log *slog.Logger) {
	f, err := os.OpenFile(w.path(fid), os.O_RDWR, 0)
	if err != nil {
		return // flushed and removed meanwhile
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return
	}
	if err := allocate(f, 0, min(w.size, st.Size()), true); err != nil {
		log.Debug("cannot preallocate a memtable log", "path", f.Name(), "err", err)
	}
}

// memtableLogs returns the numbers of the memtable logs in dir, in increasing order.
func memtableLogs(dir string) []uint64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var fids []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".mem")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			fids = append(fids, n)
		}
	}
	slices.Sort(fids)
	return fids
}

// replaySpace returns the space opening the Badger database in dir writable may need before any
// write of ours: the memtable logs a crash left are flushed to tables, and each such table is about
// the size of the data in its log, less what Badger frees first by cutting the log's empty,
// preallocated tail. It also returns that tail: what the logs hold that opening frees.
func replaySpace(dir string) (need, tail int64) {
	for _, fid := range memtableLogs(dir) {
		data, alloc := logExtent(filepath.Join(dir, fmt.Sprintf("%05d.mem", fid)))
		free := max(alloc-data, 0)
		// A table takes a little more than the entries it holds: an index, a bloom filter.
		need += max(data+data/4+64<<10-free, 0)
		tail += free
	}
	return need, tail
}

// logExtent returns how far the file at path holds anything but zeros, and the disk space it
// takes. Badger writes its logs from the start, so everything past that is unwritten.
func logExtent(path string) (data, alloc int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0
	}
	alloc = allocatedBytes(path)
	end := min(st.Size(), dataEnd(f, st.Size()))
	buf := make([]byte, 1<<20)
	for end > 0 {
		lo := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-lo], lo)
		if err != nil && n < int(end-lo) {
			return end, alloc // unreadable: count it all
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] != 0 {
				return lo + int64(i) + 1, alloc
			}
		}
		end = lo
	}
	return 0, alloc
}

// openMode decides whether the Badger database in dir can be opened writable without risking a
// write Badger cannot make: it needs free space for the logs it replays and the files it creates,
// and half the reserve beyond that for the flushes and compactions that may follow. When there is
// not enough, the reserve file is released first; if there is still not enough, the database is to
// be opened read-only. It returns the free space it found.
func (g *spaceGuard) openMode(dir string) (readOnly bool, free int64) {
	if g == nil || g.reserve == 0 {
		return false, -1
	}
	free, err := freeSpace(dir)
	if err != nil {
		return false, -1
	}
	replay, _ := replaySpace(dir)
	need := openSpace + replay + g.reserve/2
	if free >= need {
		return false, free
	}
	if held := allocatedBytes(filepath.Join(g.dir, ReserveFileName)); held > 0 {
		if err := os.Truncate(filepath.Join(g.dir, ReserveFileName), 0); err == nil {
			g.log.Warn("the disk is nearly full: released the store's disk reserve to open it", "store", g.dir, "free", byteSize(free), "released", byteSize(held))
			if free, err = freeSpace(dir); err != nil {
				return false, -1
			}
		}
	}
	return free < need, free
}

// open opens the Badger database bo describes: writable when openMode finds room for it, or when
// bo asks for read-only, read-only. A read-only Badger cannot replay a memtable log a crash left;
// then, if cutting the logs' empty tails frees enough to flush them, it opens writable after all,
// since reading the store needs it, and otherwise fails with ErrDiskFull.
func (g *spaceGuard) open(bo badger.Options) (*badger.DB, bool, error) {
	readOnly, free := bo.ReadOnly, int64(-1)
	if !readOnly {
		readOnly, free = g.openMode(bo.Dir)
	}
	db, err := badger.Open(bo.WithReadOnly(readOnly))
	if err == nil {
		if readOnly && !bo.ReadOnly {
			g.log.Warn("the disk is full: opened read-only, and writes fail until the store is opened again with space free",
				"dir", bo.Dir, "free", byteSize(free), "reserve", byteSize(g.reserve))
		}
		return db, readOnly, nil
	}
	if !readOnly || bo.ReadOnly {
		if isNoSpaceMessage(err) {
			err = fmt.Errorf("%w: %s free: %v", ErrDiskFull, byteSize(free), err)
		}
		return nil, false, err
	}
	replay, tail := replaySpace(bo.Dir)
	if !strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error()) || free+tail < openSpace+replay {
		return nil, false, fmt.Errorf("%w: %s free, too little to open for writing (the logs left by a crash need %s), and read-only: %v",
			ErrDiskFull, byteSize(free), byteSize(replay), err)
	}
	g.log.Warn("the disk is full, but reading the store needs its logs replayed: opening it for writing with little space",
		"dir", bo.Dir, "free", byteSize(free), "replay", byteSize(replay))
	if db, err = badger.Open(bo); err != nil {
		if isNoSpaceMessage(err) {
			err = fmt.Errorf("%w: %s free: %v", ErrDiskFull, byteSize(free), err)
		}
		return nil, false, err
	}
	return db, false, nil
}

// isNoSpaceMessage reports whether err, which Badger may have flattened to text, says the disk is
// full.
func isNoSpaceMessage(err error) bool {
	return isNoSpace(err) || strings.Contains(err.Error(), syscall.ENOSPC.Error())
}

// isNoSpace reports whether err is the filesystem's "no space left on device" (or over quota).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// byteSize formats n bytes for a message: "117 MiB", "4.0 KiB", "12 bytes".
func byteSize(n int64) string {
	const k = 1 << 10
	switch {
	case n < 0:
		return "unknown"
	case n < k:
		return fmt.Sprintf("%d bytes", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < 100*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	case n < k*k*k:
		return fmt.Sprintf("%.0f MiB", float64(n)/(k*k))
	default:
		return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
	}
}
