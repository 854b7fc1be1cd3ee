package dwn_test

import (
	"testing"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/memstore"
)

func benchMemNode(b *testing.B) *dwn.Node {
	s := memstore.New()
	n, err := dwn.New(append(s.Options(), dwn.WithUnit(s))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

// BenchmarkRecordsWrite: RecordsWrite with 1 KiB of data on the in-memory stores.
func BenchmarkRecordsWrite(b *testing.B) { dwntest.BenchmarkRecordsWrite(b, benchMemNode) }

// BenchmarkRecordsQuery: RecordsQuery by schema over 10,000 records on the in-memory stores.
func BenchmarkRecordsQuery(b *testing.B) { dwntest.BenchmarkRecordsQuery(b, benchMemNode) }
