package corestore

import "math/bits"

// Flat-tree arithmetic. Block i is node 2i; a parent sits between its children, so node n at
// depth d has offset n>>(d+1) and spans leaves [offset*2^d, (offset+1)*2^d).

// ftDepth returns the depth of node n (leaves are depth 0).
func ftDepth(n uint64) uint { return uint(bits.TrailingZeros64(^n)) }

// ftOffset returns the position of node n among the nodes of its depth.
func ftOffset(n uint64) uint64 { return n >> (ftDepth(n) + 1) }

// ftIndex returns the node at depth d and offset o.
func ftIndex(d uint, o uint64) uint64 { return (o<<1|1)<<d - 1 }

// ftParent returns the parent of node n.
func ftParent(n uint64) uint64 {
	d := ftDepth(n)
	return ftIndex(d+1, ftOffset(n)>>1)
}

// ftSibling returns the other child of n's parent.
func ftSibling(n uint64) uint64 {
	d := ftDepth(n)
	return ftIndex(d, ftOffset(n)^1)
}

// ftChildren returns the children of a non-leaf node n.
func ftChildren(n uint64) (left, right uint64) {
	d := ftDepth(n)
	o := ftOffset(n) * 2
	return ftIndex(d-1, o), ftIndex(d-1, o+1)
}

// ftSpan returns the first and last leaf node index (both even) that n covers.
func ftSpan(n uint64) (first, last uint64) {
	d := ftDepth(n)
	w := uint64(1) << d
	first = ftOffset(n) * w * 2
	return first, first + (w-1)*2
}

// ftLeafCount returns how many blocks node n covers.
func ftLeafCount(n uint64) uint64 { return uint64(1) << ftDepth(n) }

// ftIsLeft reports whether n is the left child of its parent.
func ftIsLeft(n uint64) bool { return ftOffset(n)&1 == 0 }

// fullRoots returns the roots of a tree of the given length (in blocks), left to right: the
// flat-tree full roots of node index 2*length.
func fullRoots(length uint64) []uint64 {
	var roots []uint64
	var offset uint64
	for length > 0 {
		w := uint64(1) << (63 - bits.LeadingZeros64(length)) // largest power of two <= length
		roots = append(roots, offset*2+w-1)
		offset += w
		length -= w
	}
	return roots
}
