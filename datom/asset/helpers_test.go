package asset

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// peerEnv is one peer's store and registry.
type peerEnv struct {
	store *corestore.Store
	reg   *Registry
	owner *Owner
	sign  *Signer
}

func newPeer(t testing.TB, clk *clock, seed byte) *peerEnv {
	t.Helper()
	ctx := context.Background()
	var pk [32]byte
	pk[0] = seed
	s, err := corestore.Open(ctx, t.TempDir(), corestore.WithLogger(quietLog()), corestore.WithPrimaryKey(pk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	reg, err := OpenRegistry(ctx, s, WithClock(clk.now), WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	var seedKey [32]byte
	seedKey[0], seedKey[1] = seed, 0x5a
	sg := NewSignerFromSeed(seedKey)
	return &peerEnv{store: s, reg: reg, sign: sg, owner: NewOwner(s, sg, reg)}
}

// dataCore creates a writable core with n datom transactions.
func dataCore(t testing.TB, p *peerEnv, name string, n int) *corestore.Core {
	t.Helper()
	ctx := context.Background()
	c, err := p.store.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		b, err := datom.EncodeTx(datom.Tx{Time: time.Unix(int64(i), 0), Datoms: []datom.Datom{
			datom.Add("person/"+string(rune('a'+i%26)), "person/name", datom.String("name")),
			datom.Add("person/"+string(rune('a'+i%26)), "person/email", datom.String("x@example.org")),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// replicate copies every block of src into dst's replica of it, as replication would, through
// proofs verified against the owner's signature.
func replicate(t testing.TB, src *corestore.Core, dst *peerEnv) *corestore.Core {
	t.Helper()
	ctx := context.Background()
	rc, err := dst.store.Replica(ctx, src.Key())
	if err != nil {
		t.Fatal(err)
	}
	in := rc.Info()
	if src.Length() <= in.Length && in.Fork == src.Info().Fork {
		return rc
	}
	p, err := src.Prove(ctx, corestore.ProofRequest{Start: 0, End: src.Length(), Upgrade: true, HaveFork: in.Fork, HaveLength: 0, NeedManifest: rc.Manifest() == nil})
	if err != nil {
		t.Fatal(err)
	}
	if in.Length > 0 {
		// Prove from the replica's length: blocks it lacks, upgrade from what it has.
		p, err = src.Prove(ctx, corestore.ProofRequest{Start: in.Length, End: src.Length(), Upgrade: true, HaveFork: in.Fork, HaveLength: in.Length})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rc.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
	return rc
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
