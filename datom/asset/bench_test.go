package asset

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// BenchmarkDecide is the grant check of one session open at a replica: the core's assets, the
// peer's grants among 1,000 in the owner's grants core, revocation, expiry and freshness. The
// target is under 100 µs.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	clk := newClock()
	alice, r := newPeer(b, clk, 1), newPeer(b, clk, 2)
	data := dataCore(b, alice, "contacts", 10)
	if _, err := alice.owner.CreateAsset(ctx, AssetSpec{Name: "contacts", Members: []MemberSpec{{Core: data.Key()}}, Level: Granted}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if _, err := alice.owner.Grant(ctx, Grant{Grantee: NewSignerFromSeed([32]byte{byte(i), byte(i >> 8), 0xee}).Principal(), Asset: "contacts", Actions: ActRead}); err != nil {
			b.Fatal(err)
		}
	}
	bob := NewSignerFromSeed([32]byte{0xb0})
	if _, err := alice.owner.Grant(ctx, Grant{Grantee: bob.Principal(), Asset: "contacts", Actions: ActRead, Expires: clk.now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	cat, gr, _, _ := alice.owner.Cores(ctx)
	replicate(b, cat, r)
	replicate(b, gr, r)
	rc := replicate(b, data, r)
	if err := r.reg.Track(ctx, alice.owner.Ref(), rc.Key()); err != nil {
		b.Fatal(err)
	}
	req := Request{Core: rc, Remote: bob.Principal(), Purpose: Download}
	if d := r.reg.Decide(ctx, req); d.Err != nil {
		b.Fatal(d.Err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := r.reg.Decide(ctx, req); d.Err != nil {
			b.Fatal(d.Err)
		}
	}
}

// BenchmarkCheckProof1M is check-proof of a datom in a core of 1,048,576 blocks: decoding the
// file and verifying it from nothing (manifest, signature, Merkle path). The target is under
// 5 ms.
func BenchmarkCheckProof1M(b *testing.B) {
	ctx := context.Background()
	s, err := corestore.Open(ctx, b.TempDir(), corestore.WithLogger(quietLog()), corestore.WithDurability(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := s.Create(ctx, "big")
	if err != nil {
		b.Fatal(err)
	}
	const n = 1 << 20
	batch := make([][]byte, 0, 4096)
	for i := 0; i < n; i++ {
		blk, err := datom.EncodeTx(datom.Tx{Time: time.Unix(int64(i), 0), Datoms: []datom.Datom{datom.Add(fmt.Sprintf("e/%d", i), "a/v", datom.Int(int64(i)))}})
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, blk)
		if len(batch) == cap(batch) {
			if _, err := c.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	p, err := MakeProof(ctx, c, 777_777, "e/777777", "a/v", nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	file := p.Encode()
	b.ReportAllocs()
	for b.Loop() {
		pr, err := DecodeProof(file)
		if err != nil {
			b.Fatal(err)
		}
		v, err := pr.Verify()
		if err != nil || v.Length != n || len(v.Datoms) != 1 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(file)), "file-bytes")
}

// BenchmarkSealKey is one key release's sealing and opening.
func BenchmarkSealKey(b *testing.B) {
	bob := NewSignerFromSeed([32]byte{0xb0})
	bk := corestore.BlockKey{1}
	for b.Loop() {
		r, err := SealKey(corestore.Key{1}, bk, bob.Principal(), GrantID{2}, time.Unix(1, 0))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Open(bob, bk.Check()); err != nil {
			b.Fatal(err)
		}
	}
}
