package corestore

import (
	gohash "hash"

	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"golang.org/x/crypto/blake2b"
	"runtime"
	"slices"
	"sync"
)

// Node is one node of a core's Merkle tree: its flat-tree index, the number of block bytes it
// covers, and its hash.
type Node struct {
	Index uint64
	Size  uint64
	Hash  Hash
}

// LeafNode returns the tree node of block i: H(0x00 || u64(len) || data).
func LeafNode(i uint64, data []byte) Node {
	var hdr [9]byte
	binary.LittleEndian.PutUint64(hdr[1:], uint64(len(data)))
	d := digests.Get().(gohash.Hash)
	d.Reset()
	d.Write(hdr[:])
	d.Write(data)
	n := Node{Index: 2 * i, Size: uint64(len(data))}
	d.Sum(n.Hash[:0])
	digests.Put(d)
	return n
}

// digests pools unkeyed BLAKE2b-256 states; leaf hashing is the hot path of appends and proofs.
var digests = sync.Pool{New: func() any { d, _ := blake2b.New256(nil); return d }}

// ParentNode returns the parent of a left and a right sibling:
// H(0x01 || u64(left.size + right.size) || left.hash || right.hash).
func ParentNode(left, right Node) Node {
	var buf [1 + 8 + 64]byte
	buf[0] = 1
	size := left.Size + right.Size
	binary.LittleEndian.PutUint64(buf[1:], size)
	copy(buf[9:], left.Hash[:])
	copy(buf[41:], right.Hash[:])
	return Node{Index: ftParent(left.Index), Size: size, Hash: hash(buf[:])}
}

// TreeHash returns the hash of a tree given its roots, left to right:
// H(0x02 || for each root: hash || u64(index) || u64(size)).
func TreeHash(roots []Node) Hash {
	buf := make([]byte, 1, 1+48*len(roots))
	buf[0] = 2
	for _, r := range roots {
		buf = append(buf, r.Hash[:]...)
		buf = binary.LittleEndian.AppendUint64(buf, r.Index)
		buf = binary.LittleEndian.AppendUint64(buf, r.Size)
	}
	return hash(buf)
}

// Tree is the signed state of a core at one length: everything a peer needs to check that a
// block belongs to it.
type Tree struct {
	Fork       uint64
	Length     uint64
	ByteLength uint64
	Roots      []Node
	Signature  []byte
}

// Hash returns the tree hash of t's roots.
func (t Tree) Hash() Hash { return TreeHash(t.Roots) }

// Signable returns the bytes the owner of coreKey signs for t.
func (t Tree) Signable(coreKey Key) []byte { return Signable(coreKey, t.Hash(), t.Length, t.Fork) }

// clone returns a deep copy of t.
func (t Tree) clone() Tree {
	t.Roots = slices.Clone(t.Roots)
	t.Signature = slices.Clone(t.Signature)
	return t
}

// parallelHashBytes is the batch size, in bytes, from which leaf hashes are computed on all
// CPUs: about 100 µs of hashing, far more than starting the goroutines costs.
const parallelHashBytes = 64 << 10

// leafNodes hashes blocks that start at block index start.
func leafNodes(start uint64, blocks [][]byte) []Node {
	out := make([]Node, len(blocks))
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	if total < parallelHashBytes || workers <= 1 {
		for i, b := range blocks {
			out[i] = LeafNode(start+uint64(i), b)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(blocks) + workers - 1) / workers
	for w := 0; w < len(blocks); w += chunk {
		hi := min(w+chunk, len(blocks))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = LeafNode(start+uint64(i), blocks[i])
			}
		}(w, hi)
	}
	wg.Wait()
	return out
}

// appendToTree returns the tree that results from appending blocks to t (unsigned, same fork),
// and every node the append creates, leaves and parents, in creation order.
func appendToTree(t Tree, blocks [][]byte) (Tree, []Node) {
	next := Tree{Fork: t.Fork, Length: t.Length, ByteLength: t.ByteLength}
	roots := slices.Clone(t.Roots)
	leaves := leafNodes(t.Length, blocks)
	nodes := make([]Node, 0, 2*len(blocks))
	for _, leaf := range leaves {
		nodes = append(nodes, leaf)
		roots = append(roots, leaf)
		for len(roots) > 1 {
			l, r := roots[len(roots)-2], roots[len(roots)-1]
			if ftDepth(l.Index) != ftDepth(r.Index) || ftSibling(l.Index) != r.Index {
				break
			}
			p := ParentNode(l, r)
			nodes = append(nodes, p)
			roots = append(roots[:len(roots)-2], p)
		}
		next.ByteLength += leaf.Size
	}
	next.Length += uint64(len(blocks))
	next.Roots = roots
	return next, nodes
}

// Upgrade proves a newer signed tree to a peer that trusts the tree of length From: the proof's
// helper nodes link the roots of From to Roots.
type Upgrade struct {
	// From is a length whose roots the verifier already holds as verified.
	From uint64
	// Fork, Length, Roots and Signature are the new signed tree.
	Fork      uint64
	Length    uint64
	Roots     []Node
	Signature []byte
	// Manifest is the core's encoded manifest, sent when the verifier does not yet know the signer.
	Manifest []byte
}

// Proof carries blocks and the nodes that prove them against a signed tree: the verifier's own
// tree, or the one in Upgrade.
type Proof struct {
	// Fork is the fork of the tree the blocks are proven against.
	Fork uint64
	// Start is the index of the first block in Blocks.
	Start uint64
	// Blocks is a contiguous run of blocks; it may be empty for an upgrade-only proof.
	Blocks [][]byte
	// Nodes are the helper nodes: siblings that the verifier cannot compute itself.
	Nodes []Node
	// Upgrade is set when the proof moves the verifier to a newer tree.
	Upgrade *Upgrade
}

// Errors that proof verification reports. Each marks the proof, and the peer that sent it, as bad,
// except ErrStale which only means the proof is not news.
var (
	ErrBadProof     = errors.New("invalid proof")
	ErrBadSignature = errors.New("invalid tree signature")
	ErrStale        = errors.New("proof is not newer than the local tree")
	ErrConflict     = errors.New("conflicting signed trees: the core is frozen")
)

// maxRoots bounds the roots of any tree: one per bit of a 64-bit length.
const maxRoots = 64

// nodeGetter reads a stored node. ok is false when the node is not stored.
type nodeGetter func(index uint64) (n Node, ok bool, err error)

// buildProof returns the proof of blocks [start, start+len(blocks)) against tree t, plus, when
// from >= 0, the upgrade from the verifier's length from to t. get reads the prover's nodes.
func buildProof(get nodeGetter, t Tree, start uint64, blocks [][]byte, from int64, manifest []byte) (*Proof, error) {
	end := start + uint64(len(blocks))
	if end > t.Length || end < start {
		return nil, fmt.Errorf("%w: blocks [%d, %d) beyond length %d", ErrBadProof, start, end, t.Length)
	}
	if from > int64(t.Length) {
		return nil, fmt.Errorf("%w: upgrade from %d beyond length %d", ErrBadProof, from, t.Length)
	}
	var seeds []uint64
	for i := start; i < end; i++ {
		seeds = append(seeds, 2*i)
	}
	if from > 0 {
		seeds = append(seeds, fullRoots(uint64(from))...)
	}
	helpers, err := walkToRoots(seeds, t.Roots, func(sib uint64) (Node, error) {
		n, ok, err := get(sib)
		if err != nil {
			return Node{}, err
		}
		if !ok {
			return Node{}, fmt.Errorf("%w: node %d is not stored here", ErrNotAvailable, sib)
		}
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	p := &Proof{Fork: t.Fork, Start: start, Blocks: blocks, Nodes: helpers}
	if from >= 0 {
		p.Upgrade = &Upgrade{From: uint64(from), Fork: t.Fork, Length: t.Length, Roots: slices.Clone(t.Roots),
			Signature: slices.Clone(t.Signature), Manifest: manifest}
	}
	return p, nil
}

// walkToRoots finds the sibling nodes that are needed, beyond the seeds, to hash every seed up to
// one of roots. need is called once per such sibling, in ascending depth order.
func walkToRoots(seeds []uint64, roots []Node, need func(index uint64) (Node, error)) ([]Node, error) {
	isRoot := make(map[uint64]bool, len(roots))
	var lastLeaf uint64
	for _, r := range roots {
		isRoot[r.Index] = true
		_, lastLeaf = ftSpan(r.Index)
	}
	var levels [64][]uint64
	if len(roots) == 0 && len(seeds) > 0 {
		return nil, fmt.Errorf("%w: nodes given for an empty tree", ErrBadProof)
	}
	for _, s := range seeds {
		levels[ftDepth(s)] = append(levels[ftDepth(s)], s)
	}
	var helpers []Node
	for d := 0; d < 64; d++ {
		level := levels[d]
		slices.Sort(level)
		level = slices.Compact(level)
		for _, n := range level {
			if isRoot[n] {
				continue
			}
			if _, last := ftSpan(n); last > lastLeaf {
				return nil, fmt.Errorf("%w: node %d lies beyond the tree", ErrBadProof, n)
			}
			sib := ftSibling(n)
			if _, found := slices.BinarySearch(level, sib); !found {
				h, err := need(sib)
				if err != nil {
					return nil, err
				}
				helpers = append(helpers, h)
			}
			if d == 63 {
				return nil, fmt.Errorf("%w: tree too deep", ErrBadProof)
			}
			levels[d+1] = append(levels[d+1], ftParent(n))
		}
	}
	return helpers, nil
}

// verified is what a proof establishes: the tree it was checked against (a new one when it
// carried an upgrade), the blocks, and every node on the hash paths, all now trusted.
type verified struct {
	tree     Tree
	upgraded bool
	from     uint64
	manifest *Manifest
	start    uint64
	blocks   [][]byte
	nodes    []Node
}

// verifyProof checks p against the verifier's state: key, the signer if known, the verifier's
// tree, and rootsAt, which returns the verifier's trusted roots of a length it has. It performs no
// I/O of its own and never trusts a byte that does not hash up to a validly signed tree.
func verifyProof(key Key, signer *Manifest, local Tree, rootsAt func(length uint64) ([]Node, error), p *Proof) (*verified, error) {
	return verifyProofLeaves(key, signer, local, rootsAt, p, nil)
}

// verifyProofLeaves is verifyProof with the leaf nodes of p's blocks already hashed, or nil to
// hash them here. Hashing depends on nothing but the blocks, so ApplyProof does it before it
// takes the core's lock, while an earlier proof is being stored.
func verifyProofLeaves(key Key, signer *Manifest, local Tree, rootsAt func(length uint64) ([]Node, error), p *Proof, leaves []Node) (*verified, error) {
	v := &verified{tree: local, manifest: signer, start: p.Start, blocks: p.Blocks}
	var seeds []Node
	if u := p.Upgrade; u != nil {
		if signer == nil {
			if u.Manifest == nil {
				return nil, fmt.Errorf("%w: first upgrade carries no manifest", ErrBadProof)
			}
			m, err := DecodeManifest(u.Manifest)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadProof, err)
			}
			if m.Key() != key {
				return nil, fmt.Errorf("%w: manifest does not hash to the core key", ErrBadProof)
			}
			v.manifest = &m
		}
		nt, err := checkSignedTree(key, v.manifest, u)
		if err != nil {
			return nil, err
		}
		switch {
		case u.Fork < local.Fork:
			return nil, fmt.Errorf("%w: fork %d is older than %d", ErrStale, u.Fork, local.Fork)
		case u.Fork == local.Fork && u.Length == local.Length:
			if nt.Hash() != local.Hash() {
				return nil, fmt.Errorf("%w: two signed trees of length %d at fork %d", ErrConflict, u.Length, u.Fork)
			}
			return nil, fmt.Errorf("%w: same tree", ErrStale)
		case u.Fork == local.Fork && u.Length < local.Length:
			return nil, fmt.Errorf("%w: length %d is shorter than %d", ErrStale, u.Length, local.Length)
		case u.Fork == local.Fork && u.From != local.Length:
			return nil, fmt.Errorf("%w: upgrade within fork %d must start at the verifier's length %d, not %d", ErrBadProof, u.Fork, local.Length, u.From)
		case u.From > local.Length || u.From > u.Length:
			return nil, fmt.Errorf("%w: upgrade from %d, but local length is %d", ErrBadProof, u.From, local.Length)
		}
		if u.From > 0 {
			var fromRoots []Node
			if u.From == local.Length {
				fromRoots = local.Roots
			} else if fromRoots, err = rootsAt(u.From); err != nil {
				return nil, err
			}
			seeds = append(seeds, fromRoots...)
		}
		v.tree, v.upgraded, v.from = nt, true, u.From
	} else if p.Fork != local.Fork {
		return nil, fmt.Errorf("%w: blocks proven at fork %d, local fork is %d", ErrBadProof, p.Fork, local.Fork)
	}
	if p.Upgrade != nil && p.Fork != v.tree.Fork {
		return nil, fmt.Errorf("%w: proof fork %d differs from upgrade fork %d", ErrBadProof, p.Fork, v.tree.Fork)
	}
	end := p.Start + uint64(len(p.Blocks))
	if end < p.Start || end > v.tree.Length {
		return nil, fmt.Errorf("%w: blocks [%d, %d) beyond length %d", ErrBadProof, p.Start, end, v.tree.Length)
	}
	if len(p.Blocks) == 0 && p.Upgrade == nil {
		return nil, fmt.Errorf("%w: proof carries neither blocks nor an upgrade", ErrBadProof)
	}
	if len(leaves) != len(p.Blocks) {
		leaves = leafNodes(p.Start, p.Blocks)
	}
	seeds = append(seeds, leaves...)
	nodes, err := hashToRoots(seeds, p.Nodes, v.tree.Roots)
	if err != nil {
		return nil, err
	}
	v.nodes = nodes
	return v, nil
}

// checkSignedTree validates the shape and signature of an upgrade's tree.
func checkSignedTree(key Key, signer *Manifest, u *Upgrade) (Tree, error) {
	want := fullRoots(u.Length)
	if len(u.Roots) != len(want) {
		return Tree{}, fmt.Errorf("%w: %d roots for length %d, want %d", ErrBadProof, len(u.Roots), u.Length, len(want))
	}
	var byteLength uint64
	for i, r := range u.Roots {
		if r.Index != want[i] {
			return Tree{}, fmt.Errorf("%w: root %d has index %d, want %d", ErrBadProof, i, r.Index, want[i])
		}
		if byteLength+r.Size < byteLength {
			return Tree{}, fmt.Errorf("%w: byte length overflows", ErrBadProof)
		}
		byteLength += r.Size
	}
	t := Tree{Fork: u.Fork, Length: u.Length, ByteLength: byteLength, Roots: slices.Clone(u.Roots), Signature: slices.Clone(u.Signature)}
	if len(u.Signature) != ed25519.SignatureSize || !ed25519.Verify(signer.PublicKey[:], t.Signable(key), u.Signature) {
		return Tree{}, fmt.Errorf("%w: length %d fork %d", ErrBadSignature, u.Length, u.Fork)
	}
	return t, nil
}

// hashToRoots hashes every seed up to one of roots, taking siblings first from what it computed and
// then from helpers, and checks that each path ends at a root with the same hash. Every helper must
// be used. It returns the seeds, the computed parents and the helpers, all of which are now
// proven to belong to the tree.
func hashToRoots(seeds []Node, helpers []Node, roots []Node) ([]Node, error) {
	if len(roots) == 0 {
		if len(seeds) == 0 && len(helpers) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: nodes given for an empty tree", ErrBadProof)
	}
	rootAt := make(map[uint64]Node, len(roots))
	_, lastLeaf := ftSpan(roots[len(roots)-1].Index)
	for _, r := range roots {
		rootAt[r.Index] = r
	}
	help := make(map[uint64]Node, len(helpers))
	for _, h := range helpers {
		if _, dup := help[h.Index]; dup {
			return nil, fmt.Errorf("%w: helper node %d given twice", ErrBadProof, h.Index)
		}
		help[h.Index] = h
	}
	var levels [64][]Node
	for _, s := range seeds {
		levels[ftDepth(s.Index)] = append(levels[ftDepth(s.Index)], s)
	}
	out := make([]Node, 0, 2*len(seeds)+len(helpers))
	used := 0
	for d := 0; d < 64; d++ {
		level := levels[d]
		if len(level) == 0 {
			continue
		}
		slices.SortFunc(level, func(a, b Node) int { return cmpIndex(a.Index, b.Index) })
		uniq := level[:1]
		for _, n := range level[1:] {
			last := uniq[len(uniq)-1]
			if n.Index != last.Index {
				uniq = append(uniq, n)
			} else if n != last {
				return nil, fmt.Errorf("%w: node %d has two different values", ErrBadProof, n.Index)
			}
		}
		level = uniq
		for i := 0; i < len(level); i++ {
			n := level[i]
			out = append(out, n)
			if r, ok := rootAt[n.Index]; ok {
				if r.Hash != n.Hash || r.Size != n.Size {
					return nil, fmt.Errorf("%w: node %d does not hash to the signed root", ErrBadProof, n.Index)
				}
				continue
			}
			if _, last := ftSpan(n.Index); last > lastLeaf {
				return nil, fmt.Errorf("%w: node %d lies beyond the tree", ErrBadProof, n.Index)
			}
			if d == 63 {
				return nil, fmt.Errorf("%w: tree too deep", ErrBadProof)
			}
			sibIdx := ftSibling(n.Index)
			var sib Node
			if i+1 < len(level) && level[i+1].Index == sibIdx {
				sib = level[i+1]
				i++
				out = append(out, sib)
			} else if h, ok := help[sibIdx]; ok {
				sib = h
				used++
				delete(help, sibIdx)
				out = append(out, h)
			} else {
				return nil, fmt.Errorf("%w: sibling %d of node %d is missing", ErrBadProof, sibIdx, n.Index)
			}
			left, right := n, sib
			if !ftIsLeft(n.Index) {
				left, right = sib, n
			}
			if left.Size+right.Size < left.Size {
				return nil, fmt.Errorf("%w: size overflows at node %d", ErrBadProof, ftParent(n.Index))
			}
			levels[d+1] = append(levels[d+1], ParentNode(left, right))
		}
	}
	if len(help) > 0 {
		return nil, fmt.Errorf("%w: %d helper nodes are not on any path", ErrBadProof, len(help))
	}
	return out, nil
}

func cmpIndex(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sign returns the owner's signature of tree t of core key.
func sign(kp KeyPair, key Key, t Tree) []byte { return ed25519.Sign(kp.SecretKey, t.Signable(key)) }
