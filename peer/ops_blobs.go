package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/protocols/blobsync"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// blobRoutes are the operations on blobs.
func blobRoutes() []route {
	return []route{OpBlobUpload, OpBlobGet, OpBlobCat, OpBlobStat, OpPin, OpUnpin, OpPins, OpGC}
}

// IsBlobCID reports whether s stands for a blob rather than a core: it is not a core key, and
// it parses as a CID (of any codec: blobs.ParseCID then says which it does not support) or is
// as long as CIDs are and starts as they do (Qm, baf), so that a mistyped CID is reported as one
// and a core's name is not taken for one.
func IsBlobCID(s string) bool {
	if _, err := corestore.ParseKey(s); err == nil {
		return false
	}
	_, err := blobs.ParseCID(s)
	return err == nil || !errors.Is(err, blobs.ErrInvalidCID) ||
		strings.HasPrefix(s, "Qm") && len(s) == 46 || strings.HasPrefix(s, "baf") && len(s) >= 50 && len(s) <= 70
}

// BlobInfo describes a blob of the repo.
type BlobInfo struct {
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
	// Complete says that the repo holds every block of it.
	Complete bool `json:"complete"`
	Pinned   bool `json:"pinned"`
}

// blobInfo describes the blob root of s; a root block the store lacks gives size 0 and not
// complete.
func blobInfo(ctx context.Context, s *blobs.Store, root cid.Cid) (BlobInfo, error) {
	in := BlobInfo{CID: root.String()}
	var err error
	if in.Pinned, err = s.IsPinned(ctx, root); err != nil {
		return in, err
	}
	ref, err := s.Stat(ctx, root)
	switch {
	case errors.Is(err, blobs.ErrNotFound):
		return in, nil
	case err != nil:
		return in, err
	}
	in.Size = ref.Size
	in.Complete, err = s.Complete(ctx, root)
	return in, err
}

// parseBlobCID parses a blob CID from a request.
func parseBlobCID(s string) (cid.Cid, error) {
	return blobs.ParseCID(s)
}

// BlobUploadRequest is one chunk of a blob being added: the first (ID empty) opens the upload
// and names its ID in the reply, the last has End. Data travels as base64 in JSON.
type BlobUploadRequest struct {
	ID    string `json:"id,omitempty"`
	Data  []byte `json:"data,omitempty"`
	End   bool   `json:"end,omitempty"`
	Abort bool   `json:"abort,omitempty"`
	// Pin, with the first chunk, pins the blob when it is recorded.
	Pin bool `json:"pin,omitempty"`
}

// BlobUploadReply says how much of an upload arrived and, after the last chunk, what blob it
// made.
type BlobUploadReply struct {
	ID    string    `json:"id"`
	Bytes uint64    `json:"bytes"`
	Blob  *BlobInfo `json:"blob,omitempty"`
}

// UploadChunk is the size of the chunks AddBlob sends a daemon.
const UploadChunk = 1 << 20

// OpBlobUpload adds a blob sent in chunks, as AddBlob does through a daemon: one import reads
// the chunks as they come, so memory holds a few of them whatever the size. An upload with no
// chunk for two minutes is abandoned; one that fails (too large, a full disk) records and pins
// nothing.
var OpBlobUpload = Op[BlobUploadRequest, BlobUploadReply]{Name: "blob-upload", MaxBody: 4 * UploadChunk,
	Run: func(ctx context.Context, l *Local, req BlobUploadRequest) (BlobUploadReply, error) {
		r, err := l.Repo(ctx)
		if err != nil {
			return BlobUploadReply{}, err
		}
		us, err := r.blobUploads()
		if err != nil {
			return BlobUploadReply{}, err
		}
		if req.Abort {
			return BlobUploadReply{ID: req.ID}, us.abort(req.ID)
		}
		id := req.ID
		if id == "" {
			var opts []blobs.AddOption
			if req.Pin {
				opts = append(opts, blobs.WithPin())
			}
			if id, err = us.start(opts...); err != nil {
				return BlobUploadReply{}, err
			}
		}
		n, ref, err := us.write(ctx, id, req.Data, req.End)
		if err != nil {
			return BlobUploadReply{ID: id, Bytes: n}, fmt.Errorf("add: %w", err)
		}
		rep := BlobUploadReply{ID: id, Bytes: n}
		if req.End {
			in, err := blobInfo(ctx, us.store, ref.CID)
			if err != nil {
				return rep, err
			}
			rep.Blob = &in
		}
		return rep, nil
	}}

// AddBlobOptions configures AddBlob.
type AddBlobOptions struct {
	// Pin pins the blob, so that GC keeps it until it is unpinned.
	Pin bool
	// OnProgress is called with the bytes read from r so far.
	OnProgress func(bytes uint64)
}

// AddBlob imports r as a blob into the repo behind b and returns it: directly on a Local, and
// through a daemon in chunks (OpBlobUpload). Its CID is Kubo's `ipfs add --cid-version=1` CID
// for the same bytes. If it fails, nothing is recorded or pinned.
func AddBlob(ctx context.Context, b Backend, r io.Reader, o AddBlobOptions) (BlobInfo, error) {
	if l, ok := b.(*Local); ok {
		s, err := l.Blobs(ctx)
		if err != nil {
			return BlobInfo{}, err
		}
		var opts []blobs.AddOption
		if o.Pin {
			opts = append(opts, blobs.WithPin())
		}
		if o.OnProgress != nil {
			opts = append(opts, blobs.WithProgress(o.OnProgress))
		}
		ref, err := s.Add(ctx, r, opts...)
		if err != nil {
			return BlobInfo{}, fmt.Errorf("add: %w", err)
		}
		return blobInfo(ctx, s, ref.CID)
	}
	buf := make([]byte, UploadChunk)
	req := BlobUploadRequest{Pin: o.Pin}
	for {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			abortUpload(ctx, b, req.ID)
			return BlobInfo{}, fmt.Errorf("add: read the input: %w", rerr)
		}
		req.Data, req.End = buf[:n], rerr != nil
		rep, err := Call(ctx, b, OpBlobUpload, req)
		if err != nil {
			if ctx.Err() != nil {
				abortUpload(ctx, b, req.ID)
			}
			return BlobInfo{}, err
		}
		req.ID, req.Pin = rep.ID, false
		if o.OnProgress != nil {
			o.OnProgress(rep.Bytes)
		}
		if rep.Blob != nil {
			return *rep.Blob, nil
		}
	}
}

// abortUpload tells the daemon to drop upload id, even after ctx ended.
func abortUpload(ctx context.Context, b Backend, id string) {
	if id == "" {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	Call(actx, b, OpBlobUpload, BlobUploadRequest{ID: id, Abort: true})
}

// BlobGetRequest names a blob to fetch into the repo.
type BlobGetRequest struct {
	CID string `json:"cid"`
	// Peers are dialed for this fetch, besides the DHT's providers. Bootstrap peers are used by
	// the node the fetch starts when no daemon runs; a daemon asks them too.
	Peers     []string `json:"peers,omitempty"`
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Timeout bounds the DHT lookup of providers (default 30 s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Pin pins the blob once it is complete.
	Pin bool `json:"pin,omitempty"`
}

// BlobProgress is a blob fetch's progress.
type BlobProgress struct {
	// Blocks and Bytes count what arrived; Need is the bytes the fetch had to get (the blob's
	// size for a fresh fetch, once its root arrived; what was missing for a resumed one).
	Blocks    uint64        `json:"blocks"`
	Bytes     uint64        `json:"bytes"`
	Need      uint64        `json:"need"`
	Providers int           `json:"providers"`
	Elapsed   time.Duration `json:"elapsed"`
}

// Blob sources, as BlobGetReply.Source gives them.
const (
	// BlobSourceLocal: the repo held the whole blob already.
	BlobSourceLocal = "local"
	// BlobSourceNetwork: blocks were fetched from providers.
	BlobSourceNetwork = "network"
)

// BlobGetReply says what a blob fetch did.
type BlobGetReply struct {
	Blob   BlobInfo `json:"blob"`
	Source string   `json:"source"`
	// Fetched is the bytes that arrived; Held the bytes the repo held before.
	Fetched uint64 `json:"fetched"`
	Held    uint64 `json:"held"`
}

// OpBlobGet fetches a blob into the repo from its providers, all at once: the peers named, and
// those the DHT finds. Every block is verified as it arrives; a peer that sends a block whose
// bytes do not match its CID is disconnected. Blocks the repo holds are not fetched again, so an
// interrupted fetch resumes. Without a daemon it runs a node of its own for its duration.
var OpBlobGet = StreamOp[BlobGetRequest, BlobProgress, BlobGetReply]{Name: "blob-get",
	Run: func(ctx context.Context, l *Local, req BlobGetRequest, emit func(BlobProgress) error) (BlobGetReply, error) {
		root, err := parseBlobCID(req.CID)
		if err != nil {
			return BlobGetReply{}, err
		}
		if req.Timeout < 0 {
			return BlobGetReply{}, fmt.Errorf("%w: a negative timeout", ErrBadRequest)
		}
		peers, err := ParseAddrs(req.Peers)
		if err != nil {
			return BlobGetReply{}, fmt.Errorf("%w: peer: %w", ErrBadRequest, err)
		}
		boot, err := ParseAddrs(req.Bootstrap)
		if err != nil {
			return BlobGetReply{}, fmt.Errorf("%w: bootstrap: %w", ErrBadRequest, err)
		}
		s, err := l.Blobs(ctx)
		if err != nil {
			return BlobGetReply{}, err
		}
		if ok, err := s.Complete(ctx, root); err != nil {
			return BlobGetReply{}, err
		} else if ok {
			if req.Pin {
				if err := s.Pin(ctx, root); err != nil {
					return BlobGetReply{}, err
				}
			}
			in, err := blobInfo(ctx, s, root)
			return BlobGetReply{Blob: in, Source: BlobSourceLocal, Held: in.Size}, err
		}
		if n := l.Node(); n != nil {
			peers = append(peers, boot...) // a daemon has its own bootstrap; these are peers to try
		}
		n, err := l.blobNode(ctx, req.Bootstrap, req.Timeout)
		if err != nil {
			return BlobGetReply{}, err
		}
		t0 := time.Now()
		var last blobsync.Progress
		ref, err := n.FetchBlob(ctx, root, BlobFetchOptions{Peers: peers, FindTimeout: req.Timeout, Pin: req.Pin,
			OnProgress: func(p blobsync.Progress) {
				last = p
				emit(BlobProgress{Blocks: p.Blocks, Bytes: p.Bytes, Need: p.Need, Providers: p.Providers, Elapsed: time.Since(t0)})
			}})
		if err != nil {
			if ctx.Err() != nil {
				return BlobGetReply{}, fmt.Errorf("%w at %s of %s (%d blocks); the blocks that arrived are kept in the repo, and running the same command again resumes",
					ErrInterrupted, mb(last.Bytes), mb(last.Need), last.Blocks)
			}
			return BlobGetReply{}, err
		}
		in, err := blobInfo(ctx, s, ref.CID)
		held := uint64(0)
		if in.Size > last.Need {
			held = in.Size - last.Need
		}
		return BlobGetReply{Blob: in, Source: BlobSourceNetwork, Fetched: last.Bytes, Held: held}, err
	}}

// mb renders a byte count in MB.
func mb(n uint64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// BlobCatRequest names a held blob to read, from Offset on.
type BlobCatRequest struct {
	CID    string `json:"cid"`
	Offset uint64 `json:"offset,omitempty"`
}

// BlobChunk is a piece of a blob at Offset.
type BlobChunk struct {
	Offset uint64 `json:"offset"`
	Data   []byte `json:"data"`
}

// catChunk is the size of OpBlobCat's chunks.
const catChunk = 1 << 20

// OpBlobCat streams a blob the repo holds whole, in chunks, and then describes it. It fails
// with blobs.ErrNotFound or blobs.ErrIncomplete when the repo lacks a block of it (OpBlobGet
// fetches it). GC keeps the blob while it is read.
var OpBlobCat = StreamOp[BlobCatRequest, BlobChunk, BlobInfo]{Name: "blob-cat",
	Run: func(ctx context.Context, l *Local, req BlobCatRequest, emit func(BlobChunk) error) (BlobInfo, error) {
		root, err := parseBlobCID(req.CID)
		if err != nil {
			return BlobInfo{}, err
		}
		s, err := l.Blobs(ctx)
		if err != nil {
			return BlobInfo{}, err
		}
		lease := s.NewLease()
		defer lease.Release()
		if err := lease.Keep(ctx, root); err != nil {
			if ok, herr := s.Has(ctx, root); herr == nil && !ok {
				return BlobInfo{}, fmt.Errorf("blob %s is not in the repo: %w", root, blobs.ErrNotFound)
			}
			if errors.Is(err, blobs.ErrIncomplete) {
				return BlobInfo{}, fmt.Errorf("the repo holds only part of blob %s: %w", root, err)
			}
			return BlobInfo{}, fmt.Errorf("blob %s: %w", root, err)
		}
		rd, err := s.Open(ctx, root)
		if err != nil {
			return BlobInfo{}, fmt.Errorf("blob %s: %w", root, err)
		}
		defer rd.Close()
		if req.Offset > rd.Size() {
			return BlobInfo{}, fmt.Errorf("%w: offset %d is past the blob's %d bytes", ErrBadRequest, req.Offset, rd.Size())
		}
		if _, err := rd.Seek(int64(req.Offset), io.SeekStart); err != nil {
			return BlobInfo{}, err
		}
		buf := make([]byte, catChunk)
		off := req.Offset
		for {
			n, rerr := io.ReadFull(rd, buf)
			if n > 0 {
				if err := emit(BlobChunk{Offset: off, Data: buf[:n]}); err != nil {
					return BlobInfo{}, err
				}
				off += uint64(n)
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return BlobInfo{}, fmt.Errorf("blob %s at byte %d: %w", root, off, rerr)
			}
		}
		return blobInfo(ctx, s, root)
	}}

// BlobRequest names a blob.
type BlobRequest struct {
	CID string `json:"cid"`
}

// OpBlobStat describes a blob: its size, whether the repo holds all of it, whether it is
// pinned. It fails with blobs.ErrNotFound when the repo holds none of it and it is not pinned.
var OpBlobStat = Op[BlobRequest, BlobInfo]{Name: "blob-stat", Run: func(ctx context.Context, l *Local, req BlobRequest) (BlobInfo, error) {
	root, err := parseBlobCID(req.CID)
	if err != nil {
		return BlobInfo{}, err
	}
	s, err := l.Blobs(ctx)
	if err != nil {
		return BlobInfo{}, err
	}
	in, err := blobInfo(ctx, s, root)
	if err == nil && in.Size == 0 && !in.Complete && !in.Pinned {
		return in, fmt.Errorf("blob %s is not in the repo: %w", root, blobs.ErrNotFound)
	}
	return in, err
}}

// OpPin pins a blob: GC keeps it until OpUnpin. The blob need not be held yet (OpBlobGet
// fetches it); the reply says whether it is.
var OpPin = Op[BlobRequest, BlobInfo]{Name: "pin", Run: func(ctx context.Context, l *Local, req BlobRequest) (BlobInfo, error) {
	return changeBlob(ctx, l, req.CID, (*blobs.Store).Pin)
}}

// OpUnpin removes a blob's pin; the next GC removes it unless something else refers to it.
var OpUnpin = Op[BlobRequest, BlobInfo]{Name: "unpin", Run: func(ctx context.Context, l *Local, req BlobRequest) (BlobInfo, error) {
	return changeBlob(ctx, l, req.CID, (*blobs.Store).Unpin)
}}

// changeBlob applies change to the blob whose CID text is c and describes the blob afterwards.
func changeBlob(ctx context.Context, l *Local, c string, change func(*blobs.Store, context.Context, cid.Cid) error) (BlobInfo, error) {
	root, err := parseBlobCID(c)
	if err != nil {
		return BlobInfo{}, err
	}
	s, err := l.Blobs(ctx)
	if err != nil {
		return BlobInfo{}, err
	}
	if err := change(s, ctx, root); err != nil {
		return BlobInfo{}, err
	}
	return blobInfo(ctx, s, root)
}

// OpPins lists the pinned blobs.
var OpPins = Op[None, []BlobInfo]{Name: "pins", Run: func(ctx context.Context, l *Local, _ None) ([]BlobInfo, error) {
	s, err := l.Blobs(ctx)
	if err != nil {
		return nil, err
	}
	pins, err := s.Pins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]BlobInfo, 0, len(pins))
	for _, p := range pins {
		in, err := blobInfo(ctx, s, p)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}}

// GCReply says what a GC freed.
type GCReply struct {
	// Blocks and Bytes count the blocks removed and their bytes; Blobs the blobs removed.
	Blocks int      `json:"blocks"`
	Bytes  uint64   `json:"bytes"`
	Blobs  []string `json:"blobs"`
	// Kept counts the blocks left.
	Kept    int     `json:"kept"`
	Seconds float64 `json:"seconds"`
}

// OpGC removes the blobs that nothing keeps: not pinned, not referred to by a datom of a core
// the repo holds (or another feature's records, or a running service), and not being written by
// an add or a fetch at the same time.
var OpGC = Op[None, GCReply]{Name: "gc", Run: func(ctx context.Context, l *Local, _ None) (GCReply, error) {
	t0 := time.Now()
	s, err := l.Blobs(ctx)
	if err != nil {
		return GCReply{}, err
	}
	live, err := l.blobLive(ctx)
	if err != nil {
		return GCReply{}, err
	}
	res, err := s.GC(ctx, live)
	if err != nil {
		return GCReply{}, err
	}
	out := GCReply{Blocks: res.Blocks, Bytes: res.Bytes, Kept: res.Kept, Blobs: []string{}, Seconds: time.Since(t0).Seconds()}
	for _, c := range res.Roots {
		out.Blobs = append(out.Blobs, c.String())
	}
	return out, nil
}}

// resolveEntity replaces the blob values of ent with the values they stand for, fetching the
// blobs the repo lacks from the peers of the core and the DHT's providers.
func (l *Local) resolveEntity(ctx context.Context, key corestore.Key, ent *datom.Entity) error {
	for a, vs := range ent.Attrs {
		for i, v := range vs {
			if v.Kind != datom.KindBlob {
				continue
			}
			if v.Blob.Size > MaxResolve {
				return fmt.Errorf("%s: blob %s of %d bytes is larger than the %d bytes a resolved value may have: %w",
					a, v.Blob.CID, v.Blob.Size, MaxResolve, blobs.ErrTooLarge)
			}
			if err := l.ensureBlob(ctx, key, v.Blob); err != nil {
				return fmt.Errorf("%s: %w", a, err)
			}
			db, err := l.DB(ctx) // a node started for the fetch has a database of its own
			if err != nil {
				return err
			}
			rv, err := db.Resolve(ctx, v, MaxResolve)
			if err != nil {
				return fmt.Errorf("%s: %w", a, err)
			}
			vs[i] = rv
		}
	}
	return nil
}

// ensureBlob fetches the blob ref, which a datom of core key refers to, unless the repo holds it.
// A blob larger than the datom says is not fetched past its root.
func (l *Local) ensureBlob(ctx context.Context, key corestore.Key, ref blobs.Ref) error {
	root := ref.CID
	s, err := l.Blobs(ctx)
	if err != nil {
		return err
	}
	if ok, err := s.Complete(ctx, root); err != nil || ok {
		return err
	}
	n, err := l.blobNode(ctx, nil, 0)
	if err != nil {
		return err
	}
	var peers []peer.AddrInfo
	if c, err := n.Repo.Store.Get(ctx, key); err == nil {
		for _, p := range n.repl.Peers(c) {
			peers = append(peers, peer.AddrInfo{ID: p})
		}
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	_, err = n.FetchBlob(fctx, root, BlobFetchOptions{Peers: peers, OnProgress: func(p blobsync.Progress) {
		if p.Need > ref.Size {
			cancel(fmt.Errorf("blob %s: %w: it holds %d bytes or more, the datom says %d", root, blobs.ErrSizeMismatch, p.Need, ref.Size))
		}
	}})
	if cause := context.Cause(fctx); err != nil && cause != nil && ctx.Err() == nil {
		return cause
	}
	return err
}
