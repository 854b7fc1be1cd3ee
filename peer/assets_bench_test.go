package peer

import (
	"context"
	"testing"
)

// BenchmarkAuthorize is what a session open costs the owner's node for a granted asset: the
// ruling (asset.Registry.Decide) and the hint it sends. The target is under 100 µs.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	alice := newBenchNode(b)
	bob := newBenchNode(b)
	c, err := alice.Repo.Store.Create(ctx, "contacts")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Append(ctx, []byte("x")); err != nil {
		b.Fatal(err)
	}
	l := daemonLocal(alice)
	if _, err := Call(ctx, l, OpAssetCreate, AssetCreateRequest{Name: "contacts", Core: "contacts", Level: "granted"}); err != nil {
		b.Fatal(err)
	}
	if _, err := Call(ctx, l, OpGrant, GrantRequest{Asset: "contacts", Grantee: bob.ID().String()}); err != nil {
		b.Fatal(err)
	}
	if _, ref := alice.assets.Authorize(ctx, c, bob.ID(), nil); ref != nil {
		b.Fatal(ref)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := alice.assets.Authorize(ctx, c, bob.ID(), nil); ref != nil {
			b.Fatal(ref)
		}
	}
}

func newBenchNode(b *testing.B) *Node {
	b.Helper()
	ctx := context.Background()
	r, err := InitRepo(ctx, b.TempDir(), WithRepoLogger(quietLog()))
	if err != nil {
		b.Fatal(err)
	}
	n, err := NewNode(ctx, r, WithNodeLogger(quietLog()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}
