package dwntest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// The benchmarks the dwn-sdk-js anchor (dwn/anchor/bench.mjs) mirrors: RecordsWrite with 1 KiB of
// data, and RecordsQuery by schema over 10,000 records. Messages are signed before the clock
// starts, as in the anchor; only processing is timed.

// BenchWriteData is the record data of the write benchmark: 1 KiB.
var BenchWriteData = bytes.Repeat([]byte("0123456789abcdef"), 64)

// BenchWrites signs n RecordsWrite messages of 1 KiB each, by the tenant.
func BenchWrites(p *Persona, n int) []*jsv.Object {
	c := NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	out := make([]*jsv.Object, n)
	for i := range out {
		out[i] = p.RecordsWrite(c, Write{Data: BenchWriteData, DataFormat: "application/octet-stream", Schema: "https://example.com/bench"})
	}
	return out
}

// BenchmarkRecordsWrite measures RecordsWrite with 1 KiB of data on a node (writes/s).
func BenchmarkRecordsWrite(b *testing.B, newNode func(b *testing.B) *dwn.Node) {
	p := NewPersona(1)
	msgs := BenchWrites(p, b.N)
	n := newNode(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(BenchWriteData)))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r, err := n.Process(ctx, p.DID, msgs[i], dwn.WithData(bytes.NewReader(BenchWriteData)))
		if err != nil || r.Status.Code != 202 {
			b.Fatalf("write %d: %v %+v", i, err, r)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

// BenchQueryRecords is how many records the query benchmark holds.
const BenchQueryRecords = 10_000

// BenchmarkRecordsQuery measures a tenant's RecordsQuery by schema over 10,000 records with that
// schema (and 1,000 others), reporting the median latency.
func BenchmarkRecordsQuery(b *testing.B, newNode func(b *testing.B) *dwn.Node) {
	p := NewPersona(1)
	n := newNode(b)
	ctx := context.Background()
	c := NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte(`{"n":1}`)
	for i := 0; i < BenchQueryRecords+1000; i++ {
		schema := "https://example.com/bench"
		if i%11 == 10 {
			schema = "https://example.com/other"
		}
		m := p.RecordsWrite(c, Write{Data: data, Schema: schema})
		if r, err := n.Process(ctx, p.DID, m, dwn.WithData(bytes.NewReader(data))); err != nil || r.Status.Code != 202 {
			b.Fatalf("load %d: %v %+v", i, err, r)
		}
	}
	queries := make([]*jsv.Object, b.N)
	for i := range queries {
		queries[i] = p.RecordsQuery(c, Obj("schema", "https://example.com/bench"))
	}
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := n.Process(ctx, p.DID, queries[i])
		durations = append(durations, time.Since(t0))
		if err != nil || r.Status.Code != 200 {
			b.Fatalf("query: %v %+v", err, r)
		}
		if i == 0 && len(r.Entries) < BenchQueryRecords-BenchQueryRecords/10 {
			b.Fatalf("query returned %d records", len(r.Entries))
		}
	}
	b.StopTimer()
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
}

// FormatRate is a helper for reports.
func FormatRate(n int, d time.Duration) string { return fmt.Sprintf("%.0f/s", float64(n)/d.Seconds()) }
