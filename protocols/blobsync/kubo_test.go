package blobsync

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/corestore/blobs/kubotest"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// kuboInfo returns the address info of a running Kubo daemon.
func kuboInfo(t testing.TB, k *kubotest.Node) peer.AddrInfo {
	t.Helper()
	id, addrs := k.Identity()
	pid, err := peer.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	ai := peer.AddrInfo{ID: pid}
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			t.Fatal(err)
		}
		ai.Addrs = append(ai.Addrs, m)
	}
	return ai
}

// TestKuboInterop runs a real Kubo daemon on loopback: Kubo fetches (ipfs cat) a 50 MiB blob
// this node added and serves with bitswap, and this node fetches a 50 MiB file Kubo added.
func TestKuboInterop(t *testing.T) {
	bin := kubotest.Require(t)
	if testing.Short() {
		t.Skip("50 MiB each way")
	}
	ctx := testCtx(t)
	k := kubotest.NewRepo(t, bin)
	k.Start()
	n := newNode(t)

	// Kubo fetches from us.
	ours := data(50, 50<<20)
	ref := n.add(t, ours)
	k.MustRun("swarm", "connect", fmt.Sprintf("%s/p2p/%s", n.h.Addrs()[0], n.h.ID()))
	h := sha256.New()
	if err := k.RunTo(h, "cat", ref.CID.String()); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(ours); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatal("Kubo read different bytes from us")
	}

	// We fetch from Kubo.
	theirs := data(51, 50<<20)
	out, err := k.Run(bytes.NewReader(theirs), "add", "--cid-version=1", "-Q", "--pin=true")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := blobs.ParseCID(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := blobs.CIDOf(ctx, bytes.NewReader(theirs)); want.CID != kc {
		t.Fatalf("Kubo added %s, CIDOf says %s", kc, want.CID)
	}
	got, err := n.svc.Fetch(ctx, kc, WithPeers(kuboInfo(t, k)))
	if err != nil {
		t.Fatal(err)
	}
	sameBlob(t, n, got, theirs)
}
