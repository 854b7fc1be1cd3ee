package blobs

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/bits"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Node is a decoded, checked block of a blob's DAG.
type Node struct {
	// CID is the block's CID.
	CID cid.Cid
	// FileSize is the number of file bytes this node and its descendants hold.
	FileSize uint64
	// Data is the file bytes held in this node itself: all of a raw leaf, the UnixFS data of a
	// dag-pb node (empty in the inner nodes an import writes). It aliases the block.
	Data []byte
	// Links are the node's children in file order.
	Links []Link

	block   []byte // the whole block, checked against CID
	decoded bool   // set by Decode only
}

// Link is one child of a node.
type Link struct {
	// CID is the child's CID.
	CID cid.Cid
	// Size is the number of file bytes under the child, as the parent records it (UnixFS
	// blocksizes).
	Size uint64
}

// Want is a block a fetcher needs: its CID, its depth below the blob's root (0 for the root) and
// the file bytes its parent says it holds (0 for the root, whose size nothing vouches for).
type Want struct {
	CID   cid.Cid
	Depth int
	Size  uint64
}

// Wants returns the wants for n's children, given n's own depth.
func (n Node) Wants(depth int) []Want {
	out := make([]Want, len(n.Links))
	for i, l := range n.Links {
		out[i] = Want{CID: l.CID, Depth: depth + 1, Size: l.Size}
	}
	return out
}

// ParseCID parses s as a CID a blob may have.
func ParseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w %q: %w", ErrInvalidCID, s, err)
	}
	if err := CheckCID(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// CheckCID reports whether c is a CID a blob's block may have: CIDv0 or CIDv1, codec dag-pb or
// raw, hash sha2-256 with its full 32-byte digest.
func CheckCID(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: empty CID", ErrInvalidCID)
	}
	p := c.Prefix()
	if p.Version != 0 && p.Version != 1 {
		return fmt.Errorf("%w %s: CID version %d", ErrUnsupported, c, p.Version)
	}
	if p.Codec != cid.DagProtobuf && p.Codec != cid.Raw {
		return fmt.Errorf("%w %s: codec %#x (want dag-pb or raw)", ErrUnsupported, c, p.Codec)
	}
	if p.MhType != mh.SHA2_256 || p.MhLength != sha256.Size {
		return fmt.Errorf("%w %s: hash %#x of %d bytes (want sha2-256)", ErrUnsupported, c, p.MhType, p.MhLength)
	}
	return nil
}

// Verify checks that c is a supported CID and that data hashes to it.
func Verify(c cid.Cid, data []byte) error {
	if err := CheckCID(c); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	// The digest is the last 32 bytes of the multihash (CheckCID fixed its type and length).
	h := c.Hash()
	if !bytes.Equal(h[len(h)-sha256.Size:], sum[:]) {
		return fmt.Errorf("%w: %s", ErrHashMismatch, c)
	}
	return nil
}

// Decode checks an untrusted block against its CID and lim, and decodes it: a raw leaf, or a
// dag-pb node holding a UnixFS file or raw node whose sizes add up and whose links are supported
// CIDs. It never panics on any input.
func Decode(c cid.Cid, data []byte, lim Limits) (Node, error) {
	if len(data) > lim.MaxBlockSize {
		return Node{}, fmt.Errorf("%w: block %s has %d bytes, over the limit of %d", ErrTooLarge, c, len(data), lim.MaxBlockSize)
	}
	if err := Verify(c, data); err != nil {
		return Node{}, err
	}
	if c.Type() == cid.Raw {
		return Node{CID: c, FileSize: uint64(len(data)), Data: data, block: data, decoded: true}, nil
	}
	pn, err := dag.DecodeProtobuf(data)
	if err != nil {
		return Node{}, fmt.Errorf("%w: %s is not dag-pb: %w", ErrMalformed, c, err)
	}
	links := pn.Links()
	if len(links) > lim.MaxLinks {
		return Node{}, fmt.Errorf("%w: %s has %d links, over the limit of %d", ErrTooManyLinks, c, len(links), lim.MaxLinks)
	}
	fs, err := ft.FSNodeFromBytes(pn.Data())
	if err != nil {
		return Node{}, fmt.Errorf("%w: %s has no UnixFS data: %w", ErrMalformed, c, err)
	}
	switch fs.Type() {
	case ft.TFile, ft.TRaw:
	default:
		return Node{}, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotFile, c, fs.Type())
	}
	sizes := fs.BlockSizes()
	if len(sizes) != len(links) {
		return Node{}, fmt.Errorf("%w: %s has %d links but %d block sizes", ErrMalformed, c, len(links), len(sizes))
	}
	n := Node{CID: c, Data: fs.Data(), Links: make([]Link, len(links)), block: data, decoded: true}
	total := uint64(len(n.Data))
	for i, l := range links {
		if err := CheckCID(l.Cid); err != nil {
			return Node{}, fmt.Errorf("%w: link %d of %s: %w", ErrMalformed, i, c, err)
		}
		var carry uint64
		if total, carry = bits.Add64(total, sizes[i], 0); carry != 0 {
			return Node{}, fmt.Errorf("%w: %s: block sizes overflow", ErrSizeMismatch, c)
		}
		n.Links[i] = Link{CID: l.Cid, Size: sizes[i]}
	}
	if fs.FileSize() != total {
		return Node{}, fmt.Errorf("%w: %s says it holds %d bytes, its parts hold %d", ErrSizeMismatch, c, fs.FileSize(), total)
	}
	n.FileSize = total
	return n, nil
}

// DecodeWant decodes a block a fetcher asked for as w: Decode, and the checks that need the
// block's place in the DAG: its depth, its size as its parent gave it, and for the root the
// maximum blob size.
func DecodeWant(w Want, data []byte, lim Limits) (Node, error) {
	if w.Depth > lim.MaxDepth {
		return Node{}, fmt.Errorf("%w: %s is at depth %d, over the limit of %d", ErrTooDeep, w.CID, w.Depth, lim.MaxDepth)
	}
	n, err := Decode(w.CID, data, lim)
	if err != nil {
		return Node{}, err
	}
	if w.Depth == 0 && n.FileSize > lim.MaxSize {
		return Node{}, fmt.Errorf("%w: %s holds %d bytes, over the limit of %d", ErrTooLarge, w.CID, n.FileSize, lim.MaxSize)
	}
	if w.Depth > 0 && n.FileSize != w.Size {
		return Node{}, fmt.Errorf("%w: %s holds %d bytes, its parent says %d", ErrSizeMismatch, w.CID, n.FileSize, w.Size)
	}
	if len(n.Links) > 0 && w.Depth == lim.MaxDepth {
		return Node{}, fmt.Errorf("%w: %s at depth %d has children", ErrTooDeep, w.CID, w.Depth)
	}
	return n, nil
}
