package corestore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendBatched appends 100,000 1 KiB blocks in batches of 1,000, as the anchor does.
// "durable" syncs every batch; "bulk" is the explicit bulk-import mode (WithDurability(false)),
// which matches what the anchor does (Hypercore does not fsync appends).
func BenchmarkAppendBatched(b *testing.B) {
	for _, mode := range []struct {
		name    string
		durable bool
	}{{"durable", true}, {"bulk", false}} {
		b.Run(mode.name, func(b *testing.B) {
			const n, size, batch = 100_000, 1024, 1000
			block := make([]byte, size)
			for i := range block {
				block[i] = 7
			}
			blocks := make([][]byte, batch)
			for i := range blocks {
				blocks[i] = block
			}
			var total time.Duration
			for it := 0; it < b.N; it++ {
				b.StopTimer()
				s := openStore(b, b.TempDir(), WithDurability(mode.durable))
				c, _ := s.Create(context.Background(), "bench")
				b.StartTimer()
				t0 := time.Now()
				for i := 0; i < n; i += batch {
					if _, err := c.Append(context.Background(), blocks...); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(t0)
				b.StopTimer()
				s.Close()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "blocks/s")
			b.ReportMetric(float64(n*size*b.N)/total.Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkAppendConcurrent has 8 writers append single 1 KiB blocks to one core, durably.
// Group commit lets them share syncs. The anchor's figure is one writer's single-append rate.
func BenchmarkAppendConcurrent(b *testing.B) {
	const writers, perWriter = 8, 2500
	block := make([]byte, 1024)
	var total time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		s := openStore(b, b.TempDir())
		c, _ := s.Create(context.Background(), "bench")
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					if _, err := c.Append(context.Background(), block); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		total += time.Since(t0)
		b.StopTimer()
		if c.Length() != writers*perWriter {
			b.Fatalf("length %d", c.Length())
		}
		s.Close()
	}
	b.ReportMetric(float64(writers*perWriter*b.N)/total.Seconds(), "appends/s")
}

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigCore builds, once per process, a store with one core of 1M blocks of 1 KiB.
func bigCore(b *testing.B) string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "corestore-1m-")
		if bigErr != nil {
			return
		}
		s, err := Open(context.Background(), bigDir, WithLogger(quiet()), WithDurability(false))
		if err != nil {
			bigErr = err
			return
		}
		defer s.Close()
		c, _ := s.Create(context.Background(), "big")
		blocks := make([][]byte, 1000)
		for i := 0; i < 1_000_000; i += 1000 {
			for j := range blocks {
				blk := make([]byte, 1024)
				copy(blk, fmt.Sprintf("block %d", i+j))
				blocks[j] = blk
			}
			if _, err := c.Append(context.Background(), blocks...); err != nil {
				bigErr = err
				return
			}
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigDir
}

// BenchmarkProofRandomBlock generates a proof for a random block of a 1M-block core and verifies
// it against the tree a replica trusts, on all CPUs.
func BenchmarkProofRandomBlock(b *testing.B) {
	dir := bigCore(b)
	s := openStore(b, dir)
	ctx := context.Background()
	c, err := s.Get(ctx, s.KeyForName("big"))
	if err != nil {
		b.Fatal(err)
	}
	tree := c.Tree()
	m := c.Manifest()
	// A fixed 20,000 proofs per iteration, on all CPUs, so that -benchtime 1x still measures a rate.
	const perIter = 20_000
	var seed, left atomic.Int64
	b.ResetTimer()
	t0 := time.Now()
	left.Store(int64(perIter * b.N))
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(uint64(seed.Add(1)), 7))
		for pb.Next() {
		}
		for left.Add(-1) >= 0 {
			i := r.Uint64N(tree.Length)
			p, err := c.Prove(ctx, ProofRequest{Start: i, End: i + 1, HaveFork: tree.Fork, HaveLength: tree.Length})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := verifyProof(c.Key(), m, tree, nil, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(perIter*b.N)/time.Since(t0).Seconds(), "proofs/s")
}

const openChildEnv = "CORESTORE_BENCH_OPEN_CHILD"

// TestMain lets the test binary act as the child process of BenchmarkOpenManyCores (so the open
// is timed and its memory measured in a fresh process) and of TestCrashRecovery.
func TestMain(m *testing.M) {
	if dir := os.Getenv(openChildEnv); dir != "" {
		os.Exit(openChild(dir))
	}
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

func openChild(dir string) int {
	ctx := context.Background()
	t0 := time.Now()
	s, err := Open(ctx, dir, WithLogger(quiet()))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	c, err := s.Get(ctx, s.KeyForName("core-4242"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	in := c.Info()
	elapsed := time.Since(t0)
	rss := vmHWM()
	s.Close()
	fmt.Printf("open %d %d %d\n", elapsed.Nanoseconds(), rss, in.Length)
	return 0
}

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return -1
}

// BenchmarkOpenManyCores opens a store holding 10,000 cores in a fresh process and reads one
// core's header, reporting the time and the peak RSS of that process.
func BenchmarkOpenManyCores(b *testing.B) {
	dir := b.TempDir()
	s := openStore(b, dir, WithDurability(false))
	ctx := context.Background()
	for i := 0; i < 10_000; i++ {
		c, err := s.Create(ctx, fmt.Sprintf("core-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Append(ctx, []byte("hello"), []byte(strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ResetTimer()
	var worstNS, worstRSS int64
	for it := 0; it < b.N; it++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), openChildEnv+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v: %s", err, out)
		}
		var ns, rss, length int64
		if _, err := fmt.Sscanf(string(out), "open %d %d %d", &ns, &rss, &length); err != nil || length != 2 {
			b.Fatalf("child said %q", out)
		}
		worstNS, worstRSS = max(worstNS, ns), max(worstRSS, rss)
	}
	b.ReportMetric(float64(worstNS)/1e9, "open-s")
	b.ReportMetric(float64(worstRSS)/1e6, "peak-RSS-MB")
}
