package corestore

import (
	"context"
	"fmt"
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
