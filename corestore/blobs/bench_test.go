package blobs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
)

// benchFile writes n bytes of seed's stream to a file in dir.
func benchFile(b *testing.B, dir string, seed uint64, n int64) string {
	b.Helper()
	p := filepath.Join(dir, "input")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, io.LimitReader(seeded(seed), n)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

func addFile(b *testing.B, s *Store, path string) Ref {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ref, err := s.Add(context.Background(), f)
	if err != nil {
		b.Fatal(err)
	}
	return ref
}

// BenchmarkAdd256MiB imports 256 MiB of random bytes from a file: into a store as a peer keeps
// it (metadata in Badger, blocks in a block directory), into one all in Badger, CIDOf alone,
// and Kubo's `ipfs add --cid-version=1` of the same file (its whole process, as a user runs it),
// one right after the other. kubo-s and speedup-x compare with the block-directory store.
// Run: go test ./corestore/blobs -run '^$' -bench Add256MiB -benchtime 1x
func BenchmarkAdd256MiB(b *testing.B) {
	const size = 256 << 20
	in := benchFile(b, b.TempDir(), 256, size)
	var ours, kubo, oursCPU, kuboCPU time.Duration
	for range b.N {
		b.StopTimer()
		dir := newDirStore(b)
		bad := newBadgerStore(b)
		// Each import starts with no dirty pages left by the one before, or by writing the input.
		syscall.Sync()
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime()
		ref := addFile(b, dir, in)
		ours += time.Since(t0)
		oursCPU += cpuTime() - c0
		b.StopTimer()
		syscall.Sync()
		t1 := time.Now()
		addFile(b, bad, in)
		b.ReportMetric(time.Since(t1).Seconds(), "badger-s")
		t2 := time.Now()
		f, _ := os.Open(in)
		if _, err := CIDOf(context.Background(), f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.ReportMetric(time.Since(t2).Seconds(), "cidof-s")
		if bin := kubotest.Binary(); bin != "" {
			k := kubotest.NewRepo(b, bin)
			syscall.Sync()
			t3 := time.Now()
			out, cpu, err := k.RunCPU("add", "--cid-version=1", "-Q", in)
			if err != nil {
				b.Fatal(err)
			}
			kubo += time.Since(t3)
			kuboCPU += cpu
			if strings.TrimSpace(out) != ref.CID.String() {
				b.Fatalf("Kubo added %s, we %s", strings.TrimSpace(out), ref.CID)
			}
		}
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(ours.Seconds()/float64(b.N), "s/add")
	b.ReportMetric(oursCPU.Seconds()/float64(b.N), "cpu-s")
	if kubo > 0 {
		b.ReportMetric(kubo.Seconds()/float64(b.N), "kubo-s")
		b.ReportMetric(kuboCPU.Seconds()/float64(b.N), "kubo-cpu-s")
		b.ReportMetric(kubo.Seconds()/ours.Seconds(), "speedup-x")
	}
}

// cpuTime is this process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
