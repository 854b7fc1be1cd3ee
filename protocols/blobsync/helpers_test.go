package blobsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/corestore/blobs/blobstest"
	"github.com/datomspace/datomspace/protocols"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// node is a test peer: a loopback libp2p host, a blob store as a peer keeps it (metadata in
// corestore's Badger, blocks in a block directory) and, unless raw, the exchange.
type node struct {
	h     host.Host
	store *blobs.Store
	svc   *Service
}

func newStore(t testing.TB, dir string) *blobs.Store {
	t.Helper()
	cs, err := corestore.Open(context.Background(), filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	d, err := cs.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := blobs.OpenBlockDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bd.Close() })
	s, err := blobs.New(d, blobs.WithBlockDatastore(bd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := protocols.NewHost(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// newNode returns a peer with the exchange running.
func newNode(t testing.TB, opts ...Option) *node {
	t.Helper()
	n := &node{h: newHost(t), store: newStore(t, t.TempDir())}
	svc, err := New(n.h, n.store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	n.svc = svc
	return n
}

// rawNode returns a peer with a store and a host but no exchange: tests install hostile
// handlers on it.
func rawNode(t testing.TB) *node {
	t.Helper()
	return &node{h: newHost(t), store: newStore(t, t.TempDir())}
}

func (n *node) info() peer.AddrInfo { return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()} }

func (n *node) add(t testing.TB, data []byte) blobs.Ref {
	t.Helper()
	ref, err := n.store.Add(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func data(seed uint64, n int) []byte { return blobstest.Data(seed, n) }

// sameBlob checks that n holds the blob ref complete with exactly want's bytes.
func sameBlob(t testing.TB, n *node, ref blobs.Ref, want []byte) {
	t.Helper()
	ok, err := n.store.Complete(context.Background(), ref.CID)
	if err != nil || !ok {
		t.Fatalf("blob %s not complete: %v", ref.CID, err)
	}
	r, err := n.store.Open(context.Background(), ref.CID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatal("fetched blob has different bytes")
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// lyingRoot stores in n a root that says its leaf holds 150 bytes when it holds 100, and
// returns its CID.
func lyingRoot(t testing.TB, n *node) cid.Cid {
	t.Helper()
	ctx := context.Background()
	leaf := data(99, 100)
	lh, _ := mh.Sum(leaf, mh.SHA2_256, -1)
	leafCID := cid.NewCidV1(cid.Raw, lh)
	fs := ft.NewFSNode(ft.TFile)
	fs.AddBlockSize(150)
	fsb, err := fs.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	pn := dag.NodeWithData(fsb)
	if err := pn.AddRawLink("", &ipld.Link{Cid: leafCID}); err != nil {
		t.Fatal(err)
	}
	pn.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256})
	l := n.store.NewLease()
	defer l.Release()
	if err := l.Put(ctx, leafCID, leaf); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, pn.Cid(), pn.RawData()); err != nil {
		t.Fatal(err)
	}
	if err := n.store.Pin(ctx, pn.Cid()); err != nil {
		t.Fatal(err)
	}
	return pn.Cid()
}

// seededReader is the deterministic byte stream of seed.
func seededReader(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}
