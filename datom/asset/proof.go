package asset

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// An ownership proof is a self-contained file that shows, to anyone with nothing else at hand,
// that the owner of a core signed a block holding a datom: the block, its Merkle proof up to the
// roots of a signed tree, that tree's signature, and the core's manifest, whose hash is the core
// key. Optionally it carries the core's attestation that its owner is a given identity (a peer
// ID), and a second signed head of the same length and fork, which makes it a fork proof: the
// owner signed two different trees, which an honest owner never does.
//
// The file is the deterministic CBOR array
//
//	["datomspace/ownership-proof", 1, coreKey, manifest, fork, length, roots, signature,
//	 hasBlock, index, block, nodes, entity, attribute, owner, catalog, grants, attestation, conflict, time,
//	 digest]
//
// where roots and nodes are arrays of [index, size, hash], owner, catalog, grants and
// attestation are empty when there is no attestation, conflict is [] or [fork, length,
// treeHash, signature], time is when the file was made (Unix milliseconds; not signed), and
// digest is BLAKE2b-256 of a namespace and the file with an empty digest, so that any damaged
// byte is caught, in the fields the signatures cover and in the others alike.
// index and block are absent (index 0, empty block) in a fork proof without a block.

// ProofMagic is the first element of an ownership proof file.
const ProofMagic = "datomspace/ownership-proof"

// ProofVersion is the version of the file format.
const ProofVersion = 1

// MaxProofSize bounds a proof file: a block of at most corestore.MaxBlockSize, and the nodes.
const MaxProofSize = corestore.MaxBlockSize + 64<<10

// OwnershipProof is the content of an ownership proof file.
type OwnershipProof struct {
	Core     corestore.Key
	Manifest []byte
	// Proof is the standalone proof of the block (nil in a fork proof of a frozen core).
	Proof *corestore.Proof
	// Head is the signed head the proof is against, and Roots its roots (set for a fork proof
	// without a block too).
	Head  corestore.SignedHead
	Roots []corestore.Node
	// Entity and Attribute name the datom the proof is about ("" for the whole block).
	Entity, Attribute string
	// Attestation, when set, binds the core to an owner identity.
	Attestation *Attestation
	// Conflict, when set, is a second signed head of the same length and fork: a fork proof.
	Conflict *corestore.SignedHead
	// Made is when the file was written.
	Made time.Time
}

// Attestation is a core's signed statement that it belongs to an owner's assets.
type Attestation struct {
	Owner     Principal
	Catalog   corestore.Key
	Grants    corestore.Key
	Signature []byte
}

type wireNode struct {
	_     struct{} `cbor:",toarray"`
	Index uint64
	Size  uint64
	Hash  []byte
}

type wireHead struct {
	_         struct{} `cbor:",toarray"`
	Fork      uint64
	Length    uint64
	TreeHash  []byte
	Signature []byte
}

type wireProofFile struct {
	_           struct{} `cbor:",toarray"`
	Magic       string
	V           uint64
	Core        []byte
	Manifest    []byte
	Fork        uint64
	Length      uint64
	Roots       []wireNode
	Signature   []byte
	HasBlock    bool
	Index       uint64
	Block       []byte
	Nodes       []wireNode
	Entity      string
	Attribute   string
	Owner       []byte
	Catalog     []byte
	Grants      []byte
	Attestation []byte
	Conflict    []wireHead
	Time        int64
	Digest      []byte
}

// digest returns the file's digest: BLAKE2b-256(nsProof || the file's encoding with an empty
// digest). It catches a damaged file; the signatures are what catch a forged one.
func (w wireProofFile) digest() []byte {
	w.Digest = []byte{}
	h, _ := blake2b.New256(nil)
	h.Write(nsProof[:])
	h.Write(marshal(&w))
	return h.Sum(nil)
}

func toWireNodes(ns []corestore.Node) []wireNode {
	out := make([]wireNode, 0, len(ns))
	for _, n := range ns {
		out = append(out, wireNode{Index: n.Index, Size: n.Size, Hash: append([]byte(nil), n.Hash[:]...)})
	}
	return out
}

func fromWireNodes(ws []wireNode) ([]corestore.Node, error) {
	out := make([]corestore.Node, 0, len(ws))
	for _, w := range ws {
		if len(w.Hash) != 32 {
			return nil, fmt.Errorf("%w: a node hash of %d bytes", ErrBadProof, len(w.Hash))
		}
		out = append(out, corestore.Node{Index: w.Index, Size: w.Size, Hash: corestore.Hash(w.Hash)})
	}
	return out, nil
}

// Encode returns the file's bytes.
func (p *OwnershipProof) Encode() []byte {
	w := wireProofFile{Magic: ProofMagic, V: ProofVersion, Core: p.Core[:], Manifest: p.Manifest, Fork: p.Head.Fork,
		Length: p.Head.Length, Roots: []wireNode{}, Signature: p.Head.Signature, Block: []byte{}, Nodes: []wireNode{},
		Entity: p.Entity, Attribute: p.Attribute, Owner: []byte{}, Catalog: []byte{}, Grants: []byte{}, Attestation: []byte{},
		Conflict: []wireHead{}, Time: p.Made.UnixMilli()}
	w.Roots = toWireNodes(p.Roots)
	if p.Proof != nil && p.Proof.Upgrade != nil {
		w.Roots = toWireNodes(p.Proof.Upgrade.Roots)
		w.HasBlock, w.Index, w.Block, w.Nodes = true, p.Proof.Start, p.Proof.Blocks[0], toWireNodes(p.Proof.Nodes)
	}
	if a := p.Attestation; a != nil {
		w.Owner, w.Catalog, w.Grants, w.Attestation = a.Owner[:], a.Catalog[:], a.Grants[:], a.Signature
	}
	if c := p.Conflict; c != nil {
		w.Conflict = []wireHead{{Fork: c.Fork, Length: c.Length, TreeHash: c.TreeHash[:], Signature: c.Signature}}
	}
	w.Digest = w.digest()
	return marshal(&w)
}

// DecodeProof decodes an ownership proof file. It checks the format only; Verify checks the
// proof.
func DecodeProof(b []byte) (*OwnershipProof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: a file of %d bytes", ErrBadProof, len(b))
	}
	var w wireProofFile
	if err := unmarshalCanonical(b, &w, "proof file", ErrBadProof); err != nil {
		return nil, err
	}
	if w.Magic != ProofMagic {
		return nil, fmt.Errorf("%w: not an ownership proof file", ErrBadProof)
	}
	if w.V != ProofVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrBadProof, w.V, ProofVersion)
	}
	if !bytes.Equal(w.Digest, w.digest()) {
		return nil, fmt.Errorf("%w: the file's digest does not match: it is damaged", ErrBadProof)
	}
	p := &OwnershipProof{Manifest: w.Manifest, Entity: w.Entity, Attribute: w.Attribute, Made: time.UnixMilli(w.Time).UTC(),
		Head: corestore.SignedHead{Fork: w.Fork, Length: w.Length, Signature: w.Signature}}
	var err error
	if p.Core, err = key32(w.Core, "core key", ErrBadProof); err != nil {
		return nil, err
	}
	roots, err := fromWireNodes(w.Roots)
	if err != nil {
		return nil, err
	}
	nodes, err := fromWireNodes(w.Nodes)
	if err != nil {
		return nil, err
	}
	if len(roots) > 64 || len(nodes) > 64*65 {
		return nil, fmt.Errorf("%w: %d roots, %d nodes", ErrBadProof, len(roots), len(nodes))
	}
	p.Roots, p.Head.TreeHash = roots, corestore.TreeHash(roots)
	switch {
	case w.HasBlock:
		p.Proof = &corestore.Proof{Fork: w.Fork, Start: w.Index, Blocks: [][]byte{w.Block}, Nodes: nodes,
			Upgrade: &corestore.Upgrade{From: 0, Fork: w.Fork, Length: w.Length, Roots: roots, Signature: w.Signature, Manifest: w.Manifest}}
	case len(w.Block) != 0 || len(nodes) != 0 || w.Index != 0:
		return nil, fmt.Errorf("%w: block fields in a proof without a block", ErrBadProof)
	}
	switch len(w.Owner) {
	case 0:
		if len(w.Catalog)+len(w.Grants)+len(w.Attestation) != 0 {
			return nil, fmt.Errorf("%w: a partial attestation", ErrBadProof)
		}
	case 32:
		a := &Attestation{Signature: w.Attestation}
		copy(a.Owner[:], w.Owner)
		if a.Catalog, err = key32(w.Catalog, "attestation catalog", ErrBadProof); err != nil {
			return nil, err
		}
		if a.Grants, err = key32(w.Grants, "attestation grants", ErrBadProof); err != nil {
			return nil, err
		}
		p.Attestation = a
	default:
		return nil, fmt.Errorf("%w: an owner of %d bytes", ErrBadProof, len(w.Owner))
	}
	switch len(w.Conflict) {
	case 0:
	case 1:
		c := w.Conflict[0]
		h, err := key32(c.TreeHash, "conflict tree hash", ErrBadProof)
		if err != nil {
			return nil, err
		}
		p.Conflict = &corestore.SignedHead{Fork: c.Fork, Length: c.Length, TreeHash: corestore.Hash(h), Signature: c.Signature}
	default:
		return nil, fmt.Errorf("%w: %d conflicting heads", ErrBadProof, len(w.Conflict))
	}
	if p.Proof == nil && p.Conflict == nil {
		return nil, fmt.Errorf("%w: the file proves neither a block nor a fork", ErrBadProof)
	}
	return p, nil
}

// Verdict is what a verified ownership proof shows.
type Verdict struct {
	Core corestore.Key
	// Signer is the ed25519 key that signs the core (from its manifest).
	Signer [32]byte
	// Fork, Length and TreeHash are the signed tree the block belongs to.
	Fork, Length uint64
	TreeHash     corestore.Hash
	// Index and Block are the proven block (Block nil in a fork proof without one).
	Index uint64
	Block []byte
	// Tx is the block decoded as a datom transaction, when it is one; Datoms the datoms of it
	// the proof is about (Entity, and Attribute when set).
	Tx     *datom.Tx
	Datoms []datom.Datom
	// Owner is set when the core attests that it belongs to this owner identity.
	Owner *Attestation
	// Fork proof: Conflict is the second signed head, of the same length and fork as Head.
	Conflict *corestore.SignedHead
}

// Verify checks the proof with nothing but its own bytes: the manifest hashes to the core key,
// the tree is signed by the manifest's signer, the block hashes up to the tree's roots, the
// attestation (if any) is the core's signature, and a conflicting head (if any) is signed too
// and differs. The datom the proof is about must be in the block.
func (p *OwnershipProof) Verify() (*Verdict, error) {
	m, err := corestore.DecodeManifest(p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if m.Key() != p.Core {
		return nil, fmt.Errorf("%w: the manifest does not hash to the core key", ErrBadProof)
	}
	v := &Verdict{Core: p.Core, Signer: m.PublicKey, Fork: p.Head.Fork, Length: p.Head.Length}
	if p.Proof != nil {
		tree, _, err := corestore.VerifyStandalone(p.Core, p.Proof)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
		v.TreeHash, v.Index, v.Block = tree.Hash(), p.Proof.Start, p.Proof.Blocks[0]
		p.Head.TreeHash = v.TreeHash
	} else {
		t := corestore.Tree{Fork: p.Head.Fork, Length: p.Head.Length, Roots: p.Roots, Signature: p.Head.Signature}
		if err := corestore.VerifySignedTree(p.Core, m, t); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
		v.TreeHash = p.Head.TreeHash
	}
	if a := p.Attestation; a != nil {
		if err := corestore.VerifyAttestation(m, p.Core, nsMember, MemberStatement(a.Owner, a.Catalog, a.Grants), a.Signature); err != nil {
			return nil, fmt.Errorf("%w: the ownership attestation: %w", ErrBadProof, err)
		}
		if !a.Owner.valid() {
			return nil, fmt.Errorf("%w: the attested owner is not an Ed25519 key", ErrBadProof)
		}
		v.Owner = a
	}
	if c := p.Conflict; c != nil {
		if c.Fork != p.Head.Fork || c.Length != p.Head.Length || c.TreeHash == v.TreeHash {
			return nil, fmt.Errorf("%w: the second head is not a conflicting tree of the same length and fork", ErrBadProof)
		}
		if err := corestore.VerifySignedHead(p.Core, m, *c); err != nil {
			return nil, fmt.Errorf("%w: the second head: %w", ErrBadProof, err)
		}
		v.Conflict = c
	}
	if v.Block != nil && datom.IsTxBlock(v.Block) {
		tx, err := datom.DecodeTxAt(v.Block, v.Index)
		if err == nil {
			v.Tx = &tx
			for _, d := range tx.Datoms {
				if (p.Entity == "" || d.E == p.Entity) && (p.Attribute == "" || d.A == p.Attribute) {
					v.Datoms = append(v.Datoms, d)
				}
			}
		}
	}
	if p.Entity != "" && len(v.Datoms) == 0 {
		return nil, fmt.Errorf("%w: block %d holds no datom of entity %q%s", ErrBadProof, v.Index, p.Entity, map[bool]string{true: " attribute " + p.Attribute}[p.Attribute != ""])
	}
	return v, nil
}

// MakeProof returns the ownership proof of block index of core, about the datoms of entity (and
// attribute) in it when entity is set, with att when the caller has the core's attestation. A
// frozen core gives a fork proof: its own head and the conflicting one, without a block.
func MakeProof(ctx context.Context, c *corestore.Core, index uint64, entity, attribute string, att *Attestation, now time.Time) (*OwnershipProof, error) {
	m := c.Manifest()
	if m == nil {
		return nil, fmt.Errorf("%w: core %s: its manifest is not known here", ErrBadProof, c.Key())
	}
	p := &OwnershipProof{Core: c.Key(), Manifest: m.Encode(), Entity: entity, Attribute: attribute, Attestation: att, Made: now}
	if conflict, frozen := c.Conflict(); frozen {
		t := c.Tree()
		p.Head = corestore.SignedHead{Fork: t.Fork, Length: t.Length, TreeHash: t.Hash(), Signature: t.Signature}
		p.Roots, p.Conflict = t.Roots, &conflict
		p.Entity, p.Attribute = "", ""
		return p, nil
	}
	pr, err := c.ProveStandalone(ctx, index, index+1)
	if err != nil {
		return nil, err
	}
	u := pr.Upgrade
	p.Proof = pr
	p.Head = corestore.SignedHead{Fork: u.Fork, Length: u.Length, TreeHash: corestore.TreeHash(u.Roots), Signature: u.Signature}
	return p, nil
}
