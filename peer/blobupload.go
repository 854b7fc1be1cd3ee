package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
)

// Uploads carry a blob being added through the local API in chunks (OpBlobUpload), since a
// request body is read whole: each upload is one blobs.Store.Add, reading from a pipe that the
// chunks are written into, so memory holds a few chunks whatever the blob's size and a chunk is
// acknowledged once the import has taken it.

// ErrNoUpload is returned for an upload ID the node does not know: it completed, failed, was
// abandoned (no chunk for uploadIdle), or the node restarted.
var ErrNoUpload = errors.New("no such upload")

// errUploadAbandoned ends an upload whose client stopped sending.
var errUploadAbandoned = errors.New("upload abandoned: no chunk arrived for a while")

// uploadIdle is how long an upload waits for its next chunk before it is abandoned.
const uploadIdle = 2 * time.Minute

// uploads are a repo's uploads in progress.
type uploads struct {
	store  *blobs.Store
	ctx    context.Context // canceled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the imports

	mu     sync.Mutex
	m      map[string]*upload
	closed bool
}

// upload is one import fed by chunks.
type upload struct {
	pw     *io.PipeWriter
	cancel context.CancelFunc
	timer  *time.Timer
	done   chan struct{} // closed when the import ended; then ref and err are set
	ref    blobs.Ref
	err    error

	mu sync.Mutex // serialises the chunks
	n  uint64     // bytes received
}

func newUploads(s *blobs.Store) *uploads {
	u := &uploads{store: s, m: map[string]*upload{}}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	return u
}

// start begins an import and returns its ID.
func (us *uploads) start(opts ...blobs.AddOption) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ctx, cancel := context.WithCancel(us.ctx)
	pr, pw := io.Pipe()
	u := &upload{pw: pw, cancel: cancel, done: make(chan struct{})}
	us.mu.Lock()
	if us.closed {
		us.mu.Unlock()
		cancel()
		return "", fmt.Errorf("upload: %w", blobs.ErrClosed)
	}
	us.m[id] = u
	u.timer = time.AfterFunc(uploadIdle, func() { us.abandon(id, u) })
	us.wg.Add(1)
	us.mu.Unlock()
	go func() {
		defer us.wg.Done()
		defer cancel()
		u.ref, u.err = us.store.Add(ctx, pr, opts...)
		if u.err != nil {
			pr.CloseWithError(u.err) // the chunk being written, or the next, fails with it
		} else {
			pr.Close()
		}
		close(u.done)
	}()
	return id, nil
}

// get returns upload id.
func (us *uploads) get(id string) (*upload, error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	u, ok := us.m[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNoUpload, id)
	}
	return u, nil
}

// write feeds data to upload id; with end it completes the import and returns the blob.
func (us *uploads) write(ctx context.Context, id string, data []byte, end bool) (uint64, blobs.Ref, error) {
	u, err := us.get(id)
	if err != nil {
		return 0, blobs.Ref{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.timer.Reset(uploadIdle)
	if len(data) > 0 {
		stop := context.AfterFunc(ctx, func() { u.cancel() }) // a client that goes away mid-chunk ends the upload
		_, werr := u.pw.Write(data)
		stop()
		if werr != nil {
			<-u.done
			us.remove(id, u)
			return u.n, blobs.Ref{}, u.err
		}
		u.n += uint64(len(data))
	}
	if !end {
		return u.n, blobs.Ref{}, nil
	}
	u.pw.Close()
	select {
	case <-u.done:
	case <-ctx.Done():
		u.cancel()
		<-u.done
	}
	us.remove(id, u)
	if u.err != nil {
		return u.n, blobs.Ref{}, u.err
	}
	return u.n, u.ref, nil
}

// abort ends upload id: nothing of it is recorded.
func (us *uploads) abort(id string) error {
	u, err := us.get(id)
	if err != nil {
		return err
	}
	us.abandon(id, u)
	return nil
}

func (us *uploads) abandon(id string, u *upload) {
	u.pw.CloseWithError(errUploadAbandoned)
	u.cancel()
	us.remove(id, u)
}

func (us *uploads) remove(id string, u *upload) {
	u.timer.Stop()
	us.mu.Lock()
	if us.m[id] == u {
		delete(us.m, id)
	}
	us.mu.Unlock()
}

// close ends every upload in progress and waits for their imports.
func (us *uploads) close() {
	us.mu.Lock()
	us.closed = true
	for id, u := range us.m {
		u.timer.Stop()
		u.pw.CloseWithError(blobs.ErrClosed)
		delete(us.m, id)
	}
	us.mu.Unlock()
	us.cancel()
	us.wg.Wait()
}
