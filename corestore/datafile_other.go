//go:build !linux

package corestore

import "os"

// writeBlocksAt writes blocks back to back at off, through one buffer. It returns the bytes
// written.
func writeBlocksAt(f *os.File, blocks [][]byte, off int64) (int64, error) {
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	buf := make([]byte, 0, total)
	for _, b := range blocks {
		buf = append(buf, b...)
	}
	n, err := f.WriteAt(buf, off)
	return int64(n), err
}

// punchHole is not available here: dropped blocks keep their space until the store is rebuilt.
func punchHole(f *os.File, off, n int64) error { return nil }

// syncData flushes the file to disk.
func syncData(f *os.File) error { return f.Sync() }
