package asset_test

import (
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom/asset"
)

// An owner grants Bob read on an asset; Bob delegates a narrower grant to Carol; the chain
// verifies against the owner, and a broader delegation does not.
func ExampleChain_Verify() {
	owner := asset.NewSignerFromSeed([32]byte{1})
	bob := asset.NewSignerFromSeed([32]byte{2})
	carol := asset.NewSignerFromSeed([32]byte{3})
	catalog := corestore.Key{9}
	root, _ := asset.Grant{Grantee: bob.Principal(), Catalog: catalog, Asset: "contacts",
		Actions: asset.ActRead | asset.ActGrant, MaxStale: time.Minute}.Sign(owner)
	narrow, _ := asset.Grant{Grantee: carol.Principal(), Catalog: catalog, Asset: "contacts",
		Actions: asset.ActRead, MaxStale: time.Minute, Parent: root.ID}.Sign(bob)
	broad, _ := asset.Grant{Grantee: carol.Principal(), Catalog: catalog, Asset: "contacts",
		Actions: asset.ActRead | asset.ActQuery, MaxStale: time.Minute, Parent: root.ID}.Sign(bob)
	fmt.Println(asset.Chain{root, narrow}.Verify(owner.Principal()) == nil)
	fmt.Println(asset.Chain{root, broad}.Verify(owner.Principal()) != nil)
	// Output:
	// true
	// true
}

// A block key is sealed to a grantee, who alone opens it, and checks it against its key check
// value.
func ExampleSealKey() {
	bob := asset.NewSignerFromSeed([32]byte{2})
	bk := corestore.BlockKey{7}
	rel, _ := asset.SealKey(corestore.Key{1}, bk, bob.Principal(), asset.GrantID{}, time.Unix(0, 0))
	got, err := rel.Open(bob, bk.Check())
	fmt.Println(got == bk, err)
	// Output: true <nil>
}
