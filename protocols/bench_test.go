package protocols

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/datomspace/datomspace/corestore"
)

// Benchmarks run two hosts over real TCP + Noise + yamux on 127.0.0.1. Run them with, e.g.:
//
//	go test -run '^$' -bench . -benchtime 3x ./protocols/

// benchReader returns a fresh reader for the benchmarks: a host, a replicator over a new store,
// and a replica of key in it; closeReader closes all three.
func benchReader(b *testing.B, key corestore.Key) (h host.Host, rep *Replicator, rc *corestore.Core, closeReader func()) {
	st := openTestStore(b, b.TempDir())
	h = newTestHost(b)
	rep = NewReplicator(h, st, WithLogger(quietLog()))
	rc, err := st.Replica(context.Background(), key)
	if err != nil {
		b.Fatal(err)
	}
	return h, rep, rc, func() { rep.Close(); st.Close(); h.Close() }
}

// benchDownload downloads count blocks of size bytes into a fresh store with the default
// durability: Download returns only once everything it fetched is synced to disk.
func benchDownload(b *testing.B, count, size int) {
	owner := newNode(b, "")
	oc := makeOwner(b, owner, "bench", count, size)
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h, rep, rc, closeReader := benchReader(b, oc.Key())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		b.StartTimer()
		start := time.Now()
		connect(b, h, owner.host)
		if err := rep.Replicate(ctx, rc, owner.host.ID()); err != nil {
			b.Fatal(err)
		}
		if err := rep.Download(ctx, rc, 0, 0); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if rc.Contiguous() != uint64(count) {
			b.Fatalf("downloaded %d of %d", rc.Contiguous(), count)
		}
		cancel()
		closeReader()
		b.StartTimer()
	}
	secs := elapsed.Seconds()
	b.ReportMetric(float64(count*b.N)/secs, "blocks/s")
	b.ReportMetric(float64(count*size*b.N)/secs/1e6, "MB/s")
}

// BenchmarkDownload1KiB downloads 100,000 blocks of 1 KiB (JS anchor: 7,469 blocks/s).
func BenchmarkDownload1KiB(b *testing.B) { benchDownload(b, 100_000, 1<<10) }

// BenchmarkDownload64KiB downloads 2,000 blocks of 64 KiB (JS anchor: 97.4 MB/s).
func BenchmarkDownload64KiB(b *testing.B) { benchDownload(b, 2_000, 64<<10) }

// BenchmarkFirstBlock measures the time from connecting to a peer to holding the first
// verified block of a 10,000-block core.
func BenchmarkFirstBlock(b *testing.B) {
	owner := newNode(b, "")
	oc := makeOwner(b, owner, "first", 10_000, 1<<10)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h, rep, rc, closeReader := benchReader(b, oc.Key())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		b.StartTimer()
		start := time.Now()
		connect(b, h, owner.host)
		if err := rep.Replicate(ctx, rc, owner.host.ID()); err != nil {
			b.Fatal(err)
		}
		if _, err := rep.Get(ctx, rc, 0); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		closeReader()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-block")
}

// BenchmarkLiveAppend measures the time from an append on the owner to the block being stored,
// verified, at a follower that tails the core.
func BenchmarkLiveAppend(b *testing.B) {
	owner, follower := newNode(b, ""), newNode(b, "")
	oc := makeOwner(b, owner, "live", 10, 256)
	connect(b, follower.host, owner.host)
	fc := replicaOf(b, follower, oc.Key())
	stop := follower.rep.Want(fc, 0, 0)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := follower.rep.Replicate(ctx, fc, owner.host.ID()); err != nil {
		b.Fatal(err)
	}
	if err := follower.rep.Download(ctx, fc, 0, 0); err != nil {
		b.Fatal(err)
	}
	// A fixed 200 appends per iteration, so that -benchtime 1x still gives a real p50 and p99.
	const perIter = 200
	lat := make([]time.Duration, 0, perIter*b.N)
	b.ResetTimer()
	for i := 0; i < perIter*b.N; i++ {
		next := oc.Length()
		start := time.Now()
		if _, err := oc.Append(ctx, blockData(int(next), 256, "live")); err != nil {
			b.Fatal(err)
		}
		for !fc.Has(next) {
			select {
			case <-fc.Updated():
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				b.Fatal("follower never got the block")
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
