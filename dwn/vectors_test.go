package dwn_test

import (
	"testing"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/kvstore"
	"github.com/datomspace/datomspace/dwn/memstore"
)

func newMemNode(t testing.TB, opts ...dwn.Option) (*dwn.Node, *memstore.Stores) {
	t.Helper()
	s := memstore.New()
	n, err := dwn.New(append(s.Options(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, s
}

// TestMemoryNode runs the node conformance suite (the 32 shared steps and the 238 generated ones)
// on the in-memory stores, with and without store units.
func TestMemoryNode(t *testing.T) {
	dwntest.TestNode(t, func(t *testing.T) *dwn.Node {
		n, _ := newMemNode(t)
		return n
	})
	t.Run("units", func(t *testing.T) {
		dwntest.TestNode(t, func(t *testing.T) *dwn.Node {
			s := memstore.New()
			n, err := dwn.New(append(s.Options(), dwn.WithUnit(s))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			return n
		})
	})
}

func TestMemoryStores(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		dwntest.TestMessageStore(t, func(*testing.T) dwn.MessageStore { return kvstore.NewMessageStore(memstore.NewBackend(), 'M') })
	})
	t.Run("events", func(t *testing.T) {
		dwntest.TestEventLog(t, func(*testing.T) dwn.EventLog { return kvstore.NewEventLog(memstore.NewBackend(), 'E') })
	})
	t.Run("data", func(t *testing.T) {
		dwntest.TestDataStore(t, func(*testing.T) dwn.DataStore { return memstore.NewDataStore() })
	})
}
