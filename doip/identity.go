package doip

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multibase"
)

// ErrBadClientID marks a client id that names no Ed25519 key: neither a did:key nor a libp2p
// peer ID of an Ed25519 key.
var ErrBadClientID = errors.New("client id is not an Ed25519 did:key or peer ID")

// didKeyPrefix is the multicodec prefix of an Ed25519 public key (0xed, varint-encoded).
var didKeyPrefix = []byte{0xed, 0x01}

// DIDKey returns the did:key of an Ed25519 public key ("did:key:z6Mk...").
func DIDKey(pub ed25519.PublicKey) string {
	s, _ := multibase.Encode(multibase.Base58BTC, append(append([]byte{}, didKeyPrefix...), pub...))
	return "did:key:" + s
}

// PeerID returns the libp2p peer ID of an Ed25519 public key ("12D3KooW...").
func PeerID(pub ed25519.PublicKey) string {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return ""
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return ""
	}
	return id.String()
}

// PublicKeyOf returns the Ed25519 key a client id names: a did:key or a libp2p peer ID.
func PublicKeyOf(clientID string) (ed25519.PublicKey, error) {
	if rest, ok := strings.CutPrefix(clientID, "did:key:"); ok {
		_, b, err := multibase.Decode(rest)
		if err != nil || len(b) != len(didKeyPrefix)+ed25519.PublicKeySize || b[0] != didKeyPrefix[0] || b[1] != didKeyPrefix[1] {
			return nil, fmt.Errorf("%w: %q", ErrBadClientID, clientID)
		}
		return ed25519.PublicKey(b[2:]), nil
	}
	id, err := peer.Decode(clientID)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrBadClientID, clientID)
	}
	k, err := id.ExtractPublicKey()
	if err != nil || k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: %q", ErrBadClientID, clientID)
	}
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %q", ErrBadClientID, clientID)
	}
	return ed25519.PublicKey(raw), nil
}

// Ed25519FromLibp2p returns the standard-library form of a libp2p Ed25519 private key, such as
// the node identity peer.LoadIdentity returns.
func Ed25519FromLibp2p(k crypto.PrivKey) (ed25519.PrivateKey, error) {
	if k == nil || k.Type() != crypto.Ed25519 {
		return nil, errors.New("not an Ed25519 libp2p key")
	}
	raw, err := k.Raw()
	if err != nil {
		return nil, err
	}
	if len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("Ed25519 libp2p key of %d bytes", len(raw))
	}
	return ed25519.PrivateKey(raw), nil
}

// JWK is an Ed25519 public key as a JSON Web Key (RFC 8037): {"kty":"OKP","crv":"Ed25519","x":...}.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
}

// NewJWK returns the JWK of pub.
func NewJWK(pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
}

// PublicKey returns the Ed25519 key of a JWK.
func (j JWK) PublicKey() (ed25519.PublicKey, error) {
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return nil, fmt.Errorf("JWK of kty %q crv %q is not an Ed25519 key", j.Kty, j.Crv)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.X, "="))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("JWK x is not a 32-byte base64url key")
	}
	return ed25519.PublicKey(b), nil
}

// ParseJWK reads an Ed25519 JWK.
func ParseJWK(b []byte) (ed25519.PublicKey, error) {
	var j JWK
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("JWK: %w", err)
	}
	return j.PublicKey()
}
