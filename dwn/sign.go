package dwn

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Signer signs DWN messages as an Ed25519 did:key, the way dwn-sdk-js's PrivateKeySigner does:
// a General JWS with the protected header {"kid", "alg":"EdDSA"}.
type Signer struct {
	DID   string
	KeyID string // DID#fragment
	Key   ed25519.PrivateKey
}

// NewSigner returns the signer of the did:key of key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	did := DIDKeyFromEd25519(key.Public().(ed25519.PublicKey))
	return &Signer{DID: did, KeyID: did + "#" + strings.TrimPrefix(did, "did:key:"), Key: key}
}

// JWS returns a General JWS over the JSON of payload.
func (s *Signer) JWS(payload *jsv.Object) *jsv.Object {
	b64 := base64.RawURLEncoding.EncodeToString
	h := jsv.NewObject()
	h.Set("kid", s.KeyID)
	h.Set("alg", "EdDSA")
	prot := b64([]byte(jsv.Stringify(h)))
	pl := b64([]byte(jsv.Stringify(payload)))
	sig := ed25519.Sign(s.Key, []byte(prot+"."+pl))
	entry := jsv.NewObject()
	entry.Set("protected", prot)
	entry.Set("signature", b64(sig))
	jws := jsv.NewObject()
	jws.Set("payload", pl)
	jws.Set("signatures", []any{entry})
	return jws
}

// SignMessage returns the message {descriptor, authorization} for a descriptor whose signature
// payload is the generic {descriptorCid}: RecordsQuery/Read/Subscribe/Delete, ProtocolsConfigure/Query and
// MessagesQuery/Read/Subscribe. A nil signer leaves the message unsigned (anonymous reads and
// queries of published records). RecordsWrite needs recordId, contextId and data properties;
// see dwntest.Persona.RecordsWrite.
func SignMessage(s *Signer, descriptor *jsv.Object) (*jsv.Object, error) {
	m := jsv.NewObject()
	m.Set("descriptor", descriptor)
	if s == nil {
		return m, nil
	}
	if i, _ := descriptor.Get("interface"); i == "Records" {
		if meth, _ := descriptor.Get("method"); meth == "Write" {
			return nil, fmt.Errorf("dwn: SignMessage cannot build a RecordsWrite")
		}
	}
	dcid, err := ComputeCID(descriptor)
	if err != nil {
		return nil, err
	}
	pl := jsv.NewObject()
	pl.Set("descriptorCid", dcid)
	auth := jsv.NewObject()
	auth.Set("signature", s.JWS(pl))
	m.Set("authorization", auth)
	return m, nil
}

// Timestamp formats t as dwn-sdk-js's messageTimestamp (UTC, microseconds).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
