//go:build linux

package corestore

import (
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// maxIOV is the most buffers one pwritev takes (IOV_MAX on Linux).
const maxIOV = 1024

// writeBlocksAt writes blocks back to back at off with vectored writes, straight from the
// caller's buffers. It returns the bytes written.
func writeBlocksAt(f *os.File, blocks [][]byte, off int64) (int64, error) {
	var done int64
	fd := int(f.Fd())
	for len(blocks) > 0 {
		iov := blocks[:min(len(blocks), maxIOV)]
		want := 0
		for _, b := range iov {
			want += len(b)
		}
		n, err := unix.Pwritev(fd, iov, off+done)
		if n > 0 {
			done += int64(n)
		}
		if err == unix.EINTR {
			err = nil
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.ErrShortWrite
		}
		if n < want {
			// A short write: go on from the first byte not written.
			blocks = skipBytes(blocks, n)
			continue
		}
		blocks = blocks[len(iov):]
	}
	runtime.KeepAlive(f) // the descriptor must stay open until the writes are done
	return done, nil
}

// punchHole frees the file's space for [off, off+n) and leaves zeros there.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// syncData flushes the file's data, and the metadata needed to read it, to disk.
func syncData(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
