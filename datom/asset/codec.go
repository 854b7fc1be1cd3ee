package asset

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/datomspace/datomspace/corestore"
)

// Every record of this package is deterministic CBOR (RFC 8949 core deterministic encoding), so
// the same record always gives the same bytes, and a record's id is the hash of those bytes.
// Decoding is strict: bounded, without tags or indefinite lengths, and a record whose bytes are
// not exactly the canonical encoding of what they decode to is refused, so that no two byte
// strings stand for one record.

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // static options
	}
	if decMode, err = (cbor.DecOptions{
		MaxArrayElements:  4096,
		MaxMapPairs:       4096,
		MaxNestedLevels:   12,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}).DecMode(); err != nil {
		panic(err) // static options
	}
}

// marshal encodes v deterministically; the package's record types always encode.
func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("asset: encode %T: %v", v, err))
	}
	return b
}

// unmarshalCanonical decodes b into v and checks that b is v's canonical encoding.
func unmarshalCanonical(b []byte, v any, what string, sentinel error) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", sentinel, what, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil || !bytes.Equal(again, b) {
		return fmt.Errorf("%w: %s is not in canonical CBOR", sentinel, what)
	}
	return nil
}

// Namespaces of the signatures and hashes of this package, so that no signature or id of one
// kind can be taken for another, nor for a core's tree signature.
var (
	assetNS         = corestore.Namespace("datomspace/asset", 6)
	nsGrantSig      = assetNS[0] // signature of a grant payload
	nsGrantID       = assetNS[1] // id of a grant payload
	nsMember        = assetNS[2] // a core's attestation that it belongs to an owner's assets
	nsProof         = assetNS[3] // ownership proof file id
	nsKeyRelease    = assetNS[4] // the signed key release request
	nsQueryTemplate = assetNS[5] // the hash of an allowed query
)

func key32(b []byte, what string, sentinel error) (corestore.Key, error) {
	var k corestore.Key
	if len(b) != 32 {
		return k, fmt.Errorf("%w: %s is %d bytes, want 32", sentinel, what, len(b))
	}
	copy(k[:], b)
	return k, nil
}
