package corestore

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Hash is a BLAKE2b-256 digest.
type Hash [32]byte

// String returns the hash as 64 hex characters.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Key is a 32-byte core key or discovery key.
type Key [32]byte

// String returns the key as 64 hex characters, the form datomspace shows keys in.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is the all-zero key.
func (k Key) IsZero() bool { return k == Key{} }

// ErrBadKey is returned by ParseKey for text that is neither 64 hex characters nor 52 z-base32
// characters.
var ErrBadKey = errors.New("a key is 64 hex characters or 52 z-base32 characters")

// ParseKey parses a key written as 64 hex characters or as z-base32 (the Holepunch form).
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	switch len(s) {
	case 64:
		b, err := hex.DecodeString(s)
		if err != nil {
			return k, fmt.Errorf("%w: %q is not hex: %v", ErrBadKey, s, err)
		}
		copy(k[:], b)
		return k, nil
	case 52:
		b, err := decodeZBase32(s)
		if err != nil || len(b) != 32 {
			return k, fmt.Errorf("%w: %q is not z-base32", ErrBadKey, s)
		}
		copy(k[:], b)
		return k, nil
	}
	return k, fmt.Errorf("%w: got %d characters", ErrBadKey, len(s))
}

const zbase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"

// EncodeZBase32 encodes b in z-base32, the alphabet Holepunch uses for keys.
func EncodeZBase32(b []byte) string {
	var sb strings.Builder
	var acc uint32
	var bits uint
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			sb.WriteByte(zbase32Alphabet[(acc>>bits)&31])
		}
	}
	if bits > 0 {
		sb.WriteByte(zbase32Alphabet[(acc<<(5-bits))&31])
	}
	return sb.String()
}

func decodeZBase32(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)*5/8)
	var acc uint32
	var bits uint
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(zbase32Alphabet, s[i])
		if v < 0 {
			return nil, fmt.Errorf("invalid z-base32 character %q at %d", s[i], i)
		}
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	return out, nil
}

// hash returns BLAKE2b-256 over the concatenation of parts.
func hash(parts ...[]byte) Hash {
	h, _ := blake2b.New256(nil)
	for _, p := range parts {
		h.Write(p)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// keyedHash returns BLAKE2b-256 keyed with key over the concatenation of parts.
func keyedHash(key []byte, parts ...[]byte) Hash {
	h, err := blake2b.New256(key)
	if err != nil {
		panic("corestore: blake2b key longer than 64 bytes") // keys here are always 32 bytes
	}
	for _, p := range parts {
		h.Write(p)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// Namespace returns count namespaces derived from name, as hypercore-crypto does:
// namespace[i] = H(H(name) || byte(i)).
func Namespace(name string, count int) []Hash {
	base := hash([]byte(name))
	out := make([]Hash, count)
	for i := range out {
		out[i] = hash(base[:], []byte{byte(i)})
	}
	return out
}

// The namespaces Hypercore 11 and Corestore 7 use.
var (
	hypercoreNS = Namespace("hypercore", 6)
	// NamespaceTree prefixes every signable.
	NamespaceTree = hypercoreNS[0]
	// NamespaceReplicateInitiator and NamespaceReplicateResponder are Hypercore's replication
	// capability namespaces.
	NamespaceReplicateInitiator = hypercoreNS[1]
	NamespaceReplicateResponder = hypercoreNS[2]
	// NamespaceManifest prefixes the manifest when it is hashed into the core key.
	NamespaceManifest = hypercoreNS[3]
	// NamespaceDefault is the signer namespace of the default manifest.
	NamespaceDefault = hypercoreNS[4]
	// NamespaceDefaultEncryption is Hypercore's default encryption namespace.
	NamespaceDefaultEncryption = hypercoreNS[5]
	// NamespaceCorestore is Corestore 7's namespace for named-core seeds.
	NamespaceCorestore = Namespace("corestore", 1)[0]
)

// KeyPair is an ed25519 key pair.
type KeyPair struct {
	PublicKey ed25519.PublicKey
	SecretKey ed25519.PrivateKey
}

// KeyPairFromSeed derives the ed25519 key pair of a 32-byte seed, as libsodium's
// crypto_sign_seed_keypair does.
func KeyPairFromSeed(seed [32]byte) KeyPair {
	sk := ed25519.NewKeyFromSeed(seed[:])
	return KeyPair{PublicKey: sk.Public().(ed25519.PublicKey), SecretKey: sk}
}

// DefaultNamespace is the namespace named cores live in unless told otherwise: 32 zero bytes.
var DefaultNamespace Hash

// NamedSeed derives the ed25519 seed of the core called name in namespace ns of a store with the
// given primary key, as Corestore 7 does: BLAKE2b-256 keyed with primaryKey over
// (CORESTORE_NS || ns || name).
func NamedSeed(primaryKey [32]byte, ns Hash, name string) [32]byte {
	return keyedHash(primaryKey[:], NamespaceCorestore[:], ns[:], []byte(name))
}

// SubNamespace returns the namespace x inside ns: H(ns || x).
func SubNamespace(ns Hash, x string) Hash { return hash(ns[:], []byte(x)) }

// ManifestSize is the length of an encoded default manifest.
const ManifestSize = 70

// ErrBadManifest is returned for manifest bytes datomspace does not accept.
var ErrBadManifest = errors.New("unsupported or malformed manifest")

// Manifest describes who may sign a core. datomspace supports Hypercore's default form: version 1,
// BLAKE2b, quorum 1, one ed25519 signer.
type Manifest struct {
	// Namespace is the signer's namespace; NamespaceDefault for default manifests.
	Namespace Hash
	// PublicKey is the signer's ed25519 public key.
	PublicKey [32]byte
}

// DefaultManifest returns the default manifest of an ed25519 public key.
func DefaultManifest(publicKey []byte) Manifest {
	var m Manifest
	m.Namespace = NamespaceDefault
	copy(m.PublicKey[:], publicKey)
	return m
}

// Encode returns the 70-byte encoding: 01 00 00 01 01 00 || namespace || publicKey.
func (m Manifest) Encode() []byte {
	b := make([]byte, 0, ManifestSize)
	b = append(b, 1, 0, 0, 1, 1, 0)
	b = append(b, m.Namespace[:]...)
	return append(b, m.PublicKey[:]...)
}

// Key returns the core key of the manifest: H(MANIFEST || manifest).
func (m Manifest) Key() Key { return Key(hash(NamespaceManifest[:], m.Encode())) }

// DecodeManifest decodes manifest bytes received from a peer or read from storage.
func DecodeManifest(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) != ManifestSize {
		return m, fmt.Errorf("%w: %d bytes, want %d", ErrBadManifest, len(b), ManifestSize)
	}
	if b[0] != 1 || b[1] != 0 || b[2] != 0 || b[3] != 1 || b[4] != 1 || b[5] != 0 {
		return m, fmt.Errorf("%w: header %x (want version 1, blake2b, quorum 1, one ed25519 signer)", ErrBadManifest, b[:6])
	}
	copy(m.Namespace[:], b[6:38])
	copy(m.PublicKey[:], b[38:70])
	return m, nil
}

// DiscoveryKey returns the discovery key of a core key: BLAKE2b-256 keyed with the core key over
// the ASCII bytes "hypercore". Peers announce and look up cores by it, so the DHT never learns
// the core key.
func DiscoveryKey(coreKey Key) Key { return Key(keyedHash(coreKey[:], []byte("hypercore"))) }

// SignableSize is the length of the bytes a tree signature covers.
const SignableSize = 112

// Signable returns the 112 bytes an owner signs for a tree:
// TREE || coreKey || treeHash || u64(length) || u64(fork).
func Signable(coreKey Key, treeHash Hash, length, fork uint64) []byte {
	b := make([]byte, 0, SignableSize)
	b = append(b, NamespaceTree[:]...)
	b = append(b, coreKey[:]...)
	b = append(b, treeHash[:]...)
	b = binary.LittleEndian.AppendUint64(b, length)
	return binary.LittleEndian.AppendUint64(b, fork)
}

// SignatureContainer wraps a raw 64-byte signature the way Corestore 7 stores it:
// 01 00 || sig || 00 00. Exports for JavaScript peers use this form.
func SignatureContainer(sig []byte) []byte {
	b := make([]byte, 0, 68)
	b = append(b, 1, 0)
	b = append(b, sig...)
	return append(b, 0, 0)
}

// ErrBadSignatureContainer is returned for a signature container that is not 01 00 || sig || 00 00.
var ErrBadSignatureContainer = errors.New("malformed signature container")

// OpenSignatureContainer returns the raw signature inside a Corestore signature container.
func OpenSignatureContainer(b []byte) ([]byte, error) {
	if len(b) != 68 || b[0] != 1 || b[1] != 0 || b[66] != 0 || b[67] != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadSignatureContainer, len(b))
	}
	return append([]byte(nil), b[2:66]...), nil
}

// Bytes returns the key as a byte slice.
func (k Key) Bytes() []byte { return k[:] }
