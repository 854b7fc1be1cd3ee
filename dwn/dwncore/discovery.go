package dwncore

import (
	"golang.org/x/crypto/blake2b"

	"github.com/datomspace/datomspace/corestore"
)

// CoreNamePrefix starts the name of every tenant core; the rest of the name is the tenant DID.
const CoreNamePrefix = "dwn/"

// CoreName is the name of the writable core in which a node journals a tenant's messages. The
// core's key derives from the node's primary key, so each node has its own core per tenant.
func CoreName(tenant string) string { return CoreNamePrefix + tenant }

// discoveryNamespace keys the BLAKE2b hash of tenant DIDs.
var discoveryNamespace = []byte("datomspace/dwn/tenant/v1")

// DiscoveryKey is what a tenant's nodes announce in the DHT, and look up to find each other:
// BLAKE2b-256 of the tenant DID keyed with "datomspace/dwn/tenant/v1". It reveals nothing of the
// DID to those who do not know it and cannot be confused with a core's discovery key.
func DiscoveryKey(tenant string) [32]byte {
	h, err := blake2b.New256(discoveryNamespace)
	if err != nil {
		panic(err) // a 24-byte key is always valid
	}
	h.Write([]byte(tenant))
	var out corestore.Key
	copy(out[:], h.Sum(nil))
	return out
}
