//go:build linux

package corestore

import (
	"os"

	"golang.org/x/sys/unix"
)

// freeSpace returns the bytes an unprivileged process may still write to the filesystem that holds
// path.
func freeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// allocate allocates disk space for bytes [off, off+n) of f; with keepSize the file's size does not
// change.
func allocate(f *os.File, off, n int64, keepSize bool) error {
	if n <= 0 {
		return nil
	}
	mode := uint32(0)
	if keepSize {
		mode = unix.FALLOC_FL_KEEP_SIZE
	}
	for {
		err := unix.Fallocate(int(f.Fd()), mode, off, n)
		if err != unix.EINTR {
			return err
		}
	}
}

// allocatedBytes returns the disk space the file at path takes, 0 if there is none.
func allocatedBytes(path string) int64 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// dataEnd returns where the first hole at or after the start of f begins, or size if the
// filesystem cannot tell.
func dataEnd(f *os.File, size int64) int64 {
	off, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_HOLE)
	if err != nil {
		return size
	}
	return off
}
