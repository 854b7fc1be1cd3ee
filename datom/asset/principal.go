package asset

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multibase"
)

// Principal is an Ed25519 public key: an owner, an issuer or a grantee. The same key is a libp2p
// peer ID (the node that runs with it) and a did:key, so a grant to a peer ID and one to its
// did:key are the same grant.
type Principal [32]byte

// didKeyPrefix is did:key's multicodec prefix of an Ed25519 public key (0xed, as a varint).
var didKeyPrefix = []byte{0xed, 0x01}

// ParsePrincipal reads a libp2p peer ID of an Ed25519 key ("12D3KooW..."), an Ed25519 did:key
// ("did:key:z6Mk..."), or 64 hex characters of a public key.
func ParsePrincipal(s string) (Principal, error) {
	var p Principal
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "did:key:"):
		enc, b, err := multibase.Decode(strings.TrimPrefix(s, "did:key:"))
		if err != nil || enc != multibase.Base58BTC || len(b) != 2+32 || b[0] != didKeyPrefix[0] || b[1] != didKeyPrefix[1] {
			return p, fmt.Errorf("%w: %q is not an Ed25519 did:key", ErrBadPrincipal, s)
		}
		copy(p[:], b[2:])
	case len(s) == 64:
		b, err := hex.DecodeString(s)
		if err != nil {
			return p, fmt.Errorf("%w: %q is not hex", ErrBadPrincipal, s)
		}
		copy(p[:], b)
	default:
		id, err := peer.Decode(s)
		if err != nil {
			return p, fmt.Errorf("%w: %q: %v", ErrBadPrincipal, s, err)
		}
		return PrincipalOfPeer(id)
	}
	if !p.valid() {
		return Principal{}, fmt.Errorf("%w: %q is not a valid Ed25519 public key", ErrBadPrincipal, s)
	}
	return p, nil
}

// PrincipalOfPeer returns the key of a peer ID; only Ed25519 peers can be principals.
func PrincipalOfPeer(id peer.ID) (Principal, error) {
	var p Principal
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return p, fmt.Errorf("%w: peer %s: %v", ErrBadPrincipal, id, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return p, fmt.Errorf("%w: peer %s has a %s key", ErrBadPrincipal, id, pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != 32 {
		return p, fmt.Errorf("%w: peer %s: malformed Ed25519 key", ErrBadPrincipal, id)
	}
	copy(p[:], raw)
	return p, nil
}

// PrincipalOfKey returns the principal of a libp2p private key (a node's identity).
func PrincipalOfKey(k crypto.PrivKey) (Principal, error) {
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return Principal{}, err
	}
	return PrincipalOfPeer(id)
}

// valid reports whether p decodes as an Ed25519 point (so that a signature can be checked).
func (p Principal) valid() bool {
	_, err := crypto.UnmarshalEd25519PublicKey(p[:])
	return err == nil && p != Principal{}
}

// IsZero reports whether p is unset.
func (p Principal) IsZero() bool { return p == Principal{} }

// PeerID returns p as a libp2p peer ID.
func (p Principal) PeerID() peer.ID {
	pk, err := crypto.UnmarshalEd25519PublicKey(p[:])
	if err != nil {
		return ""
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return ""
	}
	return id
}

// DID returns p as an Ed25519 did:key.
func (p Principal) DID() string {
	s, _ := multibase.Encode(multibase.Base58BTC, append(append([]byte{}, didKeyPrefix...), p[:]...))
	return "did:key:" + s
}

// String returns p as a libp2p peer ID, the form the CLI prints.
func (p Principal) String() string {
	if id := p.PeerID(); id != "" {
		return id.String()
	}
	return hex.EncodeToString(p[:])
}

// Verify checks an Ed25519 signature by p over msg.
func (p Principal) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(p[:]), msg, sig)
}

// Signer signs as a principal: the owner's node identity, or a delegating grantee's.
type Signer struct {
	key ed25519.PrivateKey
	pub Principal
}

// NewSigner returns the signer of a libp2p Ed25519 private key.
func NewSigner(k crypto.PrivKey) (*Signer, error) {
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: the identity is a %s key", ErrBadPrincipal, k.Type())
	}
	raw, err := k.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: malformed Ed25519 private key", ErrBadPrincipal)
	}
	sk := ed25519.PrivateKey(raw)
	s := &Signer{key: sk}
	copy(s.pub[:], sk.Public().(ed25519.PublicKey))
	return s, nil
}

// NewSignerFromSeed returns the signer of a 32-byte Ed25519 seed.
func NewSignerFromSeed(seed [32]byte) *Signer {
	sk := ed25519.NewKeyFromSeed(seed[:])
	s := &Signer{key: sk}
	copy(s.pub[:], sk.Public().(ed25519.PublicKey))
	return s
}

// Principal returns the signer's public key.
func (s *Signer) Principal() Principal { return s.pub }

// Sign signs msg.
func (s *Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.key, msg) }

// seed returns the Ed25519 seed, from which the X25519 key that opens sealed keys derives.
func (s *Signer) seed() []byte { return s.key.Seed() }

// MarshalText implements encoding.TextMarshaler: the peer ID.
func (p Principal) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (ParsePrincipal).
func (p *Principal) UnmarshalText(b []byte) error {
	v, err := ParsePrincipal(string(b))
	*p = v
	return err
}
