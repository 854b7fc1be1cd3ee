package asset

import "errors"

// Refusals: why an enforcing peer does not serve an asset to a peer. Their messages are what
// the reader sees, so they are short and stable; each refusal wraps one of them with context.
var (
	// ErrNoGrant: the peer holds no grant for any asset that covers the core.
	ErrNoGrant = errors.New("no grant")
	// ErrGrantExpired: the peer's grant (or a link of its chain) is past its expiry.
	ErrGrantExpired = errors.New("grant expired")
	// ErrGrantNotYetValid: the peer's grant (or a link of its chain) is before its not-before.
	ErrGrantNotYetValid = errors.New("grant not yet valid")
	// ErrGrantRevoked: the owner revoked the peer's grant (or a link of its chain).
	ErrGrantRevoked = errors.New("grant revoked")
	// ErrGrantsStale: the enforcing peer's copy of the owner's grants core has no checkpoint
	// younger than the grant's max-stale, so it cannot rule out a revocation; it fails closed.
	ErrGrantsStale = errors.New("grants too stale")
	// ErrWrongAction: the peer's grant does not allow what it asked for (a download with a
	// query-only grant, say).
	ErrWrongAction = errors.New("grant does not allow this action")
	// ErrComputeOnly: the core belongs to a compute asset: its blocks never leave the owner's
	// peer, only query results do.
	ErrComputeOnly = errors.New("compute only")
	// ErrCatalogNotHeld: the core belongs to an asset whose catalog or grants core this peer does
	// not hold (yet), so it cannot check a grant; it fails closed.
	ErrCatalogNotHeld = errors.New("the asset's catalog or grants are not held here")
	// ErrQueryNotAllowed: a query outside the asset's allowed set, or one that reaches an
	// attribute or entity the grant does not cover.
	ErrQueryNotAllowed = errors.New("query not allowed")
	// ErrKeyNotHeld: key release was asked of a peer that does not hold the core's block key.
	ErrKeyNotHeld = errors.New("the block key is not held here")
)

// Errors about bad input: records, grants and files that do not decode or do not verify.
var (
	// ErrBadGrant: bytes that are not a well-formed signed grant, a grant whose signature fails,
	// or a chain that does not link up (a forged or altered grant).
	ErrBadGrant = errors.New("invalid grant")
	// ErrBroaderThanParent: a delegated grant that does not narrow its parent (more actions, a
	// later expiry, a larger volume, another asset).
	ErrBroaderThanParent = errors.New("delegated grant is broader than its parent")
	// ErrBadAsset: an asset description that is malformed or inconsistent.
	ErrBadAsset = errors.New("invalid asset")
	// ErrBadPrincipal: text that is neither a libp2p peer ID of an Ed25519 key nor an Ed25519
	// did:key.
	ErrBadPrincipal = errors.New("a grantee is a libp2p peer ID of an Ed25519 key or an Ed25519 did:key")
	// ErrBadProof: an ownership proof file that is malformed or does not verify.
	ErrBadProof = errors.New("invalid ownership proof")
	// ErrBadMessage: a protocol message (a hint, a key release, a query) that does not decode.
	ErrBadMessage = errors.New("malformed asset protocol message")
	// ErrBadSealedKey: a sealed key that does not open with the recipient's key, or whose key
	// fails its key check value.
	ErrBadSealedKey = errors.New("sealed key does not open or fails its key check")
	// ErrNoAsset: no asset of that name in the catalog.
	ErrNoAsset = errors.New("no such asset")
	// ErrNoSuchGrant: no grant with that id.
	ErrNoSuchGrant = errors.New("no such grant")
	// ErrAssetExists: an asset of that name exists already.
	ErrAssetExists = errors.New("an asset of that name exists already")
	// ErrNotOwner: an operation that only the owner of a core can do (making it an asset needs
	// its signing key).
	ErrNotOwner = errors.New("not the owner of the core")
)
