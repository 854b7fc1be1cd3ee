// Package corestore implements cores: signed, append-only logs keyed by their owner's public key,
// byte-compatible with Hypercore 11 and Corestore 7, and a Store that keeps many of them in one
// Badger database.
//
// The package is layered so that the parts that decide what is true are pure:
//
//   - crypto.go: BLAKE2b namespaces, key pairs, the default manifest, core and discovery keys,
//     the 112-byte signable and the signature container.
//   - flattree.go: flat-tree index arithmetic.
//   - tree.go: the Merkle tree state, hashing, and proof generation and verification. No I/O.
//   - core.go, store.go, storage.go: the Badger-backed cores and store, group commit, lazy open.
//
// A writable core signs every new length with its ed25519 key. A read-only replica only ever stores
// blocks and nodes that a Proof has shown to belong to a validly signed tree, and two validly signed
// different trees of the same length and fork freeze it with ErrConflict.
package corestore
