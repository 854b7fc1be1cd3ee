package blobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

func sumCID(codec uint64, data []byte) cid.Cid {
	h, _ := mh.Sum(data, mh.SHA2_256, -1)
	return cid.NewCidV1(codec, h)
}

// pbNode encodes a dag-pb node with UnixFS data fs and links to children.
func pbNode(t testing.TB, fs *ft.FSNode, links ...cid.Cid) []byte {
	t.Helper()
	data, err := fs.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	n := dag.NodeWithData(data)
	for _, l := range links {
		if err := n.AddRawLink("", &ipld.Link{Cid: l}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := n.EncodeProtobuf(true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileNode is a UnixFS file node with the given block sizes and filesize.
func fileNode(sizes []uint64, filesize uint64) *ft.FSNode {
	fs := ft.NewFSNode(ft.TFile)
	for _, s := range sizes {
		fs.AddBlockSize(s)
	}
	fs.UpdateFilesize(int64(filesize) - int64(fs.FileSize()))
	return fs
}

func TestDecode(t *testing.T) {
	lim := DefaultLimits()
	leaf := bytes.Repeat([]byte{7}, 100)
	leafCID := sumCID(cid.Raw, leaf)
	good := pbNode(t, fileNode([]uint64{100, 100}, 200), leafCID, leafCID)
	dir := pbNode(t, ft.NewFSNode(ft.TDirectory))
	sha512, _ := mh.Sum(leaf, mh.SHA2_512, -1)
	ident, _ := mh.Sum(leaf, mh.IDENTITY, -1)
	many := make([]cid.Cid, lim.MaxLinks+1)
	manySizes := make([]uint64, len(many))
	for i := range many {
		many[i], manySizes[i] = leafCID, 100
	}
	cbor := cid.NewCidV1(cid.DagCBOR, leafCID.Hash())
	for _, c := range []struct {
		name string
		cid  cid.Cid
		data []byte
		want error
	}{
		{"raw leaf", leafCID, leaf, nil},
		{"inner node", sumCID(cid.DagProtobuf, good), good, nil},
		{"raw leaf, wrong bytes", leafCID, append([]byte{8}, leaf[1:]...), ErrHashMismatch},
		{"inner node, wrong bytes", sumCID(cid.DagProtobuf, good), append(append([]byte{}, good...), 0), ErrHashMismatch},
		{"sha2-512", cid.NewCidV1(cid.Raw, sha512), leaf, ErrUnsupported},
		{"identity hash", cid.NewCidV1(cid.Raw, ident), leaf, ErrUnsupported},
		{"dag-cbor", cbor, leaf, ErrUnsupported},
		{"undefined CID", cid.Undef, leaf, ErrInvalidCID},
		{"not dag-pb", sumCID(cid.DagProtobuf, []byte("\xff\xff garbage")), []byte("\xff\xff garbage"), ErrMalformed},
		{"no UnixFS data", sumCID(cid.DagProtobuf, []byte{}), []byte{}, ErrMalformed},
		{"directory", sumCID(cid.DagProtobuf, dir), dir, ErrNotFile},
		{"sizes missing", sumCID(cid.DagProtobuf, pbNode(t, fileNode([]uint64{100}, 100), leafCID, leafCID)), pbNode(t, fileNode([]uint64{100}, 100), leafCID, leafCID), ErrMalformed},
		{"filesize wrong", sumCID(cid.DagProtobuf, pbNode(t, fileNode([]uint64{100, 100}, 201), leafCID, leafCID)), pbNode(t, fileNode([]uint64{100, 100}, 201), leafCID, leafCID), ErrSizeMismatch},
		{"sizes overflow", sumCID(cid.DagProtobuf, pbNode(t, fileNode([]uint64{1 << 63, 1 << 63}, 0), leafCID, leafCID)), pbNode(t, fileNode([]uint64{1 << 63, 1 << 63}, 0), leafCID, leafCID), ErrSizeMismatch},
		{"link to dag-cbor", sumCID(cid.DagProtobuf, pbNode(t, fileNode([]uint64{100}, 100), cbor)), pbNode(t, fileNode([]uint64{100}, 100), cbor), ErrUnsupported},
		{"too many links", sumCID(cid.DagProtobuf, pbNode(t, fileNode(manySizes, uint64(100*len(many))), many...)), pbNode(t, fileNode(manySizes, uint64(100*len(many))), many...), ErrTooManyLinks},
		{"block too large", sumCID(cid.Raw, make([]byte, lim.MaxBlockSize+1)), make([]byte, lim.MaxBlockSize+1), ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := Decode(c.cid, c.data, lim)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if n.CID != c.cid {
					t.Fatalf("node CID %s", n.CID)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode: %v, want %v", err, c.want)
			}
		})
	}
	n, err := Decode(sumCID(cid.DagProtobuf, good), good, lim)
	if err != nil || n.FileSize != 200 || len(n.Links) != 2 || n.Links[1] != (Link{leafCID, 100}) {
		t.Fatalf("inner node decoded as %+v, %v", n, err)
	}
}

func TestDecodeWant(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxDepth = 2
	lim.MaxSize = 150
	leaf := bytes.Repeat([]byte{7}, 100)
	leafCID := sumCID(cid.Raw, leaf)
	inner := pbNode(t, fileNode([]uint64{100, 100}, 200), leafCID, leafCID)
	innerCID := sumCID(cid.DagProtobuf, inner)
	for _, c := range []struct {
		name string
		w    Want
		data []byte
		want error
	}{
		{"leaf as parent said", Want{leafCID, 2, 100}, leaf, nil},
		{"leaf smaller than parent said", Want{leafCID, 1, 101}, leaf, ErrSizeMismatch},
		{"leaf below the depth limit", Want{leafCID, 3, 100}, leaf, ErrTooDeep},
		{"inner node at the depth limit", Want{innerCID, 2, 200}, inner, ErrTooDeep},
		{"inner node", Want{innerCID, 1, 200}, inner, nil},
		{"root over the size limit", Want{innerCID, 0, 0}, inner, ErrTooLarge},
		{"root within the size limit", Want{leafCID, 0, 0}, leaf, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeWant(c.w, c.data, lim)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("DecodeWant: %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseCID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", nil},
		{"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", nil},                         // a CIDv0
		{"bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua", ErrUnsupported}, // dag-cbor
		{"not a cid", ErrInvalidCID},
		{"", ErrInvalidCID},
	} {
		_, err := ParseCID(c.in)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("ParseCID(%q): %v, want %v", c.in, err, c.want)
		}
	}
}

// TestCorruptStoredBlock: a store whose block was altered on disk reports it when the blob is
// walked rather than returning wrong bytes as a node.
func TestCorruptStoredBlock(t *testing.T) {
	ctx := context.Background()
	s := newBadgerStore(t)
	ref, err := s.Add(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 3*ChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.Block(ctx, ref.CID)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, root...)
	bad[len(bad)-1] ^= 1
	if err := s.bs.DeleteBlock(ctx, ref.CID); err != nil {
		t.Fatal(err)
	}
	// Written behind the store's back, as a disk fault would.
	if err := s.meta.Put(ctx, blocksKey(ref.CID), bad); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, ref.CID); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Complete over a corrupt root: %v, want ErrHashMismatch", err)
	}
	if _, err := s.Open(ctx, ref.CID); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Open over a corrupt root: %v, want ErrHashMismatch", err)
	}
	if sha256.Sum256(bad) == sha256.Sum256(root) {
		t.Fatal("test did not corrupt the block")
	}
}

func blocksKey(c cid.Cid) ds.Key {
	return ds.NewKey("/blocks").Child(dshelp.MultihashToDsKey(c.Hash()))
}
