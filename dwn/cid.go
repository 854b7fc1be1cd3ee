package dwn

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/datomspace/datomspace/dwn/jsv"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// cidPrefix is CIDv1, dag-cbor (0x71), sha2-256 (0x12), 32 bytes.
var cidPrefix = []byte{0x01, 0x71, 0x12, 0x20}

// ComputeCID returns the CID dwn-sdk-js's Cid.computeCid gives v: CIDv1, dag-cbor, sha2-256, in
// lower-case base32 ("bafyrei…"). It fails for values DAG-CBOR cannot hold (NaN, Infinity).
func ComputeCID(v any) (string, error) {
	b, err := jsv.EncodeCBOR(v)
	if err != nil {
		return "", err
	}
	return cidOfCBOR(b), nil
}

func cidOfCBOR(b []byte) string {
	sum := sha256.Sum256(b)
	raw := make([]byte, 0, 36)
	raw = append(raw, cidPrefix...)
	raw = append(raw, sum[:]...)
	return "b" + lowerBase32(raw)
}

func lowerBase32(raw []byte) string {
	s := []byte(b32.EncodeToString(raw))
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			s[i] = c + ('a' - 'A')
		}
	}
	return string(s)
}

// MessageCID returns the CID of a message: of the whole message without encodedData.
func MessageCID(msg *jsv.Object) (string, error) {
	if msg.Has("encodedData") {
		msg = msg.Clone()
		msg.Delete("encodedData")
	}
	return ComputeCID(msg)
}

// ParseMessageCID parses s as Cid.parseCid does (the CID as version 1, dag-cbor and sha2-256
// only) and returns it in base32.
func ParseMessageCID(s string) (string, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return "", err
	}
	if c.Version() == 0 {
		c = cid.NewCidV1(cid.DagProtobuf, c.Hash())
	}
	if c.Type() != cid.DagCBOR {
		return "", newError(CodeParseCidCodecNotSupported, fmt.Sprintf("codec [%d] not supported", c.Type()))
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return "", err
	}
	if dec.Code != mh.SHA2_256 {
		return "", newError(CodeParseCidMultihashNotSupported, fmt.Sprintf("multihash code [%d] not supported", dec.Code))
	}
	return c.String(), nil
}
