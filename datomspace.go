package datomspace

import "github.com/datomspace/datomspace/corestore"

// DiscoveryKey returns the discovery key of the core with key: what peers announce and look up
// in the DHT instead of the key, which only those who may read the core know. It is nil for a key
// that is not 32 bytes.
func DiscoveryKey(key []byte) []byte {
	if len(key) != 32 {
		return nil
	}
	dk := corestore.DiscoveryKey(corestore.Key(key))
	return dk[:]
}
