package blobsync

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
)

// addStream adds n bytes of seed's stream to the provider.
func addStream(b *testing.B, n *node, seed uint64, size int64) blobs.Ref {
	b.Helper()
	ref, err := n.store.Add(context.Background(), io.LimitReader(seededReader(seed), size))
	if err != nil {
		b.Fatal(err)
	}
	return ref
}

// kuboFetch times `ipfs cat` of size bytes of seed's stream between two Kubo daemons: one adds,
// the other, connected to it, fetches with bitswap. It returns the time and the CPU time both
// daemons used meanwhile, or zeros without Kubo.
func kuboFetch(b *testing.B, seed uint64, size int64) (time.Duration, time.Duration) {
	bin := kubotest.Binary()
	if bin == "" {
		return 0, 0
	}
	a, c := kubotest.NewRepo(b, bin), kubotest.NewRepo(b, bin)
	a.Start()
	c.Start()
	out, err := a.Run(io.LimitReader(seededReader(seed), size), "add", "--cid-version=1", "-Q")
	if err != nil {
		b.Fatal(err)
	}
	id, addrs := a.Identity()
	c.MustRun("swarm", "connect", addrs[0]+"/p2p/"+id)
	t0, cpu0 := time.Now(), a.CPUTime()+c.CPUTime()
	if err := c.RunTo(io.Discard, "cat", strings.TrimSpace(out)); err != nil {
		b.Fatal(err)
	}
	d, cpu := time.Since(t0), a.CPUTime()+c.CPUTime()-cpu0
	a.Stop()
	c.Stop()
	return d, cpu
}

// BenchmarkFetch256MiB fetches 256 MiB between two peers on loopback, the fetcher a child
// process with a fresh store: on the fast path (fast-s), with bitswap (bitswap-s), and, one
// right after the other, bitswap between two Kubo daemons (`ipfs cat`, kubo-s). Ratios say how
// many times faster than Kubo each is.
// Run: go test ./protocols/blobsync -run '^$' -bench Fetch256MiB -benchtime 1x
func BenchmarkFetch256MiB(b *testing.B) {
	const size = 256 << 20
	p := newNode(b)
	ref := addStream(b, p, 256, size)
	var fast, bs, kubo, fastCPU, bsCPU, kuboCPU float64
	var hwm int64
	for range b.N {
		r := runChild(b, p, ref, "fast")
		fast += r.Seconds
		fastCPU += r.CPU + r.ProviderCPU
		hwm = max(hwm, r.HWMKiB)
		r = runChild(b, p, ref, "bitswap")
		bs += r.Seconds
		bsCPU += r.CPU + r.ProviderCPU
		kd, kc := kuboFetch(b, 256, size)
		kubo += kd.Seconds()
		kuboCPU += kc.Seconds()
	}
	n := float64(b.N)
	b.SetBytes(size)
	b.ReportMetric(fast/n, "fast-s")
	b.ReportMetric(bs/n, "bitswap-s")
	// CPU time of both ends, which the load on the machine changes less than wall time.
	b.ReportMetric(fastCPU/n, "fast-cpu-s")
	b.ReportMetric(bsCPU/n, "bitswap-cpu-s")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
	if kubo > 0 {
		b.ReportMetric(kubo/n, "kubo-s")
		b.ReportMetric(kuboCPU/n, "kubo-cpu-s")
		b.ReportMetric(kubo/fast, "fast-vs-kubo-x")
		b.ReportMetric(kubo/bs, "bitswap-vs-kubo-x")
	}
}

// BenchmarkFetchRSS1GiB fetches 1 GiB on the fast path into a child process and reports its
// peak resident memory (VmHWM). Target: under 200 MB.
// Run: go test ./protocols/blobsync -run '^$' -bench FetchRSS1GiB -benchtime 1x
func BenchmarkFetchRSS1GiB(b *testing.B) {
	const size = 1 << 30
	p := newNode(b)
	ref := addStream(b, p, 1024, size)
	var hwm int64
	var secs float64
	for range b.N {
		r := runChild(b, p, ref, "fast")
		hwm = max(hwm, r.HWMKiB)
		secs += r.Seconds
	}
	b.SetBytes(size)
	b.ReportMetric(secs/float64(b.N), "fetch-s")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
	if hwm >= 200*1024 {
		b.Errorf("peak RSS %d MiB, over the 200 MB target", hwm/1024)
	}
}
