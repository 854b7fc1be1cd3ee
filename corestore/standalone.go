package corestore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
)

// Standalone proofs: a proof that a verifier with nothing at hand but the core key can check, as
// an ownership proof file carries it. It is an ordinary Proof whose upgrade starts from length 0
// and carries the manifest, so it holds the whole signed tree: the roots, the signature and who
// signed.

// ProveStandalone returns the standalone proof of blocks [start, end) against the core's current
// signed tree. A replica proves what it holds.
func (c *Core) ProveStandalone(ctx context.Context, start, end uint64) (*Proof, error) {
	if end <= start {
		return nil, c.errf("prove [%d, %d): %w: no blocks", start, end, ErrOutOfRange)
	}
	return c.Prove(ctx, ProofRequest{Start: start, End: end, Upgrade: true, NeedManifest: true})
}

// VerifyStandalone checks a standalone proof against the core key alone: the manifest hashes to
// key, the tree is signed by the manifest's signer, and every block hashes up to the tree's
// roots. It returns the signed tree and the manifest. It is pure.
func VerifyStandalone(key Key, p *Proof) (Tree, Manifest, error) {
	if p == nil || p.Upgrade == nil || p.Upgrade.From != 0 {
		return Tree{}, Manifest{}, fmt.Errorf("%w: a standalone proof carries the signed tree from length 0", ErrBadProof)
	}
	if len(p.Blocks) == 0 {
		return Tree{}, Manifest{}, fmt.Errorf("%w: a standalone proof carries at least one block", ErrBadProof)
	}
	v, err := verifyProof(key, nil, Tree{}, func(uint64) ([]Node, error) {
		return nil, fmt.Errorf("%w: no local tree", ErrBadProof)
	}, p)
	if err != nil {
		return Tree{}, Manifest{}, err
	}
	return v.tree, *v.manifest, nil
}

// VerifySignedTree checks that tree is signed by the signer of manifest m for the core with key
// key, and that its roots have the shape of its length. It is pure.
func VerifySignedTree(key Key, m Manifest, t Tree) error {
	if m.Key() != key {
		return fmt.Errorf("%w: the manifest does not hash to the core key", ErrBadProof)
	}
	_, err := checkSignedTree(key, &m, &Upgrade{Fork: t.Fork, Length: t.Length, Roots: t.Roots, Signature: t.Signature})
	return err
}

// SignedHead is a signed tree head: what a signature covers, without the roots.
type SignedHead struct {
	Fork, Length uint64
	TreeHash     Hash
	Signature    []byte
}

// Conflict returns the second signed tree that froze the core, if it is frozen: with the core's
// own head of the same length and fork, it is a fork proof (VerifySignedHead checks each).
func (c *Core) Conflict() (SignedHead, bool) {
	h := c.hdr.Load()
	if h.Conflict == nil {
		return SignedHead{}, false
	}
	return SignedHead{Fork: h.Conflict.Fork, Length: h.Conflict.Length, TreeHash: h.Conflict.TreeHash,
		Signature: slices.Clone(h.Conflict.Signature)}, true
}

// VerifySignedHead checks that the signer of manifest m signed head for the core with key key.
// It is pure.
func VerifySignedHead(key Key, m Manifest, head SignedHead) error {
	if m.Key() != key {
		return fmt.Errorf("%w: the manifest does not hash to the core key", ErrBadProof)
	}
	if len(head.Signature) != ed25519.SignatureSize || !ed25519.Verify(m.PublicKey[:], Signable(key, head.TreeHash, head.Length, head.Fork), head.Signature) {
		return fmt.Errorf("%w: length %d fork %d", ErrBadSignature, head.Length, head.Fork)
	}
	return nil
}
