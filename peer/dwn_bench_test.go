package peer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
)

// BenchmarkDWNSync10k is the time a second node takes to sync 10,000 records of a tenant from
// the first, through the node as a user runs it: two nodes on real libp2p hosts on loopback; the
// second, started with the tenant held and the first as its bootstrap peer, finds the first
// through the DHT, asks it for its tenant core over /datomspace/dwn/1.0.0, replicates the core
// live with signed proofs, and ingests every message, judging each (signature, schema, newest
// wins) and journaling it in its own core. The clock runs from the second node's Start until its
// own core holds all 10,000. Each record carries 7 bytes of inline data. dwn-sdk-js has no
// equivalent (it has no node-to-node sync).
//
// durable is a node as `serve` runs it: every message ingested is on disk before the next (one
// sync each). bulk is the second node's repo opened WithBulkImport (appends atomic, not synced
// one by one), which separates the cost of the network and the judging from the syncs.
func BenchmarkDWNSync10k(b *testing.B) {
	b.Run("durable", func(b *testing.B) { benchDWNSync(b, false) })
	b.Run("bulk", func(b *testing.B) { benchDWNSync(b, true) })
}

func benchDWNSync(b *testing.B, bulk bool) {
	const records = 10_000
	ctx := context.Background()
	alice := dwntest.NewPersona(1)
	first := newBenchDWNNode(b, "", alice.DID)
	store := first.DWNStore()
	c := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte(`{"n":1}`)
	for i := 0; i < records; i++ {
		m := alice.RecordsWrite(c, dwntest.Write{Data: data, Schema: "https://example.com/bench"})
		if r, err := store.Node().Process(ctx, alice.DID, m, dwn.WithData(bytes.NewReader(data))); err != nil || r.Status.Code != 202 {
			b.Fatalf("load %d: %v %+v", i, err, r)
		}
	}
	boot := first.Addrs()[0]
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		r, err := InitRepo(ctx, dir, WithRepoLogger(quietLog()))
		if err != nil {
			b.Fatal(err)
		}
		if bulk {
			r.Close()
			if r, err = OpenRepo(ctx, dir, WithRepoLogger(quietLog()), WithBulkImport()); err != nil {
				b.Fatal(err)
			}
		}
		second, err := NewNode(ctx, r, WithNodeLogger(quietLog()), WithListen("/ip4/127.0.0.1/tcp/0"),
			WithBootstrapAddrs(boot), WithDWN(DWNOptions{Tenants: []string{alice.DID}}))
		if err != nil {
			b.Fatal(err)
		}
		authorizeNode(b, second, alice.DID)
		b.StartTimer()
		t0 := time.Now()
		if err := second.Start(ctx); err != nil {
			b.Fatal(err)
		}
		deadline := t0.Add(10 * time.Minute)
		for {
			if s := second.DWNStore(); s != nil {
				if _, n, ok := s.CoreKey(alice.DID); ok && n >= records {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("the second node did not sync in 10 minutes")
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(t0)
		b.StopTimer()
		second.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(total.Seconds()/float64(b.N), "s/sync")
	b.ReportMetric(float64(records)*float64(b.N)/total.Seconds(), "records/s")
}

func newBenchDWNNode(b *testing.B, boot string, tenants ...string) *Node {
	b.Helper()
	ctx := context.Background()
	r, err := InitRepo(ctx, b.TempDir(), WithRepoLogger(quietLog()))
	if err != nil {
		b.Fatal(err)
	}
	opts := []NodeOption{WithNodeLogger(quietLog()), WithListen("/ip4/127.0.0.1/tcp/0"), WithDWN(DWNOptions{Tenants: tenants})}
	if boot != "" {
		opts = append(opts, WithBootstrapAddrs(boot))
	}
	n, err := NewNode(ctx, r, opts...)
	if err != nil {
		b.Fatal(err)
	}
	for _, did := range tenants {
		authorizeNode(b, n, did)
	}
	b.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return n
}
