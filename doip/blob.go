package doip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// BlobStore holds element bytes, content-addressed. The repository needs only these two
// calls, so any store fits: corestore/blobs (UnixFS, pinned, fetched over bitswap) through an
// adapter, or the simple stores below.
type BlobStore interface {
	// Put stores what r yields until io.EOF and returns its CID and size.
	Put(ctx context.Context, r io.Reader) (cid.Cid, int64, error)
	// Open returns a reader of the blob and its size, or an error wrapping ErrBlobNotFound.
	Open(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error)
}

// ErrBlobNotFound is returned by BlobStore.Open for a blob the store does not hold.
var ErrBlobNotFound = errors.New("blob not found")

// rawCID is CIDv1, raw codec, sha2-256: the CID of the simple stores below. (It equals the
// UnixFS CID of corestore/blobs only for blobs of one chunk.)
func rawCID(sum []byte) cid.Cid {
	m, _ := mh.Encode(sum, mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m)
}

// MemBlobs is a BlobStore in memory, for tests.
type MemBlobs struct {
	mu    sync.RWMutex
	blobs map[cid.Cid][]byte
}

// NewMemBlobs returns an empty MemBlobs.
func NewMemBlobs() *MemBlobs { return &MemBlobs{blobs: map[cid.Cid][]byte{}} }

// Put implements BlobStore.
func (m *MemBlobs) Put(ctx context.Context, r io.Reader) (cid.Cid, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return cid.Undef, 0, err
	}
	sum := sha256.Sum256(b)
	c := rawCID(sum[:])
	m.mu.Lock()
	m.blobs[c] = b
	m.mu.Unlock()
	return c, int64(len(b)), nil
}

// Open implements BlobStore.
func (m *MemBlobs) Open(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error) {
	m.mu.RLock()
	b, ok := m.blobs[c]
	m.mu.RUnlock()
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrBlobNotFound, c)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// FileBlobs is a BlobStore of files in a directory, one per blob, named by CID. A Put streams
// to a temporary file while it hashes, then renames it, so a blob is never held in memory.
type FileBlobs struct {
	dir string
}

// NewFileBlobs returns the FileBlobs in dir, creating dir.
func NewFileBlobs(dir string) (*FileBlobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory %s: %w", dir, err)
	}
	return &FileBlobs{dir: dir}, nil
}

// Put implements BlobStore.
func (f *FileBlobs) Put(ctx context.Context, r io.Reader) (cid.Cid, int64, error) {
	tmp, err := os.CreateTemp(f.dir, ".put-*")
	if err != nil {
		return cid.Undef, 0, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), ctxReader{ctx, r}, make([]byte, 256<<10))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cid.Undef, 0, err
	}
	c := rawCID(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, c.String())); err != nil {
		return cid.Undef, 0, err
	}
	return c, n, nil
}

// Open implements BlobStore.
func (f *FileBlobs) Open(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error) {
	file, err := os.Open(filepath.Join(f.dir, c.String()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s", ErrBlobNotFound, c)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	return file, st.Size(), nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
