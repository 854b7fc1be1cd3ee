package datomspace

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkSessionGet measures Core.Get of one random block of a remote 100,000-block core of
// 1 KiB blocks, after Ready: the reader's server holds none of the blocks it asks for, so each Get
// is a request to the owner's server for that block and its proof, its verification and storage,
// and the answer through the reader's local API, over loopback. Each iteration reads 200
// blocks; it reports the p50, p90 and p99 latency. Target: p50 < 5 ms. The JavaScript anchor is
// testnet/anchor/hypercore-get.mjs (core.get(i) on a replicating session, in one process).
func BenchmarkSessionGet(b *testing.B) {
	const count, size, perIter = 100_000, 1 << 10, 200
	alice := newServer(b, "")
	key := bigCore(b, alice, "bench", count, size)
	bob := newServer(b, "", alice.Addrs()...)
	bc := newClient(b, bob)
	core := openCore(b, bc, CoreOptions{Key: key})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := core.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	seen := map[uint64]bool{}
	lat := make([]time.Duration, 0, perIter*b.N)
	b.ResetTimer()
	for range perIter * b.N {
		i := rng.Uint64N(count)
		for seen[i] {
			i = rng.Uint64N(count)
		}
		seen[i] = true
		start := time.Now()
		data, err := core.GetBytes(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if len(data) != size {
			b.Fatalf("block %d has %d bytes", i, len(data))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*9/10]), "p90-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
