package peer

import (
	"testing"

	"github.com/datomspace/datomspace/datom"
)

// FuzzRepoMarker: block 0 of a replica comes from other peers; reading it as a repository
// marker never panics, and a prefix it finds is the value of a marker datom in the block.
func FuzzRepoMarker(f *testing.F) {
	marker, err := datom.EncodeTx(datom.Tx{Datoms: []datom.Datom{datom.Add(doipRepoEntity, attrRepoPrefix, datom.String("20.500.123"))}})
	if err != nil {
		f.Fatal(err)
	}
	other, _ := datom.EncodeTx(datom.Tx{Datoms: []datom.Datom{datom.Add("contact/1", "contact/name", datom.String("Alice"))}})
	for _, seed := range [][]byte{marker, other, nil, []byte("raw block"), marker[:len(marker)/2]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := repoMarker(b)
		if !ok {
			return
		}
		tx, err := datom.DecodeTx(b)
		if err != nil {
			t.Fatalf("a marker in a block that does not decode: %v", err)
		}
		for _, d := range tx.Datoms {
			if d.E == doipRepoEntity && d.A == attrRepoPrefix && d.Added && d.V.Str == p {
				return
			}
		}
		t.Fatalf("prefix %q is in no marker datom", p)
	})
}
