package dwn

import (
	"context"
	"fmt"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// A General JWS is {payload, signatures: [{protected, signature}]}: the payload is base64url JSON
// and each protected header base64url JSON {kid, alg}. These helpers are dwn-sdk-js's Jws and
// GeneralJwsVerifier; the messages of the JavaScript exceptions dwn-sdk-js lets through are
// kept, since they become reply details.

// jsTypeOfName renders a value for a TypeError message.
func jsTypeOfName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	}
	return "undefined"
}

// kidOf is Jws.getKid: the kid of a signature entry's protected header.
func kidOf(entry any) (any, error) {
	o, ok := entry.(*jsv.Object)
	if !ok {
		return nil, jsError(fmt.Sprintf("Cannot read properties of %s (reading 'protected')", jsTypeOfName(entry)))
	}
	p, ok := o.Get("protected")
	ps, isStr := p.(string)
	if !ok || !isStr {
		return nil, jsError("Cannot read properties of undefined (reading 'length')")
	}
	h, err := base64URLToObject(ps)
	if err != nil {
		return nil, err
	}
	ho, ok := h.(*jsv.Object)
	if !ok {
		if h == nil {
			return nil, jsError("Cannot destructure property 'kid' of 'Encoder.base64UrlToObject(...)' as it is null.")
		}
		return nil, nil // a primitive has no kid
	}
	kid, _ := ho.Get("kid")
	return kid, nil
}

// signerDIDOf is Jws.getSignerDid.
func signerDIDOf(entry any) (string, error) {
	kid, err := kidOf(entry)
	if err != nil {
		return "", err
	}
	s, ok := kid.(string)
	if !ok {
		if kid == nil {
			return "", jsError("Cannot read properties of undefined (reading 'split')")
		}
		return "", jsError("kid.split is not a function")
	}
	return extractDID(s), nil
}

// firstSignature returns jws.signatures[0].
func firstSignature(jws *jsv.Object) (any, error) {
	sigs, ok := jws.Get("signatures")
	if !ok {
		return nil, jsError("Cannot read properties of undefined (reading '0')")
	}
	a, _ := sigs.([]any)
	if len(a) == 0 {
		return nil, jsError("Cannot read properties of undefined (reading 'protected')")
	}
	return a[0], nil
}

// signerOf is Message.getSigner for a message with authorization.
func signerOf(msg *jsv.Object) (string, error) {
	auth := getObj(msg, "authorization")
	if auth == nil {
		return "", nil
	}
	sig := getObj(auth, "signature")
	if sig == nil {
		return "", jsError("Cannot read properties of undefined (reading 'signatures')")
	}
	e, err := firstSignature(sig)
	if err != nil {
		return "", err
	}
	return signerDIDOf(e)
}

// decodePlainObjectPayload is Jws.decodePlainObjectPayload.
func decodePlainObjectPayload(jws *jsv.Object) (*jsv.Object, error) {
	p, _ := jws.Get("payload")
	s, ok := p.(string)
	if !ok {
		return nil, newError(CodeJwsDecodePlainObjectPayloadInvalid, "payload is not a JSON object")
	}
	v, err := base64URLToObject(s)
	if err != nil {
		return nil, newError(CodeJwsDecodePlainObjectPayloadInvalid, "payload is not a JSON object")
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		return nil, newError(CodeJwsDecodePlainObjectPayloadInvalid, "signed payload must be a plain object")
	}
	return o, nil
}

// validateSignatureStructure is Message.validateSignatureStructure: one signature, a payload that
// passes its schema, and a descriptorCid that is the descriptor's CID.
func validateSignatureStructure(jws *jsv.Object, descriptor *jsv.Object, payloadSchema string) (*jsv.Object, error) {
	if jws == nil {
		return nil, jsError("Cannot read properties of undefined (reading 'signatures')")
	}
	sigs, ok := jws.Get("signatures")
	if !ok {
		return nil, jsError("Cannot read properties of undefined (reading 'length')")
	}
	if a, _ := sigs.([]any); len(a) != 1 {
		return nil, newError(CodeAuthenticationMoreThanOneSignatureNotSupported, "expected no more than 1 signature for authorization purpose")
	}
	payload, err := decodePlainObjectPayload(jws)
	if err != nil {
		return nil, err
	}
	if err := validateJSONSchema(payloadSchema, payload); err != nil {
		return nil, err
	}
	want, err := ComputeCID(descriptor)
	if err != nil {
		return nil, jsError(stripCBORPrefix(err))
	}
	got, _ := getStr(payload, "descriptorCid")
	if got != want {
		return nil, newError(CodeAuthenticateDescriptorCidMismatch, fmt.Sprintf("provided descriptorCid %s does not match expected CID %s", got, want))
	}
	return payload, nil
}

func stripCBORPrefix(err error) string {
	s := err.Error()
	const p = "invalid DAG-CBOR: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// verifyJWS is GeneralJwsVerifier.verifySignatures: every signature must verify against the
// signer's DID document.
func verifyJWS(ctx context.Context, r Resolver, jws *jsv.Object) error {
	payload, _ := getStr(jws, "payload")
	for _, e := range getArr(jws, "signatures") {
		kid, err := kidOf(e)
		if err != nil {
			return err
		}
		kidStr, ok := kid.(string)
		if !ok {
			if kid == nil {
				return jsError("Cannot read properties of undefined (reading 'split')")
			}
			return jsError("kid.split is not a function")
		}
		jwk, err := publicKeyFor(ctx, r, kidStr)
		if err != nil {
			return err
		}
		eo := e.(*jsv.Object)
		protected := strOr(eo, "protected")
		sig, ok := getStr(eo, "signature")
		if !ok {
			return jsError("Cannot read properties of undefined (reading 'length')")
		}
		valid, err := verifySignature(protected, payload, sig, jwk)
		if err != nil {
			return err
		}
		if !valid {
			return newError(CodeGeneralJwsVerifierInvalidSignature, "Signature verification failed for "+extractDID(kidStr))
		}
	}
	return nil
}
