package blobs

import (
	"fmt"

	flatfs "github.com/ipfs/go-ds-flatfs"
)

// BlockDir is a directory of block files: go-ds-flatfs with Kubo's layout (a directory per
// next-to-last two characters of the key) and Kubo's default of no fsync per block. Give it to
// New with WithBlockDatastore; close it after the store.
type BlockDir = flatfs.Datastore

// OpenBlockDir opens, or creates, the block directory dir.
func OpenBlockDir(dir string) (*BlockDir, error) {
	d, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), false)
	if err != nil {
		return nil, fmt.Errorf("open blob block directory %s: %w", dir, err)
	}
	return d, nil
}
