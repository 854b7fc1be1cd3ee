package asset

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/blake2b"

	"github.com/datomspace/datomspace/corestore"
)

// A grant is a right, signed by its issuer, of a grantee to act on one asset. A root grant is
// issued by the asset's owner; a delegated grant is issued by the grantee of its parent, which
// must allow ActGrant, and may only narrow it.
//
// Its payload is the deterministic CBOR array
//
//	[1, issuer, grantee, catalog, asset, actions, notBefore, expires, volume, maxStale, parent, nonce]
//
// with the keys as 32-byte strings, the times in Unix milliseconds (0: none), maxStale in
// milliseconds, parent the parent's id (empty for a root grant) and nonce 16 random bytes. The
// signed grant is [payload, signature], the signature an Ed25519 signature by the issuer over
// nsGrantSig || payload. A grant's id is BLAKE2b-256(nsGrantID || payload).

// GrantVersion is the version of the grant format.
const GrantVersion = 1

// MaxChainDepth bounds a delegation chain, root included.
const MaxChainDepth = 4

// MaxGrantSize bounds an encoded signed grant.
const MaxGrantSize = 1024

// maxAssetName bounds an asset's name.
const maxAssetName = 128

// GrantID identifies a grant: the hash of its payload.
type GrantID [32]byte

// String returns the id as 64 hex characters.
func (id GrantID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id GrantID) IsZero() bool { return id == GrantID{} }

// MarshalText implements encoding.TextMarshaler.
func (id GrantID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// ParseGrantID reads a grant id (64 hex characters; a unique prefix is resolved by the caller).
func ParseGrantID(s string) (GrantID, error) {
	var id GrantID
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return id, fmt.Errorf("%w: a grant id is 64 hex characters, got %q", ErrBadGrant, s)
	}
	copy(id[:], b)
	return id, nil
}

// Grant is the content of a grant.
type Grant struct {
	// Issuer signs the grant: the owner for a root grant, the parent's grantee for a delegated one.
	Issuer Principal
	// Grantee is who may act.
	Grantee Principal
	// Catalog is the key of the owner's catalog core; with Asset it names the asset.
	Catalog corestore.Key
	// Asset is the asset's name in that catalog.
	Asset string
	// Actions is what the grantee may do.
	Actions Actions
	// NotBefore and Expires bound when the grant holds; zero means no bound.
	NotBefore, Expires time.Time
	// Volume bounds the accesses under the grant (0: unlimited). Metering counts them.
	Volume uint64
	// MaxStale is how old the newest checkpoint of the owner's grants core may be at an
	// enforcing peer that is not the owner; older, and it refuses.
	MaxStale time.Duration
	// Parent is the id of the parent grant of a delegated grant; zero for a root grant.
	Parent GrantID
	// Nonce makes two otherwise equal grants distinct; NewGrant fills it in.
	Nonce [16]byte
}

// DefaultMaxStale is the max-stale of a grant that does not set one.
const DefaultMaxStale = 10 * time.Minute

type wireGrant struct {
	_         struct{} `cbor:",toarray"`
	V         uint64
	Issuer    []byte
	Grantee   []byte
	Catalog   []byte
	Asset     string
	Actions   uint64
	NotBefore int64
	Expires   int64
	Volume    uint64
	MaxStale  int64
	Parent    []byte
	Nonce     []byte
}

type wireSigned struct {
	_       struct{} `cbor:",toarray"`
	Payload []byte
	Sig     []byte
}

// SignedGrant is a grant with its issuer's signature, as it travels and is stored.
type SignedGrant struct {
	Grant
	// ID is the hash of the payload.
	ID GrantID
	// Payload is the grant's canonical encoding; Signature the issuer's signature of it.
	Payload, Signature []byte
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// check validates a grant's fields on their own.
func (g *Grant) check() error {
	switch {
	case !g.Issuer.valid():
		return fmt.Errorf("%w: the issuer is not a valid Ed25519 key", ErrBadGrant)
	case !g.Grantee.valid():
		return fmt.Errorf("%w: the grantee is not a valid Ed25519 key", ErrBadGrant)
	case g.Catalog == corestore.Key{}:
		return fmt.Errorf("%w: no catalog", ErrBadGrant)
	case g.Asset == "" || len(g.Asset) > maxAssetName || !utf8.ValidString(g.Asset):
		return fmt.Errorf("%w: the asset name must be 1 to %d bytes of UTF-8", ErrBadGrant, maxAssetName)
	case g.Actions == 0 || g.Actions&^allActions != 0:
		return fmt.Errorf("%w: actions %#x", ErrBadGrant, uint8(g.Actions))
	case g.MaxStale <= 0 || g.MaxStale%time.Millisecond != 0:
		return fmt.Errorf("%w: max-stale must be a positive number of milliseconds", ErrBadGrant)
	case millis(g.NotBefore) < 0 || millis(g.Expires) < 0:
		return fmt.Errorf("%w: times before 1970", ErrBadGrant)
	case !g.Expires.IsZero() && !g.NotBefore.IsZero() && !g.Expires.After(g.NotBefore):
		return fmt.Errorf("%w: it expires (%s) before it becomes valid (%s)", ErrBadGrant, g.Expires.Format(time.RFC3339), g.NotBefore.Format(time.RFC3339))
	case g.NotBefore.UnixMilli()*int64(time.Millisecond) != g.NotBefore.UnixNano() && !g.NotBefore.IsZero(),
		g.Expires.UnixMilli()*int64(time.Millisecond) != g.Expires.UnixNano() && !g.Expires.IsZero():
		return fmt.Errorf("%w: times are whole milliseconds", ErrBadGrant)
	}
	return nil
}

// payload returns the grant's canonical encoding.
func (g *Grant) payload() []byte {
	w := wireGrant{V: GrantVersion, Issuer: g.Issuer[:], Grantee: g.Grantee[:], Catalog: g.Catalog[:], Asset: g.Asset,
		Actions: uint64(g.Actions), NotBefore: millis(g.NotBefore), Expires: millis(g.Expires), Volume: g.Volume,
		MaxStale: g.MaxStale.Milliseconds(), Nonce: g.Nonce[:]}
	if !g.Parent.IsZero() {
		w.Parent = g.Parent[:]
	} else {
		w.Parent = []byte{}
	}
	return marshal(&w)
}

func grantID(payload []byte) GrantID {
	h, _ := blake2b.New256(nil)
	h.Write(nsGrantID[:])
	h.Write(payload)
	var id GrantID
	h.Sum(id[:0])
	return id
}

func grantSignable(payload []byte) []byte {
	return append(append(make([]byte, 0, 32+len(payload)), nsGrantSig[:]...), payload...)
}

// Sign returns the grant signed by s, which must be its issuer. A grant without a nonce gets a
// random one; times are truncated to milliseconds, as the payload keeps them.
func (g Grant) Sign(s *Signer) (*SignedGrant, error) {
	if g.Issuer.IsZero() {
		g.Issuer = s.Principal()
	}
	if g.Issuer != s.Principal() {
		return nil, fmt.Errorf("%w: the issuer is %s, not the signer %s", ErrBadGrant, g.Issuer, s.Principal())
	}
	if g.MaxStale == 0 {
		g.MaxStale = DefaultMaxStale
	}
	g.MaxStale = g.MaxStale.Truncate(time.Millisecond)
	if !g.NotBefore.IsZero() {
		g.NotBefore = g.NotBefore.Truncate(time.Millisecond).UTC()
	}
	if !g.Expires.IsZero() {
		g.Expires = g.Expires.Truncate(time.Millisecond).UTC()
	}
	if g.Nonce == [16]byte{} {
		if _, err := rand.Read(g.Nonce[:]); err != nil {
			return nil, err
		}
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	p := g.payload()
	sg := &SignedGrant{Grant: g, ID: grantID(p), Payload: p, Signature: s.Sign(grantSignable(p))}
	return sg, nil
}

// Encode returns the signed grant's bytes.
func (sg *SignedGrant) Encode() []byte {
	return marshal(&wireSigned{Payload: sg.Payload, Sig: sg.Signature})
}

// DecodeSignedGrant decodes a signed grant and checks its signature by its issuer. It does not
// check who the issuer is (see Chain.Verify) nor when the grant holds (Chain.ValidAt).
func DecodeSignedGrant(b []byte) (*SignedGrant, error) {
	if len(b) > MaxGrantSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadGrant, len(b), MaxGrantSize)
	}
	var ws wireSigned
	if err := unmarshalCanonical(b, &ws, "signed grant", ErrBadGrant); err != nil {
		return nil, err
	}
	var w wireGrant
	if err := unmarshalCanonical(ws.Payload, &w, "grant payload", ErrBadGrant); err != nil {
		return nil, err
	}
	if w.V != GrantVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrBadGrant, w.V, GrantVersion)
	}
	g := Grant{Asset: w.Asset, Actions: Actions(w.Actions), Volume: w.Volume}
	if w.Actions > uint64(allActions) {
		return nil, fmt.Errorf("%w: actions %#x", ErrBadGrant, w.Actions)
	}
	if len(w.Issuer) != 32 || len(w.Grantee) != 32 || len(w.Catalog) != 32 || len(w.Nonce) != 16 ||
		(len(w.Parent) != 0 && len(w.Parent) != 32) {
		return nil, fmt.Errorf("%w: a key, the parent or the nonce has the wrong length", ErrBadGrant)
	}
	copy(g.Issuer[:], w.Issuer)
	copy(g.Grantee[:], w.Grantee)
	copy(g.Catalog[:], w.Catalog)
	copy(g.Parent[:], w.Parent)
	copy(g.Nonce[:], w.Nonce)
	if len(w.Parent) == 32 && g.Parent.IsZero() {
		return nil, fmt.Errorf("%w: a zero parent id", ErrBadGrant)
	}
	if w.NotBefore < 0 || w.Expires < 0 || w.MaxStale <= 0 || w.MaxStale > int64(1<<62)/int64(time.Millisecond) {
		return nil, fmt.Errorf("%w: times out of range", ErrBadGrant)
	}
	g.NotBefore, g.Expires = fromMillis(w.NotBefore), fromMillis(w.Expires)
	g.MaxStale = time.Duration(w.MaxStale) * time.Millisecond
	if err := g.check(); err != nil {
		return nil, err
	}
	if !g.Issuer.Verify(grantSignable(ws.Payload), ws.Sig) {
		return nil, fmt.Errorf("%w: the signature is not the issuer's", ErrBadGrant)
	}
	return &SignedGrant{Grant: g, ID: grantID(ws.Payload), Payload: ws.Payload, Signature: ws.Sig}, nil
}

// Chain is a delegation chain, root grant first; its last grant is the one acted under.
type Chain []*SignedGrant

// Leaf returns the chain's last grant.
func (c Chain) Leaf() *SignedGrant { return c[len(c)-1] }

// Verify checks that the chain links up from a root grant issued by owner: each grant's parent
// is the one before it, issued by that one's grantee, which allows ActGrant, and it narrows it
// (ErrBroaderThanParent otherwise). Signatures were checked when the grants were decoded.
func (c Chain) Verify(owner Principal) error {
	if len(c) == 0 || len(c) > MaxChainDepth {
		return fmt.Errorf("%w: a chain of %d grants (1 to %d)", ErrBadGrant, len(c), MaxChainDepth)
	}
	root := c[0]
	if !root.Parent.IsZero() {
		return fmt.Errorf("%w: the first grant of the chain has a parent", ErrBadGrant)
	}
	if root.Issuer != owner {
		return fmt.Errorf("%w: grant %s is signed by %s, not by the asset's owner %s", ErrBadGrant, root.ID, root.Issuer, owner)
	}
	for i := 1; i < len(c); i++ {
		if err := narrows(c[i-1], c[i]); err != nil {
			return err
		}
	}
	return nil
}

// narrows checks that child is a valid delegation of parent.
func narrows(parent, child *SignedGrant) error {
	switch {
	case child.Parent != parent.ID:
		return fmt.Errorf("%w: grant %s names parent %s, not %s", ErrBadGrant, child.ID, child.Parent, parent.ID)
	case child.Issuer != parent.Grantee:
		return fmt.Errorf("%w: grant %s is signed by %s, not by its parent's grantee %s", ErrBadGrant, child.ID, child.Issuer, parent.Grantee)
	case !parent.Actions.Has(ActGrant):
		return fmt.Errorf("%w: grant %s delegates from %s, which does not allow grant", ErrBroaderThanParent, child.ID, parent.ID)
	case child.Catalog != parent.Catalog || child.Asset != parent.Asset:
		return fmt.Errorf("%w: grant %s is for another asset than its parent", ErrBroaderThanParent, child.ID)
	case !parent.Actions.Has(child.Actions):
		return fmt.Errorf("%w: grant %s allows %s, its parent only %s", ErrBroaderThanParent, child.ID, child.Actions, parent.Actions)
	case !parent.Expires.IsZero() && (child.Expires.IsZero() || child.Expires.After(parent.Expires)):
		return fmt.Errorf("%w: grant %s expires after its parent", ErrBroaderThanParent, child.ID)
	case child.NotBefore.Before(parent.NotBefore):
		return fmt.Errorf("%w: grant %s becomes valid before its parent", ErrBroaderThanParent, child.ID)
	case parent.Volume != 0 && (child.Volume == 0 || child.Volume > parent.Volume):
		return fmt.Errorf("%w: grant %s has a larger volume than its parent", ErrBroaderThanParent, child.ID)
	case child.MaxStale > parent.MaxStale:
		return fmt.Errorf("%w: grant %s tolerates staler grants than its parent", ErrBroaderThanParent, child.ID)
	}
	return nil
}

// ValidAt checks that every grant of the chain holds at now: ErrGrantNotYetValid or
// ErrGrantExpired otherwise.
func (c Chain) ValidAt(now time.Time) error {
	for _, g := range c {
		if !g.NotBefore.IsZero() && now.Before(g.NotBefore) {
			return fmt.Errorf("%w: grant %s holds from %s", ErrGrantNotYetValid, g.ID, g.NotBefore.Format(time.RFC3339))
		}
		if !g.Expires.IsZero() && !now.Before(g.Expires) {
			return fmt.Errorf("%w: grant %s expired at %s", ErrGrantExpired, g.ID, g.Expires.Format(time.RFC3339))
		}
	}
	return nil
}

// MaxStale returns the smallest max-stale of the chain.
func (c Chain) MaxStale() time.Duration {
	m := c[0].MaxStale
	for _, g := range c[1:] {
		m = min(m, g.MaxStale)
	}
	return m
}

// Credential is what a peer presents when it opens a sync stream: delegation chains it holds
// (root grants need not be presented: every enforcing peer finds them in the owner's grants
// core). It is the CBOR array of chains, each an array of signed grants.
type wireCredential struct {
	_      struct{} `cbor:",toarray"`
	V      uint64
	Chains [][][]byte
}

// MaxCredentialSize bounds an encoded credential: it travels in the sync stream's first message.
const MaxCredentialSize = 900

// EncodeCredential returns the credential carrying chains, or an error when it would be larger
// than MaxCredentialSize.
func EncodeCredential(chains []Chain) ([]byte, error) {
	w := wireCredential{V: 1, Chains: [][][]byte{}}
	for _, c := range chains {
		var enc [][]byte
		for _, g := range c {
			enc = append(enc, g.Encode())
		}
		w.Chains = append(w.Chains, enc)
	}
	b := marshal(&w)
	if len(b) > MaxCredentialSize {
		return nil, fmt.Errorf("%w: a credential of %d bytes, at most %d", ErrBadGrant, len(b), MaxCredentialSize)
	}
	return b, nil
}

// DecodeCredential decodes a presented credential: every grant's signature is checked, and every
// chain must link up (Chain.Verify is left to the caller, who knows the owner).
func DecodeCredential(b []byte) ([]Chain, error) {
	if len(b) > MaxCredentialSize {
		return nil, fmt.Errorf("%w: a credential of %d bytes, at most %d", ErrBadGrant, len(b), MaxCredentialSize)
	}
	var w wireCredential
	if err := unmarshalCanonical(b, &w, "credential", ErrBadGrant); err != nil {
		return nil, err
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: credential version %d", ErrBadGrant, w.V)
	}
	out := make([]Chain, 0, len(w.Chains))
	for _, enc := range w.Chains {
		if len(enc) == 0 || len(enc) > MaxChainDepth {
			return nil, fmt.Errorf("%w: a chain of %d grants", ErrBadGrant, len(enc))
		}
		var c Chain
		for _, gb := range enc {
			g, err := DecodeSignedGrant(gb)
			if err != nil {
				return nil, err
			}
			c = append(c, g)
		}
		out = append(out, c)
	}
	return out, nil
}
