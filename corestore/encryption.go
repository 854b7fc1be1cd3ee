package corestore

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/salsa20"
)

// Block encryption, byte-compatible with Hypercore 11's default scheme (lib/default-encryption.js).
//
// A core encrypted with a 32-byte encryption key k derives its block key and blinding key:
//
//	blockKey    = BLAKE2b-256(DEFAULT_ENCRYPTION || coreKey || k)
//	blindingKey = BLAKE2b-256(blockKey)
//
// Block i, appended while the core is at fork f, is stored as 8 bytes of padding and then the
// ciphertext:
//
//	padding    = u64(f) XOR XSalsa20(blindingKey, nonce = u64(i) || 16 zero bytes)
//	ciphertext = plaintext XOR XSalsa20(blockKey, nonce = u64(i) || padding || 8 zero bytes)
//
// The Merkle tree, the byte length the tree records and the signatures are over the stored bytes,
// padding included, so a peer without the key verifies, stores and serves an encrypted core like
// any other. There is no MAC: a wrong key decrypts to garbage without an error. A key check value
// (KeyCheck), a hash of the block key under a datomspace namespace, travels with every released
// key so that a wrong key is caught.
//
// Everything in this file is pure: no I/O.

// EncryptionPadding is the number of bytes of blinded fork padding before each encrypted block's
// ciphertext.
const EncryptionPadding = 8

// Errors of block encryption. They are wrapped with the core and index they concern.
var (
	// ErrNoEncryptionKey: the core is encrypted and this store does not hold its key, so it can
	// verify, store and serve the stored bytes but not read or append plaintext.
	ErrNoEncryptionKey = errors.New("core is encrypted and its encryption key is not held here")
	// ErrWrongEncryptionKey: a key does not belong to the core: it fails the key check value,
	// differs from the key already held, or does not decrypt the blocks held.
	ErrWrongEncryptionKey = errors.New("wrong encryption key for this core")
	// ErrNotEncrypted: a writable core that already holds plaintext blocks cannot be given an
	// encryption key.
	ErrNotEncrypted = errors.New("core is not encrypted")
	// ErrBadEncryptionKey: text that is not a 32-byte key in 64 hex characters, or an all-zero key.
	ErrBadEncryptionKey = errors.New("an encryption key is 32 bytes, written as 64 hex characters, and not all zero")
	// ErrShortBlock: stored bytes shorter than the padding of an encrypted block.
	ErrShortBlock = errors.New("stored block is shorter than the encryption padding")
)

// EncryptionKey is the 32-byte key a core is encrypted with: Hypercore's `encryptionKey` option.
// One encryption key may serve many cores; each core derives its own BlockKey from it.
//
// It has no String method, so that it is never printed or logged by accident; use Hex.
type EncryptionKey [32]byte

// Hex returns the key as 64 hex characters, the form ParseEncryptionKey reads.
func (k EncryptionKey) Hex() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is all zero bytes, which is never a valid key.
func (k EncryptionKey) IsZero() bool { return k == EncryptionKey{} }

// GenerateEncryptionKey returns a new random encryption key.
func GenerateEncryptionKey() (EncryptionKey, error) {
	var k EncryptionKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("generate encryption key: %w", err)
	}
	return k, nil
}

// ParseEncryptionKey parses a key written as 64 hex characters.
func ParseEncryptionKey(s string) (EncryptionKey, error) {
	var k EncryptionKey
	b, err := parseKey32(s)
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}

func parseKey32(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 64 {
		return nil, fmt.Errorf("%w: got %d characters", ErrBadEncryptionKey, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex: %v", ErrBadEncryptionKey, err)
	}
	if subtle.ConstantTimeCompare(b, make([]byte, 32)) == 1 {
		return nil, fmt.Errorf("%w: all zero", ErrBadEncryptionKey)
	}
	return b, nil
}

// BlockKey is the key that encrypts one core's blocks. It is what a reader needs to decrypt, and
// what an owner releases to a grantee: unlike the EncryptionKey it opens this core only.
// Hypercore takes it with the `isBlockKey` option.
//
// It has no String method, so that it is never printed or logged by accident; use Hex.
type BlockKey [32]byte

// Hex returns the key as 64 hex characters, the form ParseBlockKey reads.
func (bk BlockKey) Hex() string { return hex.EncodeToString(bk[:]) }

// IsZero reports whether bk is all zero bytes, which is never a valid key.
func (bk BlockKey) IsZero() bool { return bk == BlockKey{} }

// ParseBlockKey parses a block key written as 64 hex characters.
func ParseBlockKey(s string) (BlockKey, error) {
	var bk BlockKey
	b, err := parseKey32(s)
	if err != nil {
		return bk, err
	}
	copy(bk[:], b)
	return bk, nil
}

// DeriveBlockKey returns the block key of the core with key coreKey encrypted with k:
// BLAKE2b-256(DEFAULT_ENCRYPTION || coreKey || k). It equals Hypercore's
// `Hypercore.blockEncryptionKey(key, encryptionKey)`.
func DeriveBlockKey(coreKey Key, k EncryptionKey) BlockKey {
	return BlockKey(hash(NamespaceDefaultEncryption[:], coreKey[:], k[:]))
}

// BlindingKey returns the key that blinds the fork in each block's padding: BLAKE2b-256(bk).
func (bk BlockKey) BlindingKey() [32]byte { return hash(bk[:]) }

// NamespaceKeyCheck is the namespace of key check values:
// namespace("datomspace/encryption", 1)[0].
var NamespaceKeyCheck = Namespace("datomspace/encryption", 1)[0]

// KeyCheck is a key check value: BLAKE2b-256(NamespaceKeyCheck || blockKey). It identifies a
// core's block key without revealing it, so a released key can be checked before it is used (the
// scheme has no MAC, so a wrong key would otherwise decrypt to garbage silently). It is public.
type KeyCheck [32]byte

// Check returns the key check value of bk.
func (bk BlockKey) Check() KeyCheck { return KeyCheck(hash(NamespaceKeyCheck[:], bk[:])) }

// String returns the key check value as 64 hex characters.
func (kc KeyCheck) String() string { return hex.EncodeToString(kc[:]) }

// IsZero reports whether kc is the zero value, which stands for "not known".
func (kc KeyCheck) IsZero() bool { return kc == KeyCheck{} }

// ErrBadKeyCheck: text that is not a 32-byte key check value in 64 hex characters.
var ErrBadKeyCheck = errors.New("a key check value is 32 bytes, written as 64 hex characters")

// ParseKeyCheck parses a key check value written as 64 hex characters.
func ParseKeyCheck(s string) (KeyCheck, error) {
	var kc KeyCheck
	s = strings.TrimSpace(s)
	if len(s) != 64 {
		return kc, fmt.Errorf("%w: got %d characters", ErrBadKeyCheck, len(s))
	}
	if _, err := hex.Decode(kc[:], []byte(s)); err != nil {
		return kc, fmt.Errorf("%w: not hex: %v", ErrBadKeyCheck, err)
	}
	return kc, nil
}

// Matches reports, in constant time, whether bk is the key that kc identifies.
func (kc KeyCheck) Matches(bk BlockKey) bool {
	want := bk.Check()
	return subtle.ConstantTimeCompare(kc[:], want[:]) == 1
}

// EncryptBlock returns the stored form of block index of a core whose fork is fork when the block
// is appended: padding, then ciphertext.
func EncryptBlock(bk BlockKey, index, fork uint64, plaintext []byte) []byte {
	return newBlockCipher(bk).encrypt(make([]byte, EncryptionPadding+len(plaintext)), index, fork, plaintext)
}

// DecryptBlock returns the plaintext of stored block index. It fails only for bytes shorter than
// the padding; a wrong key gives garbage, which is why keys travel with a KeyCheck.
func DecryptBlock(bk BlockKey, index uint64, stored []byte) ([]byte, error) {
	if len(stored) < EncryptionPadding {
		return nil, fmt.Errorf("block %d: %w: %d bytes", index, ErrShortBlock, len(stored))
	}
	out := make([]byte, len(stored)-EncryptionPadding)
	newBlockCipher(bk).decrypt(out, index, stored)
	return out, nil
}

// BlockFork returns the fork that stored block index was appended at, from its blinded padding.
func BlockFork(bk BlockKey, index uint64, stored []byte) (uint64, error) {
	if len(stored) < EncryptionPadding {
		return 0, fmt.Errorf("block %d: %w: %d bytes", index, ErrShortBlock, len(stored))
	}
	return newBlockCipher(bk).fork(index, stored), nil
}

// blockCipher holds a core's two derived keys, so that the blinding key is hashed once.
type blockCipher struct {
	block, blinding [32]byte
}

func newBlockCipher(bk BlockKey) *blockCipher {
	return &blockCipher{block: bk, blinding: bk.BlindingKey()}
}

// encrypt writes the stored form of plaintext into dst, which must be exactly
// EncryptionPadding+len(plaintext) bytes and may not overlap plaintext, and returns dst.
func (c *blockCipher) encrypt(dst []byte, index, fork uint64, plaintext []byte) []byte {
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	pad := dst[:EncryptionPadding]
	binary.LittleEndian.PutUint64(pad, fork)
	salsa20.XORKeyStream(pad, pad, nonce[:], &c.blinding)
	copy(nonce[8:16], pad)
	salsa20.XORKeyStream(dst[EncryptionPadding:], plaintext, nonce[:], &c.block)
	return dst
}

// decrypt writes the plaintext of stored into dst, which must be len(stored)-EncryptionPadding
// bytes and either be stored[EncryptionPadding:] itself or not overlap it.
func (c *blockCipher) decrypt(dst []byte, index uint64, stored []byte) {
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	copy(nonce[8:16], stored[:EncryptionPadding])
	salsa20.XORKeyStream(dst, stored[EncryptionPadding:], nonce[:], &c.block)
}

// fork unblinds the padding of stored, which is at least EncryptionPadding bytes.
func (c *blockCipher) fork(index uint64, stored []byte) uint64 {
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	var pad [EncryptionPadding]byte
	salsa20.XORKeyStream(pad[:], stored[:EncryptionPadding], nonce[:], &c.blinding)
	return binary.LittleEndian.Uint64(pad[:])
}

// encryptBlocks returns the stored forms of blocks, the core's blocks from start on, appended at
// fork, in one allocation.
func (c *blockCipher) encryptBlocks(start, fork uint64, blocks [][]byte) [][]byte {
	total := 0
	for _, b := range blocks {
		total += EncryptionPadding + len(b)
	}
	buf := make([]byte, total)
	out := make([][]byte, len(blocks))
	for k, b := range blocks {
		n := EncryptionPadding + len(b)
		out[k] = c.encrypt(buf[:n:n], start+uint64(k), fork, b)
		buf = buf[n:]
	}
	return out
}

// decryptInPlace decrypts stored blocks, the core's blocks from start on, in place, and returns
// their plaintexts, which share the stored blocks' memory.
func (c *blockCipher) decryptInPlace(start uint64, stored [][]byte) ([][]byte, error) {
	for k, b := range stored {
		if len(b) < EncryptionPadding {
			return nil, fmt.Errorf("block %d: %w: %d bytes", start+uint64(k), ErrShortBlock, len(b))
		}
		pt := b[EncryptionPadding:]
		c.decrypt(pt, start+uint64(k), b)
		stored[k] = pt
	}
	return stored, nil
}
