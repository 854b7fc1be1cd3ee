package corestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// DataFileName is the file, inside a store's directory, that holds the blocks of its replicas.
const DataFileName = "replicated.blocks"

// dataFile is the store's append-only file of replicated blocks.
//
// A replica's blocks are written here, with one positioned write per proof, and Badger keeps only
// a small record that says where they are (an external segment). This keeps the bulk of a
// download out of Badger's value log, which would copy every byte twice more and checksum it,
// and leaves the disk as the limit. An owner's blocks stay in Badger, where they commit
// atomically with the signed tree they belong to; a replica's blocks can always be fetched again,
// and a block that a crash lost is found by its hash (see Store.recoverUnsynced).
//
// Space is never reused: a write always goes to the end. Dropped blocks (Clear, a truncation) are
// punched out of the file, which frees their disk space but keeps every offset valid.
type dataFile struct {
	f    *os.File
	path string

	mu     sync.Mutex // serializes writes, so that every byte below end is written
	end    int64      // where the next write goes
	synced int64      // every byte below it has been synced (guarded by mu)

	freedMu sync.Mutex
	freed   []extent // unreferenced by commits not yet synced; punched after the next sync

	// rw orders reads against punches: a reader holds it shared from before it looks up where
	// blocks are until it has read them, and a punch holds it alone, so that no reader finds a
	// hole where its snapshot of the store says blocks are.
	rw sync.RWMutex
}

// openDataFile opens the data file at path, creating it unless readOnly. Read-only, a missing file
// is an empty one.
func openDataFile(path string, readOnly bool) (*dataFile, error) {
	flags := os.O_RDWR | os.O_CREATE
	if readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if readOnly && errors.Is(err, fs.ErrNotExist) {
		return &dataFile{path: path}, nil
	}
	if err != nil {
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return nil, fmt.Errorf("open data file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	return &dataFile{f: f, path: path, end: st.Size()}, nil
}

// append writes blocks one after another at the end of the file and returns where the first
// begins.
func (d *dataFile) append(blocks [][]byte) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	off := d.end
	if d.f == nil {
		return 0, fmt.Errorf("write data file %s: %w: the store is open read-only", d.path, ErrDiskFull)
	}
	n, err := writeBlocksAt(d.f, blocks, off)
	if err != nil {
		// Whatever part was written is referenced by nothing; the next write goes past it.
		d.end += n
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return 0, fmt.Errorf("write data file %s at %d: %w", d.path, off, err)
	}
	d.end += n
	return off, nil
}

// readAt fills p from offset off; bytes missing from the file are an error.
func (d *dataFile) readAt(p []byte, off int64) error {
	if d.f == nil {
		return fmt.Errorf("read data file %s at %d: %w: the file is missing", d.path, off, ErrCorrupt)
	}
	n, err := d.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: the file ends %d bytes short", ErrCorrupt, len(p)-n)
	}
	return fmt.Errorf("read data file %s at %d: %w", d.path, off, err)
}

// extent is a range of bytes of the data file.
type extent struct{ off, n int64 }

// free queues extents that committed transactions no longer refer to. They are punched out after
// the next sync, once those commits are durable; a crash before that only leaks their space.
func (d *dataFile) free(es []extent) {
	d.freedMu.Lock()
	d.freed = append(d.freed, es...)
	d.freedMu.Unlock()
}

// takeFreed returns the extents queued by free, and empties the queue.
func (d *dataFile) takeFreed() []extent {
	d.freedMu.Lock()
	defer d.freedMu.Unlock()
	es := d.freed
	d.freed = nil
	return es
}

// punch frees the extents' disk space now. Nothing may refer to them, not even after a crash.
func (d *dataFile) punch(es []extent) {
	if len(es) == 0 {
		return
	}
	d.rw.Lock()
	defer d.rw.Unlock()
	for _, e := range es {
		if e.n > 0 && d.f != nil {
			// A failed punch only leaves the space allocated; the bytes are unreferenced either way.
			_ = punchHole(d.f, e.off, e.n)
		}
	}
}

// sync makes every completed write durable. It returns the length covered and whether there was
// anything to sync.
func (d *dataFile) sync() (int64, bool, error) {
	d.mu.Lock()
	end := d.end
	dirty := end > d.synced
	d.mu.Unlock()
	if !dirty || d.f == nil {
		return end, false, nil
	}
	if err := syncData(d.f); err != nil {
		return 0, false, fmt.Errorf("sync data file %s: %w", d.path, err)
	}
	d.mu.Lock()
	d.synced = max(d.synced, end)
	d.mu.Unlock()
	return end, true, nil
}

// reserve moves the end past n, for references recovered from the store that reach beyond the
// file as it is now.
func (d *dataFile) reserve(n int64) {
	d.mu.Lock()
	d.end = max(d.end, n)
	d.mu.Unlock()
}

// markClean records that nothing written so far needs a sync.
func (d *dataFile) markClean() {
	d.mu.Lock()
	d.synced = d.end
	d.mu.Unlock()
}

func (d *dataFile) close() error {
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// skipBytes drops the first n bytes of blocks, which a short write has already written.
func skipBytes(blocks [][]byte, n int) [][]byte {
	for len(blocks) > 0 && n >= len(blocks[0]) {
		n -= len(blocks[0])
		blocks = blocks[1:]
	}
	if len(blocks) > 0 && n > 0 {
		blocks = append([][]byte{blocks[0][n:]}, blocks[1:]...)
	}
	return blocks
}
