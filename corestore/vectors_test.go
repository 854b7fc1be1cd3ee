package corestore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type vectorNode struct {
	Index uint64 `json:"index"`
	Size  uint64 `json:"size"`
	Hash  string `json:"hash"`
}

type vectorLength struct {
	Length    uint64       `json:"length"`
	Roots     []vectorNode `json:"roots"`
	TreeHash  string       `json:"treeHash"`
	Signable  string       `json:"signable"`
	Signature string       `json:"signature"`
}

type vector struct {
	Label                string            `json:"label"`
	PrimaryKey           string            `json:"primaryKey"`
	Name                 string            `json:"name"`
	Blocks               []string          `json:"blocks"`
	Namespaces           map[string]string `json:"namespaces"`
	PublicKey            string            `json:"publicKey"`
	SecretKeySeedDerived string            `json:"secretKeySeedDerived"`
	Manifest             string            `json:"manifest"`
	ManifestHash         string            `json:"manifestHash"`
	Key                  string            `json:"key"`
	DiscoveryKey         string            `json:"discoveryKey"`
	Leaves               []string          `json:"leaves"`
	Nodes                []vectorNode      `json:"nodes"`
	Lengths              []vectorLength    `json:"lengths"`
	SignatureContainer   string            `json:"signatureContainer"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/hypercore.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func eqHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s:\n got %x\nwant %s", what, got, want)
	}
}

func nodesFromVector(t testing.TB, vn []vectorNode) []Node {
	out := make([]Node, len(vn))
	for i, n := range vn {
		out[i] = Node{Index: n.Index, Size: n.Size, Hash: Hash(unhex(t, n.Hash))}
	}
	return out
}

// TestHypercoreVectors reproduces every field of the vectors that hypercore 11.37.1 and
// corestore 7.12.5 generated, by the pure functions and by a real Store.
func TestHypercoreVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Label, func(t *testing.T) {
			eqHex(t, "TREE", NamespaceTree[:], v.Namespaces["TREE"])
			eqHex(t, "DEFAULT_NAMESPACE", NamespaceDefault[:], v.Namespaces["DEFAULT_NAMESPACE"])
			eqHex(t, "MANIFEST", NamespaceManifest[:], v.Namespaces["MANIFEST"])
			eqHex(t, "CORESTORE_NS", NamespaceCorestore[:], v.Namespaces["CORESTORE_NS"])

			pk := [32]byte(unhex(t, v.PrimaryKey))
			seed := NamedSeed(pk, DefaultNamespace, v.Name)
			eqHex(t, "secretKeySeedDerived", seed[:], v.SecretKeySeedDerived)
			kp := KeyPairFromSeed(seed)
			eqHex(t, "publicKey", kp.PublicKey, v.PublicKey)
			m := DefaultManifest(kp.PublicKey)
			eqHex(t, "manifest", m.Encode(), v.Manifest)
			key := m.Key()
			eqHex(t, "manifestHash", key[:], v.ManifestHash)
			eqHex(t, "key", key[:], v.Key)
			dk := DiscoveryKey(key)
			eqHex(t, "discoveryKey", dk[:], v.DiscoveryKey)
			if dm, err := DecodeManifest(m.Encode()); err != nil || dm != m {
				t.Errorf("manifest round trip: %v %v", dm, err)
			}

			blocks := make([][]byte, len(v.Blocks))
			for i, b := range v.Blocks {
				blocks[i] = unhex(t, b)
				leaf := LeafNode(uint64(i), blocks[i])
				eqHex(t, "leaf", leaf.Hash[:], v.Leaves[i])
			}
			full, nodes := appendToTree(Tree{}, blocks)
			want := nodesFromVector(t, v.Nodes)
			got := map[uint64]Node{}
			for _, n := range nodes {
				got[n.Index] = n
			}
			if len(got) != len(want) {
				t.Errorf("tree has %d nodes, vectors %d", len(got), len(want))
			}
			for _, w := range want {
				if got[w.Index] != w {
					t.Errorf("node %d: got %+v want %+v", w.Index, got[w.Index], w)
				}
			}

			// Every length, built block by block.
			tree := Tree{}
			for i, l := range v.Lengths {
				tree, _ = appendToTree(tree, blocks[i:i+1])
				if tree.Length != l.Length {
					t.Fatalf("length %d, want %d", tree.Length, l.Length)
				}
				if wr := nodesFromVector(t, l.Roots); !equalRoots(tree.Roots, wr) {
					t.Errorf("length %d roots: got %+v want %+v", l.Length, tree.Roots, wr)
				}
				th := tree.Hash()
				eqHex(t, "treeHash", th[:], l.TreeHash)
				eqHex(t, "signable", tree.Signable(key), l.Signable)
				sig := sign(kp, key, tree)
				eqHex(t, "signature", sig, l.Signature)
			}
			if full.Hash() != tree.Hash() {
				t.Error("batch and one-by-one appends disagree")
			}
			last := v.Lengths[len(v.Lengths)-1]
			eqHex(t, "signatureContainer", SignatureContainer(unhex(t, last.Signature)), v.SignatureContainer)
			if raw, err := OpenSignatureContainer(unhex(t, v.SignatureContainer)); err != nil || !bytes.Equal(raw, unhex(t, last.Signature)) {
				t.Errorf("open container: %x %v", raw, err)
			}
		})
	}
}

func equalRoots(a, b []Node) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
