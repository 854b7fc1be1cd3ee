package dwn

import (
	"context"
	"testing"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// FuzzJWS: signature structures from untrusted messages are checked without panics, and a JWS
// that passes has one signature whose kid decodes.
func FuzzJWS(f *testing.F) {
	for _, s := range []string{
		`{"payload":"eyJkZXNjcmlwdG9yQ2lkIjoiYmFmeXJlaWc3NHd2dXhxN2Q2czJnNXBqZHFjZmtpZjd1bHRiZGo1NXpzbWNxMzM0eWVvMzdubDU0eG0ifQ","signatures":[{"protected":"eyJraWQiOiJkaWQ6a2V5Ono2TWtvcHFrU1c0QTRoTEVrYjNvY0p5cW9aY3diZGVKWFNhUmR0bVQzV0YxMVdzUiN6Nk1rb3Bxa1NXNEE0aExFa2Izb2NKeXFvWmN3YmRlSlhTYVJkdG1UM1dGMTFXc1IiLCJhbGciOiJFZERTQSJ9","signature":"oVhahsji4H0_rFl0q0AcJAWEyiZElz0YtFs-zwW5EvKHURSMuFhSxSFD41cc7KKWiQGGrEzmoGvDAvS2aSvWBQ"}]}`,
		`{"payload":"e30","signatures":[]}`, `{"signatures":[{}]}`, `{"payload":"!","signatures":[{"protected":"x","signature":"y"}]}`,
	} {
		f.Add([]byte(s))
	}
	desc := mustParse(`{"interface":"Protocols","method":"Query","messageTimestamp":"2025-01-01T00:00:00.000000Z"}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := jsv.Parse(b)
		if err != nil {
			return
		}
		o, ok := v.(*jsv.Object)
		if !ok {
			return
		}
		if validateJSONSchema("GeneralJws", o) != nil {
			return
		}
		if _, err := validateSignatureStructure(o, desc, "GenericSignaturePayload"); err == nil {
			e, err := firstSignature(o)
			if err != nil {
				t.Fatalf("a valid structure without a first signature: %v", err)
			}
			_, _ = signerDIDOf(e)
		}
		_ = verifyJWS(context.Background(), KeyResolver{}, o)
	})
}

// FuzzDIDKey: did:key strings parse or fail cleanly; a parsed key resolves to a verification
// method that passes the JwkVerificationMethod schema.
func FuzzDIDKey(f *testing.F) {
	for _, s := range []string{
		"did:key:z6MkopqkSW4A4hLEkb3ocJyqoZcwbdeJXSaRdtmT3WF11WsR",
		"did:key:zQ3shT1GokQF68docxRmRpQTjnaB66odZYc2tfAv6YMNJqS7g",
		"did:key:z6Mk", "did:key:", "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IngifQ", "did:key:zDnae",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, did string) {
		k, err := ParseDIDKey(did)
		ms, rerr := KeyResolver{}.Resolve(context.Background(), did)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err == nil {
			if len(ms) != 1 {
				t.Fatalf("%s parsed but resolved to %d methods", did, len(ms))
			}
			if k.Codec != multicodecX25519 {
				if err := validateJSONSchema("JwkVerificationMethod", ms[0]); err != nil {
					t.Fatalf("%s: %v", did, err)
				}
			}
		}
	})
}
