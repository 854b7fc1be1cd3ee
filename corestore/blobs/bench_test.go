package blobs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	var ours, kubo time.Duration
	for range b.N {
		b.StopTimer()
		dir := newDirStore(b)
		bad := newBadgerStore(b)
		b.StartTimer()
		t0 := time.Now()
		ref := addFile(b, dir, in)
		ours += time.Since(t0)
		b.StopTimer()
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
			t3 := time.Now()
			out, err := k.Run(nil, "add", "--cid-version=1", "-Q", in)
			if err != nil {
				b.Fatal(err)
			}
			kubo += time.Since(t3)
			if strings.TrimSpace(out) != ref.CID.String() {
				b.Fatalf("Kubo added %s, we %s", strings.TrimSpace(out), ref.CID)
			}
		}
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(ours.Seconds()/float64(b.N), "s/add")
	if kubo > 0 {
		b.ReportMetric(kubo.Seconds()/float64(b.N), "kubo-s")
		b.ReportMetric(kubo.Seconds()/ours.Seconds(), "speedup-x")
	}
}
