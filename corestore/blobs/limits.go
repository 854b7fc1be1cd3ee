package blobs

import "fmt"

// Limits bound what the store accepts, from its own imports and, above all, from other peers:
// every block a fetcher hands to the store is checked against them before it is written.
type Limits struct {
	// MaxSize is the largest blob, in file bytes (default 64 GiB).
	MaxSize uint64
	// MaxBlockSize is the largest block, in bytes (default 2 MiB, bitswap's limit; imports write
	// 256 KiB leaves and nodes of about 8 KiB).
	MaxBlockSize int
	// MaxLinks is the most links one node may have (default 1024; imports write 174).
	MaxLinks int
	// MaxDepth is the deepest a DAG may be, the root being at depth 0 (default 32; a balanced
	// import of 64 GiB has depth 3).
	MaxDepth int
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxSize: 64 << 30, MaxBlockSize: 2 << 20, MaxLinks: 1024, MaxDepth: 32}
}

func (l Limits) check() error {
	switch {
	case l.MaxSize == 0:
		return fmt.Errorf("%w: maximum blob size must be positive", ErrInvalidOption)
	case l.MaxBlockSize < ChunkSize+1024:
		return fmt.Errorf("%w: maximum block size %d is below the import chunk size %d", ErrInvalidOption, l.MaxBlockSize, ChunkSize)
	case l.MaxLinks < LinksPerNode:
		return fmt.Errorf("%w: maximum links %d is below the import's %d", ErrInvalidOption, l.MaxLinks, LinksPerNode)
	case l.MaxDepth < 1:
		return fmt.Errorf("%w: maximum depth must be at least 1", ErrInvalidOption)
	}
	return nil
}
