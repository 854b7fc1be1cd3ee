//go:build !linux

package corestore

import (
	"errors"
	"os"
)

var errNoStatfs = errors.New("free disk space is not known on this platform")

// freeSpace is not known here: the store keeps no reserve, and a full disk is Badger's to handle.
func freeSpace(path string) (int64, error) { return 0, errNoStatfs }

// allocate is not available here.
func allocate(f *os.File, off, n int64, keepSize bool) error { return errNoStatfs }

// allocatedBytes returns the size of the file at path, 0 if there is none.
func allocatedBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// dataEnd cannot find holes here: it returns size.
func dataEnd(f *os.File, size int64) int64 { return size }
