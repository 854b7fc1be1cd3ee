// Package blobstest is the conformance suite of blob stores: every way of setting up a
// blobs.Store (its blocks in the repo's Badger, in a block directory, in memory) runs it.
package blobstest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

func memDatastore() ds.Batching { return dssync.MutexWrap(ds.NewMapDatastore()) }

// TestStore runs the suite. newStore returns an empty store with the default limits, closed
// at the end of the test.
func TestStore(t *testing.T, newStore func(t *testing.T) *blobs.Store) {
	t.Run("AddOpen", func(t *testing.T) { testAddOpen(t, newStore(t)) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, newStore(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, newStore(t)) })
	t.Run("Pins", func(t *testing.T) { testPins(t, newStore(t)) })
	t.Run("GC", func(t *testing.T) { testGC(t, newStore(t)) })
	t.Run("GCDuringAdd", func(t *testing.T) { testGCDuringAdd(t, newStore(t)) })
	t.Run("GCConcurrent", func(t *testing.T) { testGCConcurrent(t, newStore(t)) })
	t.Run("Lease", func(t *testing.T) { testLease(t, newStore(t)) })
	t.Run("Put", func(t *testing.T) { testPut(t, newStore(t)) })
	t.Run("TooLarge", func(t *testing.T) { testTooLarge(t, newStore(t)) })
	t.Run("ReadOnlyView", func(t *testing.T) { testReadOnly(t, newStore(t)) })
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func add(t *testing.T, s *blobs.Store, data []byte, opts ...blobs.AddOption) blobs.Ref {
	t.Helper()
	ref, err := s.Add(context.Background(), bytes.NewReader(data), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// ReadAll reads the whole blob c.
func ReadAll(t testing.TB, s *blobs.Store, c cid.Cid) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(b)) != r.Size() {
		t.Fatalf("read %d bytes, Size says %d", len(b), r.Size())
	}
	return b
}

func complete(t *testing.T, s *blobs.Store, c cid.Cid) bool {
	t.Helper()
	ok, err := s.Complete(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func testAddOpen(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 1000, blobs.ChunkSize, blobs.ChunkSize + 1, 3*blobs.ChunkSize + 17} {
		data := Data(uint64(n), n)
		var progress uint64
		ref := add(t, s, data, blobs.WithProgress(func(b uint64) { progress = b }))
		want, err := blobs.CIDOf(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ref != want || ref.Size != uint64(n) {
			t.Fatalf("%d bytes: Add %+v, CIDOf %+v", n, ref, want)
		}
		if n > 0 && progress != uint64(n) {
			t.Fatalf("%d bytes: last progress %d", n, progress)
		}
		if !bytes.Equal(ReadAll(t, s, ref.CID), data) {
			t.Fatalf("%d bytes: read back different bytes", n)
		}
		if b, err := s.Bytes(ctx, ref.CID, uint64(n)); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%d bytes: Bytes = %d bytes, %v", n, len(b), err)
		}
		if n > 0 {
			if _, err := s.Bytes(ctx, ref.CID, uint64(n-1)); !errors.Is(err, blobs.ErrTooLarge) {
				t.Fatalf("%d bytes: Bytes under the size: %v", n, err)
			}
		}
		if st, err := s.Stat(ctx, ref.CID); err != nil || st != ref {
			t.Fatalf("Stat = %+v, %v; want %+v", st, err, ref)
		}
		if !complete(t, s, ref.CID) {
			t.Fatalf("%d bytes: not complete after Add", n)
		}
		// Adding again changes nothing.
		if again := add(t, s, data); again != ref {
			t.Fatalf("second Add %+v, first %+v", again, ref)
		}
	}
	roots, err := s.Roots(ctx)
	if err != nil || len(roots) != 6 {
		t.Fatalf("Roots = %d, %v; want 6", len(roots), err)
	}
	missing, _ := cid.Decode("bafkreibijfv4exyrrwauyuj3rb5oan3sbzyrus6qxuzbpf5ixy5df2ub7u")
	if _, err := s.Open(ctx, missing); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("Open of a missing blob: %v, want ErrNotFound", err)
	}
	if ok, err := s.Has(ctx, missing); ok || err != nil {
		t.Fatalf("Has of a missing blob: %v, %v", ok, err)
	}
}

func testSeek(t *testing.T, s *blobs.Store) {
	data := Data(9, 5*blobs.ChunkSize+123)
	ref := add(t, s, data)
	r, err := s.Open(context.Background(), ref.CID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	for range 50 {
		off := rng.Int64N(int64(len(data)))
		if p, err := r.Seek(off, io.SeekStart); err != nil || p != off {
			t.Fatalf("Seek(%d) = %d, %v", off, p, err)
		}
		n, err := io.ReadFull(r, buf[:min(len(buf), len(data)-int(off))])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("read at %d differs", off)
		}
	}
	if p, err := r.Seek(-10, io.SeekEnd); err != nil || p != int64(len(data))-10 {
		t.Fatalf("Seek from end = %d, %v", p, err)
	}
}

// partial returns a store holding every block of a two-level blob except some leaves: the
// blob is added to a scratch store and copied block by block.
func partial(t *testing.T, s *blobs.Store, data []byte, skip func(i int) bool) (blobs.Ref, int) {
	t.Helper()
	ctx := context.Background()
	src, err := blobs.New(memDatastore())
	if err != nil {
		t.Fatal(err)
	}
	ref := add(t, src, data)
	l := s.NewLease()
	defer l.Release()
	skipped := 0
	i := 0
	for w, err := range src.Missing(ctx, blobs.Want{CID: ref.CID}) {
		t.Fatalf("source is missing %v: %v", w, err)
	}
	// Walk the source's DAG top down, copying.
	var copyTree func(w blobs.Want)
	copyTree = func(w blobs.Want) {
		b, err := src.Block(ctx, w.CID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := blobs.DecodeWant(w, b, s.Limits())
		if err != nil {
			t.Fatal(err)
		}
		if len(n.Links) == 0 {
			i++
			if skip(i - 1) {
				skipped++
				return
			}
		}
		if err := l.PutNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		for _, c := range n.Wants(w.Depth) {
			copyTree(c)
		}
	}
	copyTree(blobs.Want{CID: ref.CID})
	return ref, skipped
}

func testMissing(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	data := Data(11, 20*blobs.ChunkSize)
	ref, skipped := partial(t, s, data, func(i int) bool { return i%3 == 1 })
	var got []blobs.Want
	for w, err := range s.Missing(ctx, blobs.Want{CID: ref.CID}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, w)
	}
	if len(got) != skipped || skipped == 0 {
		t.Fatalf("Missing yielded %d blocks, %d were skipped", len(got), skipped)
	}
	for _, w := range got {
		if w.Depth != 1 || w.Size != blobs.ChunkSize || w.CID.Type() != cid.Raw {
			t.Fatalf("missing want %+v, want a leaf at depth 1 of %d bytes", w, blobs.ChunkSize)
		}
	}
	if complete(t, s, ref.CID) {
		t.Fatal("a partial blob is complete")
	}
	l := s.NewLease()
	defer l.Release()
	if _, err := l.Commit(ctx, ref.CID); !errors.Is(err, blobs.ErrIncomplete) {
		t.Fatalf("Commit of a partial blob: %v, want ErrIncomplete", err)
	}
	// Reading stops at the first missing block with ErrIncomplete.
	r, err := s.Open(ctx, ref.CID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, blobs.ErrIncomplete) {
		t.Fatalf("reading a partial blob: %v, want ErrIncomplete", err)
	}
	r.Close()
	// A blob whose root is missing is missing whole.
	other := blobs.Want{CID: mustCID(t, "bafkreibijfv4exyrrwauyuj3rb5oan3sbzyrus6qxuzbpf5ixy5df2ub7u")}
	n := 0
	for w, err := range s.Missing(ctx, other) {
		if err != nil || w != other {
			t.Fatalf("Missing of an absent root yielded %+v, %v", w, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("Missing of an absent root yielded %d wants", n)
	}
	// Filling the holes makes it complete; Commit records it.
	full, err := blobs.New(memDatastore())
	if err != nil {
		t.Fatal(err)
	}
	add(t, full, data)
	for _, w := range got {
		b, err := full.Block(ctx, w.CID)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Put(ctx, w.CID, b); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := l.Commit(ctx, ref.CID, blobs.Pinned()); err != nil || c != ref {
		t.Fatalf("Commit = %+v, %v; want %+v", c, err, ref)
	}
	if p, _ := s.IsPinned(ctx, ref.CID); !p {
		t.Fatal("Commit with Pinned did not pin")
	}
	if !bytes.Equal(ReadAll(t, s, ref.CID), data) {
		t.Fatal("filled blob reads back different bytes")
	}
}

func mustCID(t testing.TB, s string) cid.Cid {
	c, err := blobs.ParseCID(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testPins(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	a := add(t, s, Data(1, 1000))
	b := add(t, s, Data(2, 3*blobs.ChunkSize), blobs.WithPin())
	if err := s.Pin(ctx, a.CID); err != nil {
		t.Fatal(err)
	}
	pins, err := s.Pins(ctx)
	if err != nil || len(pins) != 2 {
		t.Fatalf("Pins = %v, %v", pins, err)
	}
	for _, r := range []blobs.Ref{a, b} {
		if ok, err := s.IsPinned(ctx, r.CID); !ok || err != nil {
			t.Fatalf("IsPinned(%s) = %v, %v", r.CID, ok, err)
		}
	}
	if err := s.Unpin(ctx, a.CID); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpin(ctx, a.CID); err != nil {
		t.Fatalf("second Unpin: %v", err)
	}
	if ok, _ := s.IsPinned(ctx, a.CID); ok {
		t.Fatal("still pinned after Unpin")
	}
	// A CIDv0 and a CIDv1 of one DAG are one pin.
	v0 := cid.NewCidV0(b.CID.Hash())
	if ok, _ := s.IsPinned(ctx, v0); !ok {
		t.Fatal("the CIDv0 of a pinned blob is not pinned")
	}
	if err := s.Pin(ctx, cid.Undef); !errors.Is(err, blobs.ErrInvalidCID) {
		t.Fatalf("Pin of an empty CID: %v", err)
	}
}

func testGC(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	pinned := add(t, s, Data(1, 4*blobs.ChunkSize), blobs.WithPin())
	live := add(t, s, Data(2, 3*blobs.ChunkSize+5))
	dead := add(t, s, Data(3, 5*blobs.ChunkSize))
	small := add(t, s, Data(4, 10))
	shared := add(t, s, append(Data(1, 4*blobs.ChunkSize), Data(5, blobs.ChunkSize)...)) // shares 4 leaves with pinned

	res, err := s.GC(ctx, blobs.LiveRoots(live.CID))
	if err != nil {
		t.Fatal(err)
	}
	// dead: 5 leaves + root; small: 1 block; shared: 1 own leaf + root.
	if res.Blocks != 9 {
		t.Fatalf("GC freed %d blocks, want 9", res.Blocks)
	}
	if want := uint64(5*blobs.ChunkSize + 10 + blobs.ChunkSize); res.Bytes < want || res.Bytes > want+3*1024 {
		t.Fatalf("GC freed %d bytes, want %d plus three inner nodes", res.Bytes, want)
	}
	if len(res.Roots) != 3 {
		t.Fatalf("GC forgot %d roots, want 3", len(res.Roots))
	}
	for _, r := range []blobs.Ref{pinned, live} {
		if !complete(t, s, r.CID) {
			t.Fatalf("GC removed part of a kept blob %s", r.CID)
		}
	}
	if !bytes.Equal(ReadAll(t, s, pinned.CID), Data(1, 4*blobs.ChunkSize)) {
		t.Fatal("pinned blob changed")
	}
	for _, r := range []blobs.Ref{dead, small, shared} {
		if ok, _ := s.Has(ctx, r.CID); ok {
			t.Fatalf("GC kept the root of unreferenced %s", r.CID)
		}
	}
	roots, _ := s.Roots(ctx)
	if len(roots) != 2 {
		t.Fatalf("%d roots recorded after GC, want 2", len(roots))
	}
	// Nothing left to free; without the live root, it goes too.
	if res, err := s.GC(ctx, blobs.LiveRoots(live.CID)); err != nil || res.Blocks != 0 {
		t.Fatalf("second GC freed %d, %v", res.Blocks, err)
	}
	if res, err := s.GC(ctx, nil); err != nil || res.Blocks != 5 {
		t.Fatalf("GC without the live root freed %d blocks, %v; want 5", res.Blocks, err)
	}
	// A live set that fails aborts the GC before it removes anything.
	if err := s.Unpin(ctx, pinned.CID); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("index unavailable")
	failing := func(yield func(cid.Cid, error) bool) { yield(cid.Undef, boom) }
	if _, err := s.GC(ctx, failing); !errors.Is(err, boom) {
		t.Fatalf("GC with a failing live set: %v", err)
	}
	if !complete(t, s, pinned.CID) {
		t.Fatal("a GC whose live set failed removed blocks")
	}
}

// pausingReader yields data, stopping once at pause until resume is closed.
type pausingReader struct {
	data    []byte
	off     int
	pause   int
	paused  chan struct{}
	resume  chan struct{}
	stopped bool
}

func (r *pausingReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if !r.stopped && r.off >= r.pause {
		r.stopped = true
		close(r.paused)
		<-r.resume
	}
	end := len(r.data)
	if !r.stopped {
		end = min(end, r.pause)
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

func testGCDuringAdd(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	data := Data(21, 40*blobs.ChunkSize)
	r := &pausingReader{data: data, pause: 30 * blobs.ChunkSize, paused: make(chan struct{}), resume: make(chan struct{})}
	l := s.NewLease()
	defer l.Release()
	var once sync.Once
	resume := func() { once.Do(func() { close(r.resume) }) }
	defer resume() // a failure must not leave the Add blocked, or the store's Close would wait
	done := make(chan error, 1)
	var ref blobs.Ref
	go func() {
		var err error
		ref, err = s.Add(ctx, r, blobs.WithLease(l))
		done <- err
	}()
	<-r.paused
	// The importer has written a batch or more; wait until the lease holds them.
	for deadline := time.Now().Add(time.Minute); l.Len() < 16; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lease holds %d blocks", l.Len())
		}
	}
	res, err := s.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != 0 {
		t.Fatalf("GC during an Add removed %d blocks", res.Blocks)
	}
	resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !complete(t, s, ref.CID) || !bytes.Equal(ReadAll(t, s, ref.CID), data) {
		t.Fatal("blob added during a GC is not whole")
	}
	// Still leased after Add: a GC keeps it. Released: the GC takes it.
	if res, _ := s.GC(ctx, nil); res.Blocks != 0 {
		t.Fatalf("GC removed %d blocks of a leased blob", res.Blocks)
	}
	l.Release()
	if res, _ := s.GC(ctx, nil); res.Blocks != 41 {
		t.Fatalf("GC after Release freed %d blocks, want 41", res.Blocks)
	}
}

func testGCConcurrent(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	stop := make(chan struct{})
	var gcs sync.WaitGroup
	gcs.Add(1)
	go func() {
		defer gcs.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.GC(ctx, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var adds sync.WaitGroup
	type added struct {
		ref  blobs.Ref
		data []byte
	}
	results := make([]added, 6)
	for i := range results {
		adds.Add(1)
		go func() {
			defer adds.Done()
			// Half share their leaves with another add, so dedup races the sweep.
			data := Data(uint64(30+i%3), (7+i%3)*blobs.ChunkSize+i)
			l := s.NewLease()
			ref, err := s.Add(ctx, bytes.NewReader(data), blobs.WithLease(l))
			if err != nil {
				t.Error(err)
				l.Release()
				return
			}
			// The reference a caller writes: here a pin, then the lease goes.
			if err := s.Pin(ctx, ref.CID); err != nil {
				t.Error(err)
			}
			l.Release()
			results[i] = added{ref, data}
		}()
	}
	adds.Wait()
	close(stop)
	gcs.Wait()
	if _, err := s.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range results {
		if !complete(t, s, a.ref.CID) || !bytes.Equal(ReadAll(t, s, a.ref.CID), a.data) {
			t.Fatalf("blob %s added while GCs ran is not whole", a.ref.CID)
		}
	}
}

func testLease(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	ref := add(t, s, Data(41, 6*blobs.ChunkSize))
	l := s.NewLease()
	if err := l.Keep(ctx, ref.CID); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx, nil); res.Blocks != 0 {
		t.Fatalf("GC removed %d blocks of a kept blob", res.Blocks)
	}
	l.Release()
	l.Release()
	if err := l.Put(ctx, ref.CID, nil); err == nil {
		t.Fatal("Put on a released lease succeeded")
	}
	if res, _ := s.GC(ctx, nil); res.Blocks != 7 {
		t.Fatalf("GC after Release freed %d blocks, want 7", res.Blocks)
	}
	l2 := s.NewLease()
	defer l2.Release()
	if err := l2.Keep(ctx, ref.CID); !errors.Is(err, blobs.ErrIncomplete) {
		t.Fatalf("Keep of a removed blob: %v", err)
	}
}

func testPut(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	l := s.NewLease()
	defer l.Release()
	data := []byte("block")
	ref, err := blobs.CIDOf(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, ref.CID, []byte("blocK")); !errors.Is(err, blobs.ErrHashMismatch) {
		t.Fatalf("Put of bytes that do not match: %v", err)
	}
	if ok, _ := s.Has(ctx, ref.CID); ok {
		t.Fatal("a mismatching block was stored")
	}
	if err := l.Put(ctx, ref.CID, data); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Block(ctx, ref.CID); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("Block = %q, %v", b, err)
	}
	if err := l.PutNode(ctx, blobs.Node{CID: ref.CID}); err == nil {
		t.Fatal("PutNode of a node not from Decode succeeded")
	}
}

func testTooLarge(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	data := Data(51, 3*blobs.ChunkSize)
	_, err := s.Add(ctx, bytes.NewReader(data), blobs.WithMaxSize(2*blobs.ChunkSize), blobs.WithPin())
	if !errors.Is(err, blobs.ErrTooLarge) {
		t.Fatalf("Add over the maximum: %v, want ErrTooLarge", err)
	}
	if pins, _ := s.Pins(ctx); len(pins) != 0 {
		t.Fatal("a failed Add left a pin")
	}
	if roots, _ := s.Roots(ctx); len(roots) != 0 {
		t.Fatal("a failed Add recorded a blob")
	}
	// What it wrote is garbage.
	if _, err := s.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx, nil); res.Kept != 0 {
		t.Fatalf("%d blocks left after GC of a failed Add", res.Kept)
	}
	// A failing reader fails the Add with its error.
	boom := errors.New("disk read error")
	if _, err := s.Add(ctx, io.MultiReader(bytes.NewReader(data[:1000]), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("Add from a failing reader: %v", err)
	}
	// A cancelled context stops it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Add(cctx, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a cancelled context: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func testReadOnly(t *testing.T, s *blobs.Store) {
	ctx := context.Background()
	ref := add(t, s, Data(61, 100))
	bs := s.Blockstore()
	if ok, err := bs.Has(ctx, ref.CID); !ok || err != nil {
		t.Fatalf("view Has = %v, %v", ok, err)
	}
	if b, err := bs.Get(ctx, ref.CID); err != nil || !bytes.Equal(b.RawData(), Data(61, 100)) {
		t.Fatalf("view Get: %v", err)
	}
	if err := bs.DeleteBlock(ctx, ref.CID); !errors.Is(err, blobs.ErrReadOnly) {
		t.Fatalf("view DeleteBlock: %v", err)
	}
}
