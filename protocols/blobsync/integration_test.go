package blobsync

import (
	"bufio"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFetch(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	want := data(1, 3*blobs.LinksPerNode*blobs.ChunkSize/2+12345) // two levels
	ref := a.add(t, want)
	var last Progress
	got, err := f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithProgress(func(p Progress) { last = p }))
	if err != nil {
		t.Fatal(err)
	}
	if got != ref {
		t.Fatalf("Fetch = %+v, want %+v", got, ref)
	}
	sameBlob(t, f, ref, want)
	if last.Bytes != ref.Size || last.Need != ref.Size {
		t.Fatalf("last progress %+v, want %d bytes", last, ref.Size)
	}
	if st := a.svc.Stats(); st.BlocksServed != last.Blocks {
		t.Fatalf("provider served %d blocks, fetcher received %d", st.BlocksServed, last.Blocks)
	}
	roots, _ := f.store.Roots(ctx)
	if len(roots) != 1 || roots[0] != ref {
		t.Fatalf("fetcher records %v", roots)
	}
	// Fetching a held blob asks nobody.
	if _, err := f.svc.Fetch(ctx, ref.CID); err != nil {
		t.Fatal(err)
	}
	if st := a.svc.Stats(); st.BlocksServed != last.Blocks {
		t.Fatal("fetching a held blob fetched again")
	}
	// A one-block blob, and the empty blob.
	for _, b := range [][]byte{data(2, 100), {}} {
		r := a.add(t, b)
		if _, err := f.svc.Fetch(ctx, r.CID, WithPeers(a.info()), WithPin()); err != nil {
			t.Fatal(err)
		}
		sameBlob(t, f, r, b)
		if ok, _ := f.store.IsPinned(ctx, r.CID); !ok {
			t.Fatal("WithPin did not pin")
		}
	}
}

// stall installs on n a fast-path handler that reads requests and never answers.
func stall(n *node, requests *atomic.Int64) {
	n.h.SetStreamHandler(ProtocolID, func(st network.Stream) {
		r := bufio.NewReader(st)
		for {
			if _, err := readRequest(r); err != nil {
				st.Reset()
				return
			}
			requests.Add(1)
		}
	})
}

func TestFetchThreeProvidersOneStalling(t *testing.T) {
	ctx := testCtx(t)
	a, b, c, f := newNode(t), newNode(t), rawNode(t), newNode(t)
	want := data(3, 120*blobs.ChunkSize+7)
	ref := a.add(t, want)
	b.add(t, want)
	c.add(t, want)
	var stalled atomic.Int64
	stall(c, &stalled)
	// The stalling provider is found first; the others once it owes blocks, as DHT answers
	// trickle in.
	find := trickle(c.info(), func() bool { return stalled.Load() > 0 }, a.info(), b.info())
	got, err := f.svc.Fetch(ctx, ref.CID, WithFindProviders(find), WithStallTimeout(3*time.Second), WithRequestSize(4, 2), WithoutBitswap())
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, got, want)
	sa, sb := a.svc.Stats().BlocksServed, b.svc.Stats().BlocksServed
	if sa+sb == 0 {
		t.Fatal("the honest providers served nothing")
	}
	t.Logf("a served %d, b %d, c was asked %d times", sa, sb, stalled.Load())
}

// trickle is a provider finder that yields first, then, once ready() holds, rest.
func trickle(first peer.AddrInfo, ready func() bool, rest ...peer.AddrInfo) FindProviders {
	return func(ctx context.Context, _ cid.Cid) <-chan peer.AddrInfo {
		out := make(chan peer.AddrInfo)
		go func() {
			defer close(out)
			select {
			case out <- first:
			case <-ctx.Done():
				return
			}
			for !ready() {
				select {
				case <-time.After(5 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
			for _, p := range rest {
				select {
				case out <- p:
				case <-ctx.Done():
					return
				}
			}
		}()
		return out
	}
}

// corrupt installs on n a fast-path server that flips a byte of every leaf it sends, and
// counts the leaves it sent.
func corrupt(n *node, sent *atomic.Int64) {
	n.h.SetStreamHandler(ProtocolID, func(st network.Stream) {
		r := bufio.NewReader(st)
		w := bufio.NewWriter(st)
		for {
			cs, err := readRequest(r)
			if err != nil {
				st.Reset()
				return
			}
			for _, c := range cs {
				b, err := n.store.Block(context.Background(), c)
				if err != nil {
					w.WriteByte(StatusDontHave)
					continue
				}
				b = append([]byte{}, b...)
				if c.Type() == 0x55 && len(b) > 0 {
					b[len(b)/2] ^= 1
					sent.Add(1)
				}
				w.Write(appendBlockHeader(nil, len(b)))
				w.Write(b)
			}
			if w.Flush() != nil {
				return
			}
		}
	})
}

func TestFetchCorruptProviderIsDropped(t *testing.T) {
	ctx := testCtx(t)
	a, b, d, f := newNode(t), newNode(t), rawNode(t), newNode(t)
	want := data(4, 60*blobs.ChunkSize)
	ref := a.add(t, want)
	b.add(t, want)
	d.add(t, want)
	var bad atomic.Int64
	corrupt(d, &bad)
	find := trickle(d.info(), func() bool { return bad.Load() > 0 }, a.info(), b.info())
	got, err := f.svc.Fetch(ctx, ref.CID, WithFindProviders(find), WithRequestSize(2, 1), WithoutBitswap())
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, got, want)
	if !f.svc.Banned(d.h.ID()) {
		t.Fatal("the corrupt provider is not banned")
	}
	if f.h.Network().Connectedness(d.h.ID()) == network.Connected {
		t.Fatal("the corrupt provider is still connected")
	}
	if f.svc.Banned(a.h.ID()) || f.svc.Banned(b.h.ID()) {
		t.Fatal("an honest provider was banned")
	}
	// A banned peer is not asked again.
	other := a.add(t, data(5, 3*blobs.ChunkSize))
	d.add(t, data(5, 3*blobs.ChunkSize))
	before := bad.Load()
	if _, err := f.svc.Fetch(ctx, other.CID, WithPeers(d.info(), a.info()), WithoutBitswap()); err != nil {
		t.Fatal(err)
	}
	if bad.Load() != before {
		t.Fatal("a banned provider was used again")
	}
}

func TestFetchOnlyCorruptProviderFails(t *testing.T) {
	ctx := testCtx(t)
	d, f := rawNode(t), newNode(t)
	want := data(6, 5*blobs.ChunkSize)
	ref := d.add(t, want)
	var bad atomic.Int64
	corrupt(d, &bad)
	_, err := f.svc.Fetch(ctx, ref.CID, WithPeers(d.info()), WithoutBitswap())
	if !errors.Is(err, ErrNoProviders) || !errors.Is(err, errBadBlock) {
		t.Fatalf("fetch from a corrupt provider only: %v", err)
	}
	if ok, _ := f.store.Complete(ctx, ref.CID); ok {
		t.Fatal("complete after a failed fetch")
	}
	if roots, _ := f.store.Roots(ctx); len(roots) != 0 {
		t.Fatal("a failed fetch recorded a blob")
	}
}

func TestFetchResume(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	want := data(7, 80*blobs.ChunkSize+1)
	ref := a.add(t, want)
	cctx, cancel := context.WithCancel(ctx)
	_, err := f.svc.Fetch(cctx, ref.CID, WithPeers(a.info()), WithRequestSize(2, 1), WithoutBitswap(),
		WithProgress(func(p Progress) {
			if p.Blocks == 30 {
				cancel()
			}
		}))
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fetch: %v", err)
	}
	missing := 0
	for _, err := range f.store.Missing(ctx, blobs.Want{CID: ref.CID}) {
		if err != nil {
			t.Fatal(err)
		}
		missing++
	}
	if missing == 0 || missing > 80-28 {
		t.Fatalf("%d blocks missing after 30 of 82 arrived", missing)
	}
	served := settled(a)
	var p Progress
	if _, err := f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithoutBitswap(), WithProgress(func(q Progress) { p = q })); err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, ref, want)
	if p.Blocks != uint64(missing) {
		t.Fatalf("resumed fetch received %d blocks, %d were missing", p.Blocks, missing)
	}
	if again := a.svc.Stats().BlocksServed - served; again != uint64(missing) {
		t.Fatalf("provider served %d blocks on resume, %d were missing", again, missing)
	}
}

// settled waits until n's server has finished answering requests already made (a cancelled
// fetch's streams are reset, but the server may be writing an answer) and returns its count.
func settled(n *node) uint64 {
	last := n.svc.Stats().BlocksServed
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		now := n.svc.Stats().BlocksServed
		if now == last {
			break
		}
		last = now
	}
	return last
}

func TestFetchNotFound(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	ref, err := blobs.CIDOf(ctx, bytesReader(data(8, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithoutBitswap())
	if !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("fetch of a blob nobody has: %v", err)
	}
	// With no provider given, the connected peers are asked: none.
	_, err = newNode(t).svc.Fetch(ctx, ref.CID, WithoutBitswap())
	if !errors.Is(err, ErrNoProviders) {
		t.Fatalf("fetch with no provider: %v", err)
	}
	_, err = f.svc.Fetch(ctx, ref.CID, WithPeers(peer.AddrInfo{ID: newHost(t).ID()}), WithoutBitswap())
	if !errors.Is(err, ErrNoProviders) {
		t.Fatalf("fetch from an unreachable provider: %v", err)
	}
}

func TestFetchBitswapBetweenPeers(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	want := data(9, 40*blobs.ChunkSize+3)
	ref := a.add(t, want)
	got, err := f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithoutFastPath())
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, got, want)
	if a.svc.Stats().BlocksServed != 0 {
		t.Fatal("the fast path served a bitswap-only fetch")
	}
}

// TestFetchFallsBackToBitswap: a provider without the fast path (Kubo) is fetched from with
// bitswap.
func TestFetchFallsBackToBitswap(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	a.h.RemoveStreamHandler(ProtocolID)
	want := data(10, 10*blobs.ChunkSize)
	ref := a.add(t, want)
	got, err := f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()))
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, f, got, want)
}

// TestGCDuringFetch: a GC that runs while a fetch writes keeps every block the fetch wrote.
func TestGCDuringFetch(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	want := data(11, 50*blobs.ChunkSize)
	ref := a.add(t, want)
	var once sync.Once
	var res blobs.GCResult
	var gcErr error
	got, err := f.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithoutBitswap(), WithProgress(func(p Progress) {
		if p.Blocks >= 20 {
			once.Do(func() { res, gcErr = f.store.GC(ctx, nil) })
		}
	}))
	if err != nil || gcErr != nil {
		t.Fatal(err, gcErr)
	}
	if res.Blocks != 0 || res.Kept < 20 {
		t.Fatalf("GC during a fetch: %+v", res)
	}
	sameBlob(t, f, got, want)
}

// TestFetchBadDAG: a DAG whose blocks match their CIDs but whose sizes lie fails the fetch with
// a clear error, and the provider, which only relayed it, is not banned.
func TestFetchBadDAG(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newNode(t)
	root := lyingRoot(t, a)
	_, err := f.svc.Fetch(ctx, root, WithPeers(a.info()), WithoutBitswap())
	if !errors.Is(err, blobs.ErrSizeMismatch) {
		t.Fatalf("fetch of a lying DAG: %v", err)
	}
	if f.svc.Banned(a.h.ID()) {
		t.Fatal("the relaying provider was banned")
	}
}

func TestServeBadRequest(t *testing.T) {
	ctx := testCtx(t)
	a, f := newNode(t), newHost(t)
	ref := a.add(t, data(12, 100))
	if err := f.Connect(ctx, a.info()); err != nil {
		t.Fatal(err)
	}
	for _, req := range [][]byte{{0}, {0xff, 0xff, 0xff, 0xff, 0x0f}, {1, 0}, {1, 65}, {1, 3, 1, 2, 3}} {
		st, err := f.NewStream(ctx, a.h.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		st.Write(req)
		st.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := st.Read(make([]byte, 1)); err == nil {
			t.Fatalf("request %x got an answer", req)
		}
		st.Reset()
	}
	// The server still serves.
	g := newNode(t)
	if _, err := g.svc.Fetch(ctx, ref.CID, WithPeers(a.info()), WithoutBitswap()); err != nil {
		t.Fatal(err)
	}
}
