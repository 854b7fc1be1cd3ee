package protocols

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// TestLargestBlockReplicates: a block of corestore.MaxBlockSize bytes, among small ones,
// replicates with the default limits; a 20 MiB block is refused at append (issue 13 item 5).
func TestLargestBlockReplicates(t *testing.T) {
	ctx := tctx(t, 60*time.Second)
	owner, reader := newNode(t, ""), newNode(t, "")
	oc, err := owner.store.Create(ctx, "largest")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), corestore.MaxBlockSize/16)
	blocks := [][]byte{[]byte("a"), []byte("b"), big, []byte("c"), big[:1000]}
	if _, err := oc.Append(ctx, blocks...); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Append(ctx, make([]byte, 20<<20)); !errors.Is(err, corestore.ErrBlockTooLarge) {
		t.Fatalf("append of a 20 MiB block: %v; want ErrBlockTooLarge", err)
	}
	connect(t, reader.host, owner.host)
	rc := replicaOf(t, reader, oc.Key())
	replicateAndDownload(t, ctx, reader, rc, owner, 0, 0)
	got, err := rc.GetRange(ctx, 0, uint64(len(blocks)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		if !bytes.Equal(got[i], blocks[i]) {
			t.Fatalf("block %d differs (%d bytes, want %d)", i, len(got[i]), len(blocks[i]))
		}
	}
	if err := rc.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestResponsesShrinkToFrameLimit: a responder whose message limit is smaller than the answer
// the requester's range would make sends a prefix of the range that fits, so everything still
// arrives (before, the whole answer was replaced by a NoData and the reader waited for ever).
func TestResponsesShrinkToFrameLimit(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxMessageSize = 1 << 20
	owner, reader := newNode(t, "", WithLimits(lim)), newNode(t, "")
	const count, size = 40, 300 << 10 // 12 MB in blocks of 300 KiB, three to a message
	oc := makeOwner(t, owner, "shrink", count, size)
	connect(t, reader.host, owner.host)
	rc := replicaOf(t, reader, oc.Key())
	replicateAndDownload(t, tctx(t, 60*time.Second), reader, rc, owner, 0, 0)
	checkBlocks(t, rc, "shrink", size, 0, count)
}

// TestReaderNeverHangsSilently: when a block cannot arrive from a peer, because the peer never
// answers, answers with a message over the reader's limit, or holds a block larger than its own
// message limit allows it to send, the reader says so in its log (and the responder too, in the
// last case), drops or stops asking that peer, and a Download bounded by its context returns.
func TestReaderNeverHangsSilently(t *testing.T) {
	lim := DefaultLimits()
	lim.RequestTimeout = 500 * time.Millisecond

	t.Run("block larger than the responder's message limit", func(t *testing.T) {
		ownerLogs, readerLogs := &logCounter{}, &logCounter{}
		olim := DefaultLimits()
		olim.MaxMessageSize = 1 << 20
		owner := newNode(t, "", WithLimits(olim), WithLogger(slog.New(ownerLogs)))
		reader := newNode(t, "", WithLimits(lim), WithLogger(slog.New(readerLogs)))
		ctx := tctx(t, 30*time.Second)
		oc, _ := owner.store.Create(ctx, "unsendable")
		const n, bad = 64, 10
		var blocks [][]byte
		for i := range n {
			blocks = append(blocks, blockData(i, 100, "unsendable"))
		}
		blocks[bad] = make([]byte, 2<<20)
		if _, err := oc.Append(ctx, blocks...); err != nil {
			t.Fatal(err)
		}
		connect(t, reader.host, owner.host)
		rc := replicaOf(t, reader, oc.Key())
		if err := reader.rep.Replicate(ctx, rc, owner.host.ID()); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := reader.rep.Download(dctx, rc, 0, n); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("download: %v; want the context's deadline", err)
		}
		// Every block but the one that cannot be sent arrived, those after it included.
		for i := range uint64(n) {
			if rc.Has(i) != (i != bad) {
				t.Fatalf("block %d held: %v", i, rc.Has(i))
			}
		}
		if ownerLogs.count("block too large to send", "block=10") == 0 {
			t.Errorf("the responder did not log the block it cannot send: %v", ownerLogs.matching("WARN"))
		}
		if readerLogs.count("peer cannot send blocks", "start=10") == 0 {
			t.Errorf("the reader did not log the block it cannot get: %v", readerLogs.matching("WARN"))
		}
	})

	// Peers that never answer, or answer with a message over the limit, are the hostile ones.
	owner := newNode(t, "")
	oc := makeOwner(t, owner, "silent", 100, 1000)
	evilStore := openTestStore(t, t.TempDir())
	t.Cleanup(func() { evilStore.Close() })
	ec, err := evilStore.Replica(context.Background(), oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	presync(t, oc, ec, 100)
	for _, tc := range []struct{ mode, logged string }{
		{"silent", "peer stalled; disconnecting"},
		{"oversized", "peer broke the sync protocol; disconnecting"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			logs := &logCounter{}
			reader := newNode(t, "", WithLimits(lim), WithLogger(slog.New(logs)))
			rc := replicaOf(t, reader, oc.Key())
			evil := newHostile(t, ec, tc.mode, 0)
			close(evil.release)
			connect(t, reader.host, evil.h)
			ctx := tctx(t, 30*time.Second)
			if err := reader.rep.Replicate(ctx, rc, evil.h.ID()); err != nil {
				t.Fatal(err)
			}
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := reader.rep.Download(dctx, rc, 0, 100); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("download: %v; want the context's deadline", err)
			}
			if logs.count(tc.logged, evil.h.ID().String()) == 0 {
				t.Fatalf("nothing logged about the peer: %v", logs.matching("WARN"))
			}
		})
	}
}
