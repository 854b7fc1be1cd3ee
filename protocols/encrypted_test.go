package protocols

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// benchEncryptionKey is the encryption key of the encrypted cores in these tests and benchmarks.
var benchEncryptionKey = corestore.EncryptionKey{0x42, 0x17}

// makeEncryptedOwner is makeOwner for a core encrypted with benchEncryptionKey.
func makeEncryptedOwner(t testing.TB, n *node, name string, count, size int) *corestore.Core {
	t.Helper()
	ctx := context.Background()
	c, err := n.store.Create(ctx, name, corestore.WithEncryptionKey(benchEncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 0, 4096)
	for i := 0; i < count; i++ {
		batch = append(batch, blockData(i, size, name))
		if len(batch) == cap(batch) || i == count-1 {
			if _, err := c.Append(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return c
}

// TestEncryptedViaKeylessReplica: a replica without the key downloads an encrypted core over
// real hosts, verifies it and holds exactly the owner's stored bytes, and cannot read it; with the
// owner gone, it serves the core to a third peer, which reads the plaintext with the released
// block key. Then the owner truncates and appends at fork 1, and both follow the new fork.
func TestEncryptedViaKeylessReplica(t *testing.T) {
	owner, keyless, reader := newNode(t, ""), newNode(t, ""), newNode(t, "")
	const count, size = 2000, 300
	oc := makeEncryptedOwner(t, owner, "enc", count, size)
	ctx := tctx(t, 60*time.Second)
	kcv, _ := oc.KeyCheck()
	bk, _ := oc.BlockKey()

	connect(t, keyless.host, owner.host)
	kc, err := keyless.store.Replica(ctx, oc.Key(), corestore.WithEncrypted(kcv))
	if err != nil {
		t.Fatal(err)
	}
	replicateAndDownload(t, ctx, keyless, kc, owner, 0, 0)
	if err := kc.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	want, err := oc.GetRangeStored(ctx, 0, count)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kc.GetRangeStored(ctx, 0, count)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("keyless replica's block %d differs from the owner's stored bytes", i)
		}
		if bytes.Contains(got[i], blockData(i, size, "enc")[:16]) {
			t.Fatalf("keyless replica's block %d holds plaintext", i)
		}
	}
	if _, err := keyless.rep.Get(ctx, kc, 7); !errors.Is(err, corestore.ErrNoEncryptionKey) {
		t.Fatalf("keyless read: %v", err)
	}

	// The reader knows only the keyless replica.
	connect(t, reader.host, keyless.host)
	if len(reader.host.Network().ConnsToPeer(owner.host.ID())) != 0 {
		t.Fatal("reader is connected to the owner")
	}
	rc, err := reader.store.Replica(ctx, oc.Key(), corestore.WithEncrypted(kcv), corestore.WithBlockKey(bk))
	if err != nil {
		t.Fatal(err)
	}
	replicateAndDownload(t, ctx, reader, rc, keyless, 0, 0)
	checkBlocks(t, rc, "enc", size, 0, count)
	if b, err := reader.rep.Get(ctx, rc, 1999); err != nil || !bytes.Equal(b, blockData(1999, size, "enc")) {
		t.Fatalf("reader's Get: %v", err)
	}
	if in := rc.Info(); !in.EncryptionKeyHeld || in.ByteLength != uint64(count*size) || in.TreeHash != oc.Info().TreeHash {
		t.Fatalf("reader info %+v", in)
	}

	if len(reader.host.Network().ConnsToPeer(owner.host.ID())) != 0 {
		t.Fatal("reader is connected to the owner")
	}

	// A new fork, followed through the keyless replica.
	connect(t, keyless.host, owner.host)
	stopK := keyless.rep.Want(kc, 0, 0)
	defer stopK()
	stopR := reader.rep.Want(rc, 0, 0)
	defer stopR()
	if err := oc.Truncate(ctx, 1500); err != nil {
		t.Fatal(err)
	}
	var more [][]byte
	for i := 0; i < 100; i++ {
		more = append(more, blockData(i, size, "fork1"))
	}
	if _, err := oc.Append(ctx, more...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*corestore.Core{kc, rc} {
		deadline := time.Now().Add(30 * time.Second)
		for c.Info().Fork != 1 || c.Contiguous() != 1600 {
			if time.Now().After(deadline) {
				t.Fatalf("at fork %d length %d contiguous %d", c.Info().Fork, c.Length(), c.Contiguous())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	checkBlocks(t, rc, "enc", size, 0, 1500)
	tail, err := rc.GetRange(ctx, 1500, 1600)
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range tail {
		if !bytes.Equal(b, more[k]) {
			t.Fatalf("block %d after the fork differs", 1500+k)
		}
	}
	st, _ := rc.GetStored(ctx, 1550)
	if f, _ := corestore.BlockFork(bk, 1550, st); f != 1 {
		t.Fatalf("block 1550 padding names fork %d, want 1", f)
	}
	if err := rc.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
