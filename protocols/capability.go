package protocols

import (
	"crypto/subtle"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/blake2b"

	"github.com/datomspace/datomspace/corestore"
)

// Capability domain strings. The responder's differs so that it cannot answer by echoing the
// initiator's capability without knowing the core key.
const (
	capInitiatorDomain = "datomspace/sync/cap"
	capResponderDomain = "datomspace/sync/cap/responder"
)

// Capability returns the proof that the sender knows coreKey for a stream between initiator and
// responder: BLAKE2b-256 keyed with coreKey over (domain || initiator ID bytes || responder ID
// bytes), with domain "datomspace/sync/cap" for the initiator and "datomspace/sync/cap/responder"
// for the responder.
func Capability(coreKey corestore.Key, initiator, responder peer.ID, isInitiator bool) []byte {
	h, err := blake2b.New256(coreKey[:])
	if err != nil { // only for keys longer than 64 bytes
		panic(err)
	}
	if isInitiator {
		h.Write([]byte(capInitiatorDomain))
	} else {
		h.Write([]byte(capResponderDomain))
	}
	h.Write([]byte(initiator))
	h.Write([]byte(responder))
	return h.Sum(nil)
}

// checkCapability compares a received capability with the expected one in constant time.
func checkCapability(got []byte, coreKey corestore.Key, initiator, responder peer.ID, isInitiator bool) bool {
	want := Capability(coreKey, initiator, responder, isInitiator)
	return len(got) == len(want) && subtle.ConstantTimeCompare(got, want) == 1
}
