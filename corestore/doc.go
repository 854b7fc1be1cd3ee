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
//   - datafile.go: the append-only file that holds replicas' block bytes, and crash recovery for it.
//   - diskspace.go: the disk reserve, which turns a full disk into ErrDiskFull before Badger's
//     memory-mapped writes could fault (SIGBUS), and opens a store read-only when it must.
//   - encryption.go: Hypercore 11's default block encryption: key derivation, encrypting and
//     decrypting one block, key check values. No I/O. encryption_core.go keeps a core's keys
//     with it, encrypts appends and decrypts reads; proofs carry the stored bytes untouched.
//
// Badger holds everything a store knows: headers, tree nodes, bitfields, and every block of a
// writable core, committed atomically with the signed tree it belongs to. The one thing kept
// beside it is the bytes of replicated blocks: they are written once to the store's data file
// and Badger records where they are (see dataFile). A replica can always fetch a block again, so
// those bytes are synced once per download, not once per proof, and a crash that loses some is
// repaired on open by checking them against their Merkle leaves.
//
// A writable core signs every new length with its ed25519 key. A read-only replica only ever stores
// blocks and nodes that a Proof has shown to belong to a validly signed tree, and two validly signed
// different trees of the same length and fork freeze it with ErrConflict.
package corestore
