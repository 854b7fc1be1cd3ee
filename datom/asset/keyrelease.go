package asset

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"time"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/datomspace/datomspace/corestore"
)

// Key release: a grantee asks the owner (or a peer the owner gave the key to) for the block key
// of an encrypted asset's core. The enforcing peer checks the grant, then seals
//
//	coreKey || blockKey
//
// to the grantee with nacl/box's anonymous sealed box, to the X25519 key that is the grantee's
// Ed25519 identity in Montgomery form, and answers with a KeyRelease: the sealed box, the key
// check value and the grant it was released under. The owner appends the KeyRelease to its
// ledger: the published sealed box is the proof of delivery, since only the grantee can open it
// and its key check value shows what it holds.

// KeyReleaseProtocol is the libp2p protocol of key release.
const KeyReleaseProtocol = "/datomspace/asset/key/1.0.0"

// KeyRequest asks for the block key of a core.
type KeyRequest struct {
	Core corestore.Key
	// Credential is the requester's delegation chains (EncodeCredential), if it needs them.
	Credential []byte
}

type wireKeyRequest struct {
	_          struct{} `cbor:",toarray"`
	V          uint64
	Core       []byte
	Credential []byte
}

// MaxKeyRequestSize bounds an encoded key request.
const MaxKeyRequestSize = 2048

// Encode returns the request's bytes.
func (r *KeyRequest) Encode() []byte {
	cred := r.Credential
	if cred == nil {
		cred = []byte{}
	}
	return marshal(&wireKeyRequest{V: 1, Core: r.Core[:], Credential: cred})
}

// DecodeKeyRequest decodes a key request received from a peer.
func DecodeKeyRequest(b []byte) (*KeyRequest, error) {
	if len(b) > MaxKeyRequestSize {
		return nil, fmt.Errorf("%w: a key request of %d bytes", ErrBadMessage, len(b))
	}
	var w wireKeyRequest
	if err := unmarshalCanonical(b, &w, "key request", ErrBadMessage); err != nil {
		return nil, err
	}
	if w.V != 1 || len(w.Credential) > MaxCredentialSize {
		return nil, fmt.Errorf("%w: key request version %d", ErrBadMessage, w.V)
	}
	k, err := key32(w.Core, "key request core", ErrBadMessage)
	if err != nil {
		return nil, err
	}
	return &KeyRequest{Core: k, Credential: w.Credential}, nil
}

// KeyRelease is a released key as the grantee receives it and the ledger keeps it.
type KeyRelease struct {
	Core      corestore.Key
	Grant     GrantID
	Recipient Principal
	Sealed    []byte
	KeyCheck  corestore.KeyCheck
	Time      time.Time
}

type wireKeyRelease struct {
	_         struct{} `cbor:",toarray"`
	V         uint64
	Core      []byte
	Grant     []byte
	Recipient []byte
	Sealed    []byte
	KeyCheck  []byte
	Time      int64
}

// sealedSize is the size of a sealed coreKey || blockKey.
const sealedSize = 64 + box.AnonymousOverhead

// Encode returns the release's canonical bytes.
func (r *KeyRelease) Encode() []byte {
	return marshal(&wireKeyRelease{V: 1, Core: r.Core[:], Grant: r.Grant[:], Recipient: r.Recipient[:], Sealed: r.Sealed,
		KeyCheck: r.KeyCheck[:], Time: r.Time.UnixMilli()})
}

// DecodeKeyRelease decodes a key release received from a peer or read from a ledger.
func DecodeKeyRelease(b []byte) (*KeyRelease, error) {
	if len(b) > 512 {
		return nil, fmt.Errorf("%w: a key release of %d bytes", ErrBadMessage, len(b))
	}
	var w wireKeyRelease
	if err := unmarshalCanonical(b, &w, "key release", ErrBadMessage); err != nil {
		return nil, err
	}
	if w.V != 1 || len(w.Grant) != 32 || len(w.Recipient) != 32 || len(w.Sealed) != sealedSize || len(w.KeyCheck) != 32 {
		return nil, fmt.Errorf("%w: key release version %d or field sizes", ErrBadMessage, w.V)
	}
	r := &KeyRelease{Time: time.UnixMilli(w.Time).UTC(), Sealed: w.Sealed}
	copy(r.Core[:], w.Core)
	if len(w.Core) != 32 {
		return nil, fmt.Errorf("%w: key release core", ErrBadMessage)
	}
	copy(r.Grant[:], w.Grant)
	copy(r.Recipient[:], w.Recipient)
	copy(r.KeyCheck[:], w.KeyCheck)
	return r, nil
}

// x25519Public returns the X25519 public key of an Ed25519 public key (its Montgomery u).
func x25519Public(p Principal) (*[32]byte, error) {
	pt, err := new(edwards25519.Point).SetBytes(p[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid Ed25519 key: %v", ErrBadPrincipal, p, err)
	}
	var out [32]byte
	copy(out[:], pt.BytesMontgomery())
	return &out, nil
}

// x25519Private returns the X25519 private key of an Ed25519 seed, as libsodium's
// crypto_sign_ed25519_sk_to_curve25519 derives it.
func x25519Private(seed []byte) *[32]byte {
	h := sha512.Sum512(seed)
	var k [32]byte
	copy(k[:], h[:32])
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return &k
}

// SealKey returns the release of block key bk of core to recipient under grant.
func SealKey(core corestore.Key, bk corestore.BlockKey, recipient Principal, grant GrantID, now time.Time) (*KeyRelease, error) {
	pub, err := x25519Public(recipient)
	if err != nil {
		return nil, err
	}
	msg := append(append(make([]byte, 0, 64), core[:]...), bk[:]...)
	sealed, err := box.SealAnonymous(nil, msg, pub, rand.Reader)
	if err != nil {
		return nil, err
	}
	return &KeyRelease{Core: core, Grant: grant, Recipient: recipient, Sealed: sealed, KeyCheck: bk.Check(), Time: now.UTC().Truncate(time.Millisecond)}, nil
}

// Open opens the release with the recipient's signer and returns the block key. It fails with
// ErrBadSealedKey when the box does not open, names another core, or holds a key that fails the
// release's key check value or, when want is not zero, want.
func (r *KeyRelease) Open(s *Signer, want corestore.KeyCheck) (corestore.BlockKey, error) {
	var bk corestore.BlockKey
	if r.Recipient != s.Principal() {
		return bk, fmt.Errorf("%w: the key was sealed to %s, not to %s", ErrBadSealedKey, r.Recipient, s.Principal())
	}
	pub, err := x25519Public(s.Principal())
	if err != nil {
		return bk, err
	}
	msg, ok := box.OpenAnonymous(nil, r.Sealed, pub, x25519Private(s.seed()))
	if !ok || len(msg) != 64 {
		return bk, fmt.Errorf("%w: the sealed box does not open with this peer's key", ErrBadSealedKey)
	}
	if corestore.Key(msg[:32]) != r.Core {
		return bk, fmt.Errorf("%w: the sealed key is for core %x, not %s", ErrBadSealedKey, msg[:32], r.Core)
	}
	copy(bk[:], msg[32:])
	if !r.KeyCheck.Matches(bk) {
		return corestore.BlockKey{}, fmt.Errorf("%w: the key fails the release's key check value", ErrBadSealedKey)
	}
	if !want.IsZero() && !want.Matches(bk) {
		return corestore.BlockKey{}, fmt.Errorf("%w: the key fails the asset's key check value %s", ErrBadSealedKey, want)
	}
	return bk, nil
}
