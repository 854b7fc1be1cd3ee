package protocols

import (
	"context"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// BenchmarkEncryptedReplication replicates 2,000 blocks of 64 KiB, plain and encrypted, over
// real TCP + Noise + yamux on 127.0.0.1 with the harness of BenchmarkDownload64KiB: a fresh
// reader store per iteration, default durability, timed from connecting until Download returns
// (everything fetched is verified and synced). The target is encrypted >= 80% of plain MB/s.
//
//   - download: the reader holds the key, but replication moves the stored bytes (8 bytes of
//     padding more per block) untouched, so this is the cost of the padding alone.
//   - download+read: the reader then reads every block back (GetRange, 256 blocks at a time),
//     which checks each against its leaf and, for the encrypted core, decrypts it.
//
// JavaScript anchor for the same encrypted core: testnet/anchor/hypercore-encrypted.mjs.
//
//	go test -run '^$' -bench EncryptedReplication -benchtime 3x ./protocols/
func BenchmarkEncryptedReplication(b *testing.B) {
	const count, size = 2_000, 64 << 10
	for _, enc := range []bool{false, true} {
		owner := newNode(b, "")
		var oc *corestore.Core
		if enc {
			oc = makeEncryptedOwner(b, owner, "bench-enc", count, size)
		} else {
			oc = makeOwner(b, owner, "bench-plain", count, size)
		}
		kind := map[bool]string{false: "plain", true: "encrypted"}[enc]
		for _, read := range []bool{false, true} {
			mode := map[bool]string{false: "download", true: "download+read"}[read]
			b.Run(kind+"/"+mode, func(b *testing.B) {
				benchDownloadCore(b, owner, oc, count, size, enc, read)
			})
		}
	}
}

func benchDownloadCore(b *testing.B, owner *node, oc *corestore.Core, count, size int, enc, read bool) {
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h, rep, rc, closeReader := benchReader(b, oc.Key())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if enc {
			if err := rc.SetEncryptionKey(ctx, benchEncryptionKey); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		connect(b, h, owner.host)
		if err := rep.Replicate(ctx, rc, owner.host.ID()); err != nil {
			b.Fatal(err)
		}
		if err := rep.Download(ctx, rc, 0, 0); err != nil {
			b.Fatal(err)
		}
		if read {
			for lo := uint64(0); lo < uint64(count); lo += 256 {
				bs, err := rc.GetRange(ctx, lo, min(lo+256, uint64(count)))
				if err != nil {
					b.Fatal(err)
				}
				if len(bs[0]) != size {
					b.Fatalf("block %d is %d bytes", lo, len(bs[0]))
				}
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if rc.Contiguous() != uint64(count) {
			b.Fatalf("downloaded %d of %d", rc.Contiguous(), count)
		}
		if read {
			checkBlocks(b, rc, oc.Name(), size, 0, 16)
		}
		cancel()
		closeReader()
		b.StartTimer()
	}
	secs := elapsed.Seconds()
	b.ReportMetric(float64(count*b.N)/secs, "blocks/s")
	b.ReportMetric(float64(count*size*b.N)/secs/1e6, "MB/s")
}
