package dwncore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
)

func benchCoreNode(b *testing.B) *dwn.Node {
	s, _ := newStore(b)
	return s.Node()
}

// BenchmarkRecordsWrite: RecordsWrite with 1 KiB of data on a core-backed node (each write is
// appended to the tenant core and indexed in the derived database; the store is not durable, as
// dwn-sdk-js's LevelDB does not sync either).
func BenchmarkRecordsWrite(b *testing.B) { dwntest.BenchmarkRecordsWrite(b, benchCoreNode) }

// BenchmarkRecordsQuery: RecordsQuery by schema over 10,000 records on a core-backed node.
func BenchmarkRecordsQuery(b *testing.B) { dwntest.BenchmarkRecordsQuery(b, benchCoreNode) }

// BenchmarkSync10k: the time for a second node to sync 10,000 records from the first: the
// first's tenant core is replicated into the second's corestore through signed proofs (as the
// replication protocol moves them, without the network) and the second ingests it, judging every
// message. dwn-sdk-js has no equivalent.
func BenchmarkSync10k(b *testing.B) {
	ctx := context.Background()
	const records = 10_000
	a, _ := newStore(b)
	p := dwntest.NewPersona(1)
	c := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte(`{"n":1}`)
	for i := 0; i < records; i++ {
		m := p.RecordsWrite(c, dwntest.Write{Data: data, Schema: "https://example.com/bench"})
		if r, err := a.Node().Process(ctx, p.DID, m, dwn.WithData(bytes.NewReader(data))); err != nil || r.Status.Code != 202 {
			b.Fatalf("load %d: %v %+v", i, err, r)
		}
	}
	own, err := a.TenantCore(ctx, p.DID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, cs := newStore(b)
		b.StartTimer()
		rep := replicate(b, own, cs)
		st, err := s.Ingest(ctx, p.DID, rep)
		if err != nil || st.Accepted != records {
			b.Fatalf("ingest: %v %+v", err, st)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
