package dwn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"

	"filippo.io/edwards25519"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// verifySignature is Jws.verifySignature: the algorithm is chosen by the key's crv, as
// dwn-sdk-js does (the header's alg is not looked at).
func verifySignature(protected, payload, signature string, jwk *jsv.Object) (bool, error) {
	crv, _ := jwk.Get("crv")
	crvs, _ := crv.(string)
	switch crvs {
	case "Ed25519", "secp256k1", "P-256":
	default:
		return false, newError(CodeJwsVerifySignatureUnsupportedCrv, "unsupported crv. crv must be one of Ed25519,secp256k1,P-256")
	}
	if _, ok := crv.(string); !ok {
		return false, newError(CodeJwsVerifySignatureUnsupportedCrv, "unsupported crv. crv must be one of Ed25519,secp256k1,P-256")
	}
	input := []byte(protected + "." + payload)
	sig, err := decodeBase64URL(signature)
	if err != nil {
		return false, err
	}
	switch crvs {
	case "Ed25519":
		return verifyEd25519(input, sig, jwk)
	case "secp256k1":
		return verifySecp256k1(input, sig, jwk)
	default:
		return verifyP256(input, sig, jwk)
	}
}

func jwkField(jwk *jsv.Object, name string) ([]byte, error) {
	v, ok := jwk.Get(name)
	if !ok {
		return nil, jsError("Cannot read properties of undefined (reading 'length')")
	}
	s, ok := v.(string)
	if !ok {
		return nil, jsError("Cannot read properties of undefined (reading 'length')")
	}
	return decodeBase64URL(s)
}

// verifyEd25519 verifies as @noble/ed25519 2.0.0 does (ZIP 215): non-canonical point encodings are
// accepted, R and A are hashed in their canonical encodings, S must be below L, and the check is
// cofactored.
func verifyEd25519(msg, sig []byte, jwk *jsv.Object) (bool, error) {
	if kty, _ := getStr(jwk, "kty"); kty != "OKP" || strOr(jwk, "crv") != "Ed25519" {
		return false, newError(CodeEd25519InvalidJwk, "invalid jwk. kty MUST be OKP. crv MUST be Ed25519")
	}
	pub, err := jwkField(jwk, "x")
	if err != nil {
		return false, err
	}
	if len(sig) != 64 || len(pub) != 32 {
		return false, jsError("Uint8Array expected")
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false, jsError("bad y coordinate 3")
	}
	r, err := new(edwards25519.Point).SetBytes(sig[:32])
	if err != nil {
		return false, jsError("bad y coordinate 3")
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false, jsError("invalid scalar, must be < L")
	}
	h := sha512.New()
	h.Write(r.Bytes())
	h.Write(a.Bytes())
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return false, err
	}
	negS := edwards25519.NewScalar().Negate(s)
	// kA - sB + R, times the cofactor, must be the identity
	t := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, a, negS)
	t.Add(t, r)
	t.MultByCofactor(t)
	return t.Equal(edwards25519.NewIdentityPoint()) == 1, nil
}

// parseDERSignature parses a DER ECDSA signature with @noble/curves' rules.
func parseDERSignature(d []byte) (r, s *big.Int, ok bool) {
	if len(d) < 2 || d[0] != 0x30 || int(d[1]) != len(d)-2 {
		return nil, nil, false
	}
	parseInt := func(b []byte) (*big.Int, []byte, bool) {
		if len(b) < 2 || b[0] != 0x02 {
			return nil, nil, false
		}
		n := int(b[1])
		if n == 0 || len(b) < n+2 {
			return nil, nil, false
		}
		v := b[2 : n+2]
		if v[0]&0x80 != 0 {
			return nil, nil, false
		}
		if v[0] == 0 && (len(v) < 2 || v[1]&0x80 == 0) {
			return nil, nil, false
		}
		return new(big.Int).SetBytes(v), b[n+2:], true
	}
	r, rest, ok := parseInt(d[2:])
	if !ok {
		return nil, nil, false
	}
	s, rest, ok = parseInt(rest)
	if !ok || len(rest) != 0 {
		return nil, nil, false
	}
	return r, s, true
}

var secpN = secp256k1.S256().N

// verifySecp256k1 is Secp256k1.verify: SHA-256 of the content, DER or compact signatures, high S
// accepted.
func verifySecp256k1(msg, sig []byte, jwk *jsv.Object) (bool, error) {
	if kty, _ := getStr(jwk, "kty"); kty != "EC" || strOr(jwk, "crv") != "secp256k1" {
		return false, newError(CodeSecp256k1KeyNotValid, "Invalid SECP256K1 JWK: `kty` MUST be `EC`. `crv` MUST be `secp256k1`")
	}
	xb, err := jwkField(jwk, "x")
	if err != nil {
		return false, err
	}
	yb, err := jwkField(jwk, "y")
	if err != nil {
		return false, err
	}
	x, y := new(big.Int).SetBytes(xb), new(big.Int).SetBytes(yb)
	curve := secp256k1.S256()
	if x.Cmp(curve.P) >= 0 || y.Cmp(curve.P) >= 0 {
		return false, jsError("invalid affine point")
	}
	if x.Sign() == 0 && y.Sign() == 0 {
		return false, jsError("bad point: ZERO")
	}
	if !curve.IsOnCurve(x, y) {
		return false, jsError("bad point: equation left != right")
	}
	var fx, fy secp256k1.FieldVal
	fx.SetByteSlice(x.FillBytes(make([]byte, 32)))
	fy.SetByteSlice(y.FillBytes(make([]byte, 32)))
	pub := secp256k1.NewPublicKey(&fx, &fy)

	r, s, ok := parseDERSignature(sig)
	if !ok {
		if len(sig) != 64 {
			return false, nil
		}
		r, s = new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	}
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(secpN) >= 0 || s.Cmp(secpN) >= 0 {
		return false, nil
	}
	var rs, ss secp256k1.ModNScalar
	rs.SetByteSlice(r.FillBytes(make([]byte, 32)))
	ss.SetByteSlice(s.FillBytes(make([]byte, 32)))
	h := sha256.Sum256(msg)
	return secpecdsa.NewSignature(&rs, &ss).Verify(h[:], pub), nil
}

// verifyP256 is Secp256r1.verify: a 64-byte signature is compact, anything else DER; high S is
// accepted.
func verifyP256(msg, sig []byte, jwk *jsv.Object) (bool, error) {
	if kty, _ := getStr(jwk, "kty"); kty != "EC" || strOr(jwk, "crv") != "P-256" {
		return false, newError(CodeSecp256r1KeyNotValid, "Invalid SECP256R1 JWK: `kty` MUST be `EC`. `crv` MUST be `P-256`")
	}
	curve := elliptic.P256()
	n := curve.Params().N
	var r, s *big.Int
	if len(sig) == 64 {
		r, s = new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	} else {
		var ok bool
		if r, s, ok = parseDERSignature(sig); !ok {
			return false, jsError("Invalid signature")
		}
	}
	if r.Sign() <= 0 || r.Cmp(n) >= 0 {
		return false, jsError("r must be 0 < r < CURVE.n")
	}
	if s.Sign() <= 0 || s.Cmp(n) >= 0 {
		return false, jsError("s must be 0 < s < CURVE.n")
	}
	xb, err := jwkField(jwk, "x")
	if err != nil {
		return false, err
	}
	yb, err := jwkField(jwk, "y")
	if err != nil {
		return false, err
	}
	x, y := new(big.Int).SetBytes(xb), new(big.Int).SetBytes(yb)
	p := curve.Params().P
	if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 {
		return false, jsError("invalid affine point")
	}
	if x.Sign() == 0 && y.Sign() == 0 {
		return false, jsError("bad point: ZERO")
	}
	if !curve.IsOnCurve(x, y) {
		return false, jsError("bad point: equation left != right")
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(&ecdsa.PublicKey{Curve: curve, X: x, Y: y}, h[:], r, s), nil
}
