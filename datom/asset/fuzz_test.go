package asset

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Every decoder of bytes from the network or a file is fuzzed: it returns a value or an error
// wrapping its sentinel, never panics, and what it accepts re-encodes to the same bytes.

func seedGrants() [][]byte {
	alice, bob, carol, _ := signers()
	root, _ := testGrant(alice, bob).Sign(alice)
	child, _ := Grant{Issuer: bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: root.Asset,
		Actions: ActRead, NotBefore: root.NotBefore, Expires: root.Expires, Volume: 1, MaxStale: time.Second, Parent: root.ID}.Sign(bob)
	return [][]byte{root.Encode(), child.Encode()}
}

func seedCredential() []byte {
	alice, bob, carol, _ := signers()
	root, _ := testGrant(alice, bob).Sign(alice)
	child, _ := Grant{Issuer: bob.Principal(), Grantee: carol.Principal(), Catalog: root.Catalog, Asset: root.Asset,
		Actions: ActRead, NotBefore: root.NotBefore, Expires: root.Expires, Volume: 1, MaxStale: time.Second, Parent: root.ID}.Sign(bob)
	b, _ := EncodeCredential([]Chain{{root, child}})
	return b
}

func seedHint() []byte {
	alice, _, _, _ := signers()
	h := &Hint{Owner: alice.Principal(), Catalog: corestore.Key{1}, Grants: corestore.Key{2},
		Assets: []HintAsset{{"contacts", Granted}, {"secrets", Encrypted}}, KeyCheck: corestore.BlockKey{3}.Check()}
	return h.Encode()
}

func seedRelease() []byte {
	_, bob, _, _ := signers()
	r, _ := SealKey(corestore.Key{7}, corestore.BlockKey{1}, bob.Principal(), GrantID{9}, time.Unix(1, 0))
	return r.Encode()
}

func FuzzDecodeSignedGrant(f *testing.F) {
	for _, s := range seedGrants() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeSignedGrant(b)
		if err != nil {
			return
		}
		if string(g.Encode()) != string(b) || grantID(g.Payload) != g.ID {
			t.Fatal("an accepted grant does not re-encode to its bytes")
		}
		_ = Chain{g}.Verify(g.Issuer)
	})
}

func FuzzDecodeCredential(f *testing.F) {
	f.Add(seedCredential())
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := DecodeCredential(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			_ = c.Verify(c[0].Issuer)
			_ = c.ValidAt(time.Now())
		}
	})
}

func FuzzDecodeHint(f *testing.F) {
	f.Add(seedHint())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHint(b)
		if err != nil {
			return
		}
		if _, err := DecodeHint(h.Encode()); err != nil {
			t.Fatalf("an accepted hint does not decode again: %v", err)
		}
	})
}

func FuzzDecodeKeyRequest(f *testing.F) {
	f.Add((&KeyRequest{Core: corestore.Key{1}, Credential: seedCredential()}).Encode())
	f.Add((&KeyRequest{Core: corestore.Key{1}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeKeyRequest(b)
		if err != nil {
			return
		}
		if string(r.Encode()) != string(b) {
			t.Fatal("an accepted key request does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeKeyRelease(f *testing.F) {
	f.Add(seedRelease())
	_, bob, _, _ := signers()
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeKeyRelease(b)
		if err != nil {
			return
		}
		_, _ = r.Open(bob, corestore.KeyCheck{})
	})
}

func FuzzDecodeQueryRequest(f *testing.F) {
	f.Add((&QueryRequest{Core: corestore.Key{1}, Query: `[:find ?n :where [?e :person/name ?n]]`}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeQueryRequest(b)
		if err != nil {
			return
		}
		if string(r.Encode()) != string(b) {
			t.Fatal("an accepted query request does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeQueryResult(f *testing.F) {
	f.Add([]byte(`{"columns":["?n","?t"],"rows":[["x",3],[{"time":"2024-01-02T03:04:05Z"},{"bytes":"AAE="}]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeQueryResult(b)
	})
}

func seedAsset() *Asset {
	return &Asset{Name: "contacts", Owner: NewSignerFromSeed([32]byte{1}).Principal(), Catalog: corestore.Key{1}, Grants: corestore.Key{2},
		Members: []Member{{Core: corestore.Key{3}, Attrs: []string{"a", "b"}, Prefix: "p/", Manifest: corestore.DefaultManifest(make([]byte, 32)).Encode(), Attestation: make([]byte, 64)}},
		Pins:    []Pin{{Core: corestore.Key{3}, Length: 9}}, Level: Granted, Schema: map[string]string{"a": "string"}, Time: time.Unix(5, 0)}
}

func FuzzDecodeAsset(f *testing.F) {
	f.Add(seedAsset().Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAsset(b)
		if err != nil {
			return
		}
		if string(a.Encode()) != string(b) {
			t.Fatal("an accepted asset does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeProof(f *testing.F) {
	_, _, file := ownedProof(f)
	f.Add(file)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		_, _ = p.Verify()
	})
}

// TestWriteSeeds writes the seed corpora under testdata/fuzz when DATOMSPACE_WRITE_SEEDS is set.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("DATOMSPACE_WRITE_SEEDS") == "" {
		t.Skip("set DATOMSPACE_WRITE_SEEDS=1 to rewrite the seed corpora")
	}
	_, _, proof := ownedProof(t)
	seeds := map[string][][]byte{
		"FuzzDecodeSignedGrant":  append(seedGrants(), []byte{0x82, 0x40, 0x40}),
		"FuzzDecodeCredential":   {seedCredential(), {0x82, 0x01, 0x80}},
		"FuzzDecodeHint":         {seedHint()},
		"FuzzDecodeKeyRequest":   {(&KeyRequest{Core: corestore.Key{1}, Credential: seedCredential()}).Encode()},
		"FuzzDecodeKeyRelease":   {seedRelease()},
		"FuzzDecodeQueryRequest": {(&QueryRequest{Core: corestore.Key{1}, Query: `[:find ?n :where [?e :person/name ?n]]`}).Encode()},
		"FuzzDecodeQueryResult":  {[]byte(`{"columns":["?n"],"rows":[["x"],[{"ref":"e/1"}]]}`), []byte(`{"columns":[],"rows":[]}`)},
		"FuzzDecodeProof":        {proof},
		"FuzzDecodeAsset":        {seedAsset().Encode()},
	}
	for name, ss := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
