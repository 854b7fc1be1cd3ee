package doip

import (
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"golang.org/x/crypto/blake2b"
)

// prefixNamespace separates the discovery keys of DOIP prefixes from every other use of
// BLAKE2b-256 in the DHT.
const prefixNamespace = "datomspace/doip/prefix\x00"

// PrefixDiscoveryKey is the discovery key a node announces in the DHT for the DOIP prefix it
// serves, BLAKE2b-256("datomspace/doip/prefix" 0x00 prefix), in the same form as a core's
// discovery key, so discovery.Announce and FindProviders take it as they are.
func PrefixDiscoveryKey(prefix string) corestore.Key {
	return corestore.Key(blake2b.Sum256([]byte(prefixNamespace + prefix)))
}

// PrefixOf returns the prefix of an id, PREFIX/SUFFIX, or "" for an id without a slash.
func PrefixOf(id string) string {
	p, _, ok := strings.Cut(id, "/")
	if !ok {
		return ""
	}
	return p
}
