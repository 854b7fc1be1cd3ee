package discovery

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

// TestFindBlobThroughDHT: a peer that knows only the bootstrap peer finds the holder of a blob
// by its root CID, given as a CIDv1 or as the CIDv0 of the same DAG.
func TestFindBlobThroughDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hosts, dhts := network(t, 6)
	h, _ := multihash.Sum([]byte("blob root"), multihash.SHA2_256, -1)
	root := cid.NewCidV1(cid.DagProtobuf, h)
	holder, reader := 2, 5
	if err := dhts[holder].AnnounceBlob(ctx, root); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{root, cid.NewCidV0(h)} {
		var found []peer.ID
		for p := range dhts[reader].FindBlobProviders(ctx, c, 5) {
			found = append(found, p.ID)
		}
		if !slices.Contains(found, hosts[holder].ID()) {
			t.Fatalf("looking up %s found %v, not the holder %s", c, found, hosts[holder].ID())
		}
	}
	if last, ok := dhts[holder].AnnouncedBlobs()[root]; !ok || last.IsZero() {
		t.Fatal("blob announce not recorded")
	}
	dhts[holder].UnannounceBlob(cid.NewCidV0(h))
	if len(dhts[holder].AnnouncedBlobs()) != 0 {
		t.Fatal("UnannounceBlob of the CIDv0 left the announce")
	}
	// A blob nobody announced finds nobody.
	other, _ := multihash.Sum([]byte("other"), multihash.SHA2_256, -1)
	nctx, ncancel := context.WithTimeout(ctx, 3*time.Second)
	defer ncancel()
	for p := range dhts[reader].FindBlobProviders(nctx, cid.NewCidV1(cid.Raw, other), 5) {
		t.Fatalf("found %s for an unannounced blob", p.ID)
	}
}
