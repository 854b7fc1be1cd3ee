package dwncore_test

import (
	"testing"

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
