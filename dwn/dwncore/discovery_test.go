package dwncore_test

import (
	"encoding/hex"
	"testing"

	"github.com/datomspace/datomspace/dwn/dwncore"
)

// TestDiscoveryKey pins the tenant discovery key (BLAKE2b-256 keyed "datomspace/dwn/tenant/v1",
// computed independently with Python's hashlib) and the core name.
func TestDiscoveryKey(t *testing.T) {
	const did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	got := dwncore.DiscoveryKey(did)
	if want := "9215639eec3059ce910d6a2247872332ce321f4a5ad6f8d7a5c61101a829e92e"; hex.EncodeToString(got[:]) != want {
		t.Fatalf("DiscoveryKey = %x, want %s", got, want)
	}
	if dwncore.DiscoveryKey(did+"x") == got {
		t.Fatal("two DIDs share a discovery key")
	}
	if dwncore.CoreName(did) != "dwn/"+did {
		t.Fatal(dwncore.CoreName(did))
	}
}
