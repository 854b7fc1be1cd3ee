package peer

import (
	"bytes"
	"context"
	"errors"

	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestBlobUploadThroughTheAPI: AddBlob through a daemon's API (chunks) and on the repo directly
// make the CID Kubo's importer makes; a pinned add is pinned; a cat through the API gives the
// bytes back.
func TestBlobUploadThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	n, _, _ := newTestAPI(t)
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := randomBytes(3*UploadChunk+12345, 1)
	want, err := blobs.CIDOf(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var seen uint64
	in, err := AddBlob(ctx, c, bytes.NewReader(data), AddBlobOptions{Pin: true, OnProgress: func(b uint64) { seen = b }})
	if err != nil {
		t.Fatal(err)
	}
	if in.CID != want.CID.String() || in.Size != uint64(len(data)) || !in.Pinned || !in.Complete {
		t.Fatalf("AddBlob through the API: %+v, want %s", in, want.CID)
	}
	if seen != uint64(len(data)) {
		t.Fatalf("progress ended at %d of %d", seen, len(data))
	}
	var got bytes.Buffer
	if _, err := Stream(ctx, c, OpBlobCat, BlobCatRequest{CID: in.CID}, func(ch BlobChunk) error {
		if ch.Offset != uint64(got.Len()) {
			t.Fatalf("chunk at %d after %d bytes", ch.Offset, got.Len())
		}
		got.Write(ch.Data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("cat through the API gave other bytes")
	}
	// The same bytes on a repo directly: the same CID.
	dir := t.TempDir()
	r, err := InitRepo(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	l2 := NewLocal(dir, quietLog())
	defer l2.Close()
	in2, err := AddBlob(ctx, l2, bytes.NewReader(data), AddBlobOptions{})
	if err != nil || in2.CID != in.CID || in2.Pinned {
		t.Fatalf("AddBlob on the repo: %+v, %v", in2, err)
	}
}

// TestBlobUploadFailures: an upload over the repo's maximum fails, through the API as
// blobs.ErrTooLarge, and pins and records nothing; an unknown upload ID is ErrNoUpload; an
// aborted upload is gone.
func TestBlobUploadFailures(t *testing.T) {
	ctx := context.Background()
	r, err := InitRepo(ctx, t.TempDir(), WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	r.Config.BlobMaxSize = 2 << 20
	n, err := NewNode(ctx, r, WithNodeLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := NewAPI(n)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = AddBlob(ctx, c, bytes.NewReader(randomBytes(5<<20, 2)), AddBlobOptions{Pin: true})
	if !errors.Is(err, blobs.ErrTooLarge) {
		t.Fatalf("an upload over the maximum: %v", err)
	}
	if pins, _ := Call(ctx, c, OpPins, None{}); len(pins) != 0 {
		t.Fatalf("a failed upload pinned %v", pins)
	}
	if roots, _ := n.Blobs().Roots(ctx); len(roots) != 0 {
		t.Fatalf("a failed upload recorded %v", roots)
	}
	if _, err := Call(ctx, c, OpBlobUpload, BlobUploadRequest{ID: "nope", Data: []byte("x")}); !errors.Is(err, ErrNoUpload) {
		t.Fatalf("unknown upload: %v", err)
	}
	rep, err := Call(ctx, c, OpBlobUpload, BlobUploadRequest{Data: []byte("some")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, c, OpBlobUpload, BlobUploadRequest{ID: rep.ID, Abort: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, c, OpBlobUpload, BlobUploadRequest{ID: rep.ID, End: true}); !errors.Is(err, ErrNoUpload) {
		t.Fatalf("an aborted upload: %v", err)
	}
}

// TestBlobErrorsKeepIdentity: the blob sentinels, a full disk included, survive the API.
func TestBlobErrorsKeepIdentity(t *testing.T) {
	for _, s := range []error{blobs.ErrInvalidCID, blobs.ErrUnsupported, blobs.ErrTooLarge, blobs.ErrTooDeep,
		blobs.ErrTooManyLinks, blobs.ErrHashMismatch, blobs.ErrNotFound, blobs.ErrIncomplete, syscall.ENOSPC, ErrNoBlobProviders} {
		err := errors.Join(errors.New("context"), s)
		codes, _ := errorCodesOf(err)
		back := errorFromAPI(err.Error(), codes)
		if !errors.Is(back, s) {
			t.Errorf("%v does not survive the API (codes %v)", s, codes)
		}
	}
}

// TestBlobsAnnouncedFromOnePlace: a started node announces a blob as soon as an add records it,
// and stops announcing it once a GC removed it.
func TestBlobsAnnouncedFromOnePlace(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t)
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l := n.Local()
	in, err := AddBlob(ctx, l, bytes.NewReader(randomBytes(300_000, 3)), AddBlobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := cid.Parse(in.CID)
	announced := func() bool {
		_, ok := n.disc.AnnouncedBlobs()[root]
		return ok
	}
	waitFor(t, "the blob to be announced", 20*time.Second, announced)
	if _, err := Call(ctx, l, OpGC, None{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the collected blob to be unannounced", 20*time.Second, func() bool { return !announced() })
}

// TestAddBlobRoots: a GC keeps what a service registered with AddBlobRoots, and removes it once
// the service lets go.
func TestAddBlobRoots(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t)
	l := n.Local()
	in, err := AddBlob(ctx, l, strings.NewReader(strings.Repeat("kept by a service ", 1000)), AddBlobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := cid.Parse(in.CID)
	n.AddBlobRoots("test", func(context.Context) blobs.Live { return blobs.LiveRoots(root) })
	if res, err := Call(ctx, l, OpGC, None{}); err != nil || len(res.Blobs) != 0 {
		t.Fatalf("GC with the service's roots: %+v, %v", res, err)
	}
	n.AddBlobRoots("test", nil)
	if res, err := Call(ctx, l, OpGC, None{}); err != nil || len(res.Blobs) != 1 || res.Blobs[0] != in.CID {
		t.Fatalf("GC after the service let go: %+v, %v", res, err)
	}
}

// TestPullResolveBetweenNodes: a node that replicated a datom core resolves its large value,
// fetching the blob from the core's owner.
func TestPullResolveBetweenNodes(t *testing.T) {
	ctx := context.Background()
	owner, reader := newTestNode(t), newTestNode(t)
	for _, n := range []*Node{owner, reader} {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	body := strings.Repeat("a large value, kept as a blob. ", 2000)
	rep, err := Call(ctx, owner.Local(), OpTransact, TransactRequest{Ref: "docs", Tx: `[{"db/id":"doc/1","doc/body":"` + body + `"}]`})
	if err != nil {
		t.Fatal(err)
	}
	// And one that understates its blob's size.
	big, err := AddBlob(ctx, owner.Local(), bytes.NewReader(randomBytes(3<<20, 9)), AddBlobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, owner.Local(), OpTransact, TransactRequest{Ref: "docs", Tx: `[{"db/id":"doc/2","doc/scan":{"blob":"` + big.CID + `","size":10}}]`}); err != nil {
		t.Fatal(err)
	}
	if _, err := Stream(ctx, reader.Local(), OpFetch, FetchRequest{Key: rep.Core, Peers: owner.Addrs()[:1], Timeout: 20 * time.Second}, nil); err != nil {
		t.Fatal(err)
	}
	plain, err := Call(ctx, reader.Local(), OpPull, PullRequest{Ref: rep.Core, E: "doc/1"})
	if err != nil {
		t.Fatal(err)
	}
	if v := string(plain.Attrs["doc/body"][0]); !strings.Contains(v, `"blob":"bafk`) || !strings.Contains(v, `"type":"string"`) {
		t.Fatalf("pull shows %s", v)
	}
	res, err := Call(ctx, reader.Local(), OpPull, PullRequest{Ref: rep.Core, E: "doc/1", Resolve: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Attrs["doc/body"][0]); got != `"`+body+`"` {
		t.Fatalf("resolved to %.60s…", got)
	}
	// The replica's repo keeps the blob through a GC: a datom of a core it holds refers to it.
	if gc, err := Call(ctx, reader.Local(), OpGC, None{}); err != nil || len(gc.Blobs) != 0 {
		t.Fatalf("GC on the replica: %+v, %v", gc, err)
	}

	// A datom that understates its blob's size: the reader stops at the root.
	_, err = Call(ctx, reader.Local(), OpPull, PullRequest{Ref: rep.Core, E: "doc/2", Resolve: true})
	if !errors.Is(err, blobs.ErrSizeMismatch) {
		t.Fatalf("resolve of a blob larger than its datom says: %v", err)
	}
	c, _ := cid.Parse(big.CID)
	if ok, _ := reader.Blobs().Complete(ctx, c); ok {
		t.Fatal("the reader fetched the whole blob a datom understated")
	}
}
