package dwn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"filippo.io/edwards25519"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/mr-tron/base58"
	"github.com/multiformats/go-varint"

	"github.com/datomspace/datomspace/dwn/internal/jsonschema"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// Resolver resolves a DID to the verification methods of its DID document. Each method is a JSON
// object with id, type, controller and publicKeyJwk, as @web5/dids returns them. A DID that cannot
// be resolved yields no methods and no error (signatures by it then fail as dwn-sdk-js fails
// them); an error is for a resolver that could not answer (and fails the message the same way).
type Resolver interface {
	Resolve(ctx context.Context, did string) ([]*jsv.Object, error)
}

// ErrDID is returned by ParseDIDKey for a DID that is not a did:key this package can read.
var ErrDID = errors.New("invalid did:key")

// Multicodec codes of the did:key public keys.
const (
	multicodecEd25519   = 0xed
	multicodecSecp256k1 = 0xe7
	multicodecX25519    = 0xec
	multicodecP256      = 0x1200
)

// DIDKey is a decoded did:key.
type DIDKey struct {
	DID       string
	Multibase string // the method-specific id, "z…"
	Codec     uint64 // multicodec of the key
	Key       []byte // raw public key (Ed25519 32 bytes, secp256k1 compressed 33 bytes)
}

var didPattern = jsonschema.NewPattern(`^did:([a-z0-9]+):((?:(?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))*:)*((?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))+))((;[a-zA-Z0-9_.:%-]+=[a-zA-Z0-9_.:%-]*)*)(\/[^#?]*)?([?][^#]*)?(#.*)?$`)

// ParseDIDKey decodes a did:key of an Ed25519, secp256k1 or X25519 key, validating the key as
// @web5/dids does (the point must decode; P-256 did:keys are refused, as @web5/dids refuses them).
func ParseDIDKey(did string) (*DIDKey, error) {
	rest, ok := strings.CutPrefix(did, "did:key:")
	if !ok || !didPattern.Match(did) || strings.ContainsAny(rest, ":;/?#") {
		return nil, fmt.Errorf("%w: %q", ErrDID, did)
	}
	if !strings.HasPrefix(rest, "z") {
		return nil, fmt.Errorf("%w: not base58btc multibase", ErrDID)
	}
	raw, err := base58.Decode(rest[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDID, err)
	}
	code, n, err := varint.FromUvarint(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDID, err)
	}
	key := raw[n:]
	want := map[uint64]int{multicodecEd25519: 32, multicodecSecp256k1: 33, multicodecX25519: 32}[code]
	if want == 0 {
		return nil, fmt.Errorf("%w: unsupported multicodec 0x%x", ErrDID, code)
	}
	if len(key) != want {
		return nil, fmt.Errorf("%w: key of %d bytes, want %d", ErrDID, len(key), want)
	}
	switch code {
	case multicodecEd25519:
		if _, err := new(edwards25519.Point).SetBytes(key); err != nil {
			return nil, fmt.Errorf("%w: invalid Ed25519 key", ErrDID)
		}
	case multicodecSecp256k1:
		if _, err := secp256k1.ParsePubKey(key); err != nil {
			return nil, fmt.Errorf("%w: invalid secp256k1 key", ErrDID)
		}
	}
	return &DIDKey{DID: did, Multibase: rest, Codec: code, Key: append([]byte(nil), key...)}, nil
}

// DIDKeyFromEd25519 returns the did:key of an Ed25519 public key.
func DIDKeyFromEd25519(pub ed25519.PublicKey) string {
	b := varint.ToUvarint(multicodecEd25519)
	b = append(b, pub...)
	return "did:key:z" + base58.Encode(b)
}

// JWK returns the key as the public JWK @web5/dids puts in the DID document.
func (k *DIDKey) JWK() *jsv.Object {
	j := jsv.NewObject()
	switch k.Codec {
	case multicodecEd25519:
		j.Set("crv", "Ed25519")
		j.Set("kty", "OKP")
		j.Set("x", encodeBase64URL(k.Key))
	case multicodecX25519:
		j.Set("crv", "X25519")
		j.Set("kty", "OKP")
		j.Set("x", encodeBase64URL(k.Key))
	case multicodecSecp256k1:
		pk, _ := secp256k1.ParsePubKey(k.Key)
		u := pk.SerializeUncompressed()
		j.Set("kty", "EC")
		j.Set("crv", "secp256k1")
		j.Set("x", encodeBase64URL(u[1:33]))
		j.Set("y", encodeBase64URL(u[33:65]))
	}
	return j
}

// KeyResolver resolves did:key (Ed25519, secp256k1, X25519) and did:jwk DIDs locally, without
// any network. It is the default Resolver.
type KeyResolver struct{}

// Resolve implements Resolver.
func (KeyResolver) Resolve(_ context.Context, did string) ([]*jsv.Object, error) {
	switch {
	case strings.HasPrefix(did, "did:key:"):
		k, err := ParseDIDKey(did)
		if err != nil {
			return nil, nil
		}
		vm := jsv.NewObject()
		vm.Set("id", did+"#"+k.Multibase)
		vm.Set("type", "JsonWebKey2020")
		vm.Set("controller", did)
		vm.Set("publicKeyJwk", k.JWK())
		return []*jsv.Object{vm}, nil
	case strings.HasPrefix(did, "did:jwk:"):
		id := strings.TrimPrefix(did, "did:jwk:")
		if !didPattern.Match(did) || strings.ContainsAny(id, ":;/?#") {
			return nil, nil
		}
		v, err := base64URLToObject(id)
		if err != nil {
			return nil, nil
		}
		jwk, ok := v.(*jsv.Object)
		if !ok {
			return nil, nil
		}
		vm := jsv.NewObject()
		vm.Set("id", did+"#0")
		vm.Set("type", "JsonWebKey")
		vm.Set("controller", did)
		vm.Set("publicKeyJwk", jwk)
		return []*jsv.Object{vm}, nil
	}
	return nil, nil
}

// extractDID is Jws.extractDid: the kid up to the first '#'.
func extractDID(kid string) string {
	did, _, _ := strings.Cut(kid, "#")
	return did
}

// publicKeyFor is GeneralJwsVerifier.getPublicKey.
func publicKeyFor(ctx context.Context, r Resolver, kid string) (*jsv.Object, error) {
	methods, err := r.Resolve(ctx, extractDID(kid))
	if err != nil {
		return nil, err
	}
	var vm *jsv.Object
	for _, m := range methods {
		if id, ok := getStr(m, "id"); ok && strings.HasSuffix(kid, id) {
			vm = m
			break
		}
	}
	if vm == nil {
		return nil, newError(CodeGeneralJwsVerifierGetPublicKeyNotFound, "public key needed to verify signature not found in DID Document")
	}
	if err := validateJSONSchema("JwkVerificationMethod", vm); err != nil {
		return nil, err
	}
	return getObj(vm, "publicKeyJwk"), nil
}
