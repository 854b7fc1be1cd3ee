// Package asset is datomspace's data asset layer: ownership, grants, revocation and security
// levels over signed cores, with no blockchain: every fact about an asset is a datom in a core its
// owner signs, so anyone can check it offline against the owner's keys.
//
// # Cores of an owner
//
// Each owner (a node identity, an Ed25519 key that is both a libp2p peer ID and a did:key) has a
// public catalog core (its assets: members, version pins, category, security level, schema,
// lifecycle state), a public grants core (grants, revocations and time checkpoints), and a
// private, encrypted ledger core (key releases). They are ordinary cores of the owner's store,
// created on first use (Owner), and their records are datom transactions (records.go), so they
// replicate, verify and can be queried with Datalog like any others.
//
// # Assets and attestations
//
// An Asset is a whole core, some attributes of one, or its entities under an id prefix, or
// several of those. Each member carries the core's attestation: the core's own key signs that it
// belongs to this owner, catalog and grants core (corestore.Core.Attest), so a catalog can only
// claim cores its owner writes, and a replica never enforces a catalog the core did not name.
//
// # Grants
//
// A Grant is signed by its issuer (grant.go): the owner for a root grant, or the grantee of a
// parent grant that allows ActGrant, which may only narrow it (Chain.Verify). Its id is the hash
// of its canonical CBOR. Root grants are appended to the owner's grants core, where every
// enforcing peer finds them by grantee; delegated chains are presented by their holder
// (EncodeCredential). A revocation is a datom of the grants core, and every transaction of it
// carries a checkpoint, the owner's clock; the owner appends one periodically too.
//
// # Enforcement
//
// A Registry is what one peer knows: the owners it tracks (its own, and those hints named) and
// views of their catalogs and grants (views.go). Registry.Decide rules whether a peer may
// download a core, have its key released, or query it; it is the same code on the owner's peer
// and on every replica. A replica that is not the owner requires its copy of the grants core to
// have a checkpoint younger than the grant's max-stale, so a replica that cannot hear from the
// owner fails closed instead of serving a revoked grant. A peer told a core belongs to an asset
// whose catalog it does not hold refuses it too.
//
// # Security levels
//
//   - Public: anyone who knows the key.
//   - Granted: served only to a grantee with read or replicate on an asset that has the whole
//     core as a member. A block holds every attribute of its transaction, so a block download
//     cannot hide part of a core: attribute- and prefix-scoped grants are served by query only
//     (Restrict).
//   - Encrypted: Hypercore 11's block encryption. Anyone may host and serve ciphertext; the block
//     key is released to grantees with read, sealed to their X25519 key (SealKey), and the release
//     is appended to the ledger as the proof of delivery. Revoking a grant starts a new key epoch,
//     a new core (Owner.Rotate).
//   - Compute: the blocks never leave the owner's peer; grantees with query run the asset's
//     allowed queries there and receive only rows.
//
// # Ownership proofs
//
// An OwnershipProof (proof.go) is a self-contained file: a datom's block, its Merkle proof, the
// signed tree head, the manifest and the core's attestation of its owner. Verify checks it with
// nothing else at hand; two signed heads of one length and fork make it a fork proof.
//
// Every decoder of bytes from the network or a file is strict (canonical CBOR, bounded sizes)
// and fuzzed.
package asset
