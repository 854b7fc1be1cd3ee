package corestore

import (
	"testing"

	dstest "github.com/ipfs/go-datastore/test"
)

// TestDatastoreConformance runs go-datastore's own conformance suite against the adapter.
func TestDatastoreConformance(t *testing.T) {
	s := openStore(t, t.TempDir())
	d, err := s.Datastore(0x90)
	if err != nil {
		t.Fatal(err)
	}
	dstest.SubtestAll(t, d)
	if _, err := s.Datastore(0x05); err == nil {
		t.Fatal("a corestore prefix was handed out")
	}
}
