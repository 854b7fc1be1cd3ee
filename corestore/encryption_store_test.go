package corestore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// encryptedOwner returns a new writable core encrypted with a fixed key, holding blocks.
func encryptedOwner(t *testing.T, blocks [][]byte) (*Core, EncryptionKey) {
	t.Helper()
	ek := EncryptionKey{9, 8, 7}
	c, err := openStore(t, t.TempDir()).Create(context.Background(), "secret", WithEncryptionKey(ek))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) > 0 {
		if _, err := c.Append(context.Background(), blocks...); err != nil {
			t.Fatal(err)
		}
	}
	return c, ek
}

func sameBlocks(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d blocks, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: block %d is %x, want %x", what, i, got[i], want[i])
		}
	}
}

// TestKeylessReplica replicates an encrypted core, through Prove and ApplyProof, to a store that
// has no key: it verifies and holds exactly the owner's stored bytes, reads fail with
// ErrNoEncryptionKey once it knows the core is encrypted, and it serves the ciphertext on to a
// third store, which decrypts it once given the released block key. Both keep what they were
// told across a restart.
func TestKeylessReplica(t *testing.T) {
	ctx := context.Background()
	plain := blocksN(300, "secret")
	owner, _ := encryptedOwner(t, plain)
	ownerStored, err := owner.GetRangeStored(ctx, 0, owner.Length())
	if err != nil {
		t.Fatal(err)
	}
	bk, _ := owner.BlockKey()
	kcv, _ := owner.KeyCheck()

	dir := t.TempDir()
	rs := openStore(t, dir)
	rep, err := rs.Replica(ctx, owner.Key(), WithEncrypted(kcv))
	if err != nil {
		t.Fatal(err)
	}
	syncReplica(t, owner, rep, 0, 300)
	if rep.Tree().Hash() != owner.Tree().Hash() || rep.Contiguous() != 300 {
		t.Fatalf("replica at %d blocks, tree %s", rep.Contiguous(), rep.Tree().Hash())
	}
	if err := rep.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := rep.GetRangeStored(ctx, 0, 300)
	if err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, "replica's stored bytes", stored, ownerStored)
	for i := range plain {
		if bytes.Contains(stored[i], plain[i]) {
			t.Fatalf("replica's block %d contains its plaintext", i)
		}
	}
	if _, err := rep.Get(ctx, 5); !errors.Is(err, ErrNoEncryptionKey) {
		t.Fatalf("keyless Get: %v", err)
	}
	if _, err := rep.GetRange(ctx, 0, 2); !errors.Is(err, ErrNoEncryptionKey) {
		t.Fatalf("keyless GetRange: %v", err)
	}
	in := rep.Info()
	if !in.Encrypted || in.EncryptionKeyHeld || in.KeyCheck != kcv || in.ByteLength != owner.Info().ByteLength {
		t.Fatalf("keyless replica info %+v", in)
	}

	// A third store replicates from the keyless replica, and reads once given the block key.
	third := openStore(t, t.TempDir())
	tc, err := third.Replica(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	syncReplica(t, rep, tc, 0, 300)
	got, err := tc.GetRangeStored(ctx, 0, 300)
	if err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, "third store's stored bytes", got, ownerStored)
	if err := tc.SetBlockKey(ctx, bk); err != nil {
		t.Fatal(err)
	}
	got, err = tc.GetRange(ctx, 0, 300)
	if err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, "third store's plaintext", got, plain)

	// The keyless replica is given the encryption key later.
	if err := rep.SetEncryptionKey(ctx, EncryptionKey{1}); !errors.Is(err, ErrWrongEncryptionKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := rep.Get(ctx, 0); !errors.Is(err, ErrNoEncryptionKey) {
		t.Fatalf("a refused key was kept: %v", err)
	}
	ek, _ := owner.EncryptionKey()
	if err := rep.SetEncryptionKey(ctx, ek); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	rs = openStore(t, dir)
	rep, err = rs.Get(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	got, err = rep.GetRange(ctx, 0, 300)
	if err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, "replica's plaintext after a restart", got, plain)
	if k, ok := rep.EncryptionKey(); !ok || k != ek {
		t.Fatal("replica lost its encryption key")
	}
}

// TestWrongKeyCaught checks each way a wrong key is caught: by the key check value, by the key
// already held, by the padding of a held block, and, for a replica given a key before it held
// any block, when a block is read.
func TestWrongKeyCaught(t *testing.T) {
	ctx := context.Background()
	owner, ek := encryptedOwner(t, blocksN(10, "w"))
	bk, _ := owner.BlockKey()
	wrong := EncryptionKey{0xee}
	wrongBlock := DeriveBlockKey(owner.Key(), wrong)
	if !bk.Check().Matches(bk) || bk.Check().Matches(wrongBlock) {
		t.Fatal("key check value does not tell the keys apart")
	}

	t.Run("key check", func(t *testing.T) {
		rep, err := openStore(t, t.TempDir()).Replica(ctx, owner.Key(), WithEncrypted(bk.Check()))
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.SetBlockKey(ctx, wrongBlock); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("got %v", err)
		}
		if err := rep.SetEncryptionKey(ctx, ek); err != nil {
			t.Fatal(err)
		}
		if err := rep.MarkEncrypted(ctx, wrongBlock.Check()); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("conflicting key check value: %v", err)
		}
	})
	t.Run("replica option", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		if _, err := s.Replica(ctx, owner.Key(), WithEncrypted(bk.Check()), WithEncryptionKey(wrong)); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("key held", func(t *testing.T) {
		if err := owner.SetEncryptionKey(ctx, wrong); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("got %v", err)
		}
		if err := owner.SetEncryptionKey(ctx, ek); err != nil {
			t.Fatalf("setting the key held: %v", err)
		}
	})
	t.Run("held block", func(t *testing.T) {
		rep, err := openStore(t, t.TempDir()).Replica(ctx, owner.Key())
		if err != nil {
			t.Fatal(err)
		}
		syncReplica(t, owner, rep, 4, 6)
		if err := rep.SetEncryptionKey(ctx, wrong); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("got %v", err)
		}
		if rep.Encrypted() {
			t.Fatal("a refused key marked the core")
		}
		if err := rep.SetEncryptionKey(ctx, ek); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("read", func(t *testing.T) {
		rep, err := openStore(t, t.TempDir()).Replica(ctx, owner.Key(), WithEncryptionKey(wrong))
		if err != nil {
			t.Fatal(err)
		}
		syncReplica(t, owner, rep, 0, 10)
		if _, err := rep.Get(ctx, 3); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("read with a wrong key: %v", err)
		}
	})
	t.Run("plain core", func(t *testing.T) {
		plainOwner, err := openStore(t, t.TempDir()).Create(ctx, "plain")
		if err != nil {
			t.Fatal(err)
		}
		plainOwner.Append(ctx, []byte("a plain block of some length"), []byte("x"))
		rep, err := openStore(t, t.TempDir()).Replica(ctx, plainOwner.Key())
		if err != nil {
			t.Fatal(err)
		}
		syncReplica(t, plainOwner, rep, 0, 2)
		if err := rep.SetEncryptionKey(ctx, ek); !errors.Is(err, ErrWrongEncryptionKey) {
			t.Fatalf("a key for a plain core: %v", err)
		}
	})
}

// TestCreateEncryptedOptions checks how Create treats encryption options on new and existing
// cores.
func TestCreateEncryptedOptions(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	k1, k2 := EncryptionKey{1}, EncryptionKey{2}
	if _, err := s.Create(ctx, "zero", WithEncryptionKey(EncryptionKey{})); !errors.Is(err, ErrBadEncryptionKey) {
		t.Fatalf("zero key: %v", err)
	}
	if _, err := s.Create(ctx, "nokey", WithEncrypted(KeyCheck{})); !errors.Is(err, ErrNoEncryptionKey) {
		t.Fatalf("writable core marked without a key: %v", err)
	}
	c, err := s.Create(ctx, "enc", WithEncryptionKey(k1))
	if err != nil {
		t.Fatal(err)
	}
	c.Append(ctx, []byte("one"))
	if _, err := s.Create(ctx, "enc", WithEncryptionKey(k2)); !errors.Is(err, ErrWrongEncryptionKey) {
		t.Fatalf("another key: %v", err)
	}
	again, err := s.Create(ctx, "enc", WithEncryptionKey(k1))
	if err != nil || again != c {
		t.Fatalf("same key: %v", err)
	}
	if again, err := s.Create(ctx, "enc"); err != nil || !again.Encrypted() {
		t.Fatalf("no options: %v", err)
	}
	p, err := s.Create(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	p.Append(ctx, []byte("plain"))
	if _, err := s.Create(ctx, "plain", WithEncryptionKey(k1)); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("key for a plain core with blocks: %v", err)
	}
	if b, err := p.Get(ctx, 0); err != nil || string(b) != "plain" {
		t.Fatalf("plain core: %q %v", b, err)
	}
	// An empty core created plain, as a crash between creating it and keeping its key leaves it,
	// can still be given its key.
	e, err := s.Create(ctx, "empty")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "empty", WithEncryptionKey(k1)); err != nil {
		t.Fatal(err)
	}
	e.Append(ctx, []byte("x"))
	if st, _ := e.GetStored(ctx, 0); len(st) != 1+EncryptionPadding {
		t.Fatalf("append after the key was set stored %d bytes", len(st))
	}
}

// TestPropertyEncrypted runs random appends and truncations on an encrypted core and, block for
// block, on a plain core of the same key pair fed the encrypted core's stored bytes. After each
// step the two trees and signatures are equal, the encrypted core reads back the plaintext, the
// pure functions decrypt its stored bytes, and each block's padding names the fork it was
// appended at.
func TestPropertyEncrypted(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run("", func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 7))
			pk := WithPrimaryKey([32]byte{byte(seed), 1})
			enc, err := openStore(t, t.TempDir(), pk, WithDurability(false)).Create(ctx, "prop", WithEncryptionKey(EncryptionKey{byte(seed), 2}))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := openStore(t, t.TempDir(), pk, WithDurability(false)).Create(ctx, "prop")
			if err != nil {
				t.Fatal(err)
			}
			bk, _ := enc.BlockKey()
			var model [][]byte
			var forks []uint64
			for step := 0; step < 30; step++ {
				if op := r.IntN(10); op < 7 || len(model) == 0 {
					n := 1 + r.IntN(40)
					bs := make([][]byte, n)
					for i := range bs {
						bs[i] = make([]byte, r.IntN(300))
						for j := range bs[i] {
							bs[i][j] = byte(r.Uint32())
						}
					}
					start := enc.Length()
					if _, err := enc.Append(ctx, bs...); err != nil {
						t.Fatal(err)
					}
					stored, err := enc.GetRangeStored(ctx, start, enc.Length())
					if err != nil {
						t.Fatal(err)
					}
					if _, err := plain.Append(ctx, stored...); err != nil {
						t.Fatal(err)
					}
					for range bs {
						forks = append(forks, enc.Info().Fork)
					}
					model = append(model, bs...)
				} else {
					n := r.IntN(len(model) + 1)
					if err := enc.Truncate(ctx, uint64(n)); err != nil {
						t.Fatal(err)
					}
					if err := plain.Truncate(ctx, uint64(n)); err != nil {
						t.Fatal(err)
					}
					model, forks = model[:n], forks[:n]
				}
				et, pt := enc.Tree(), plain.Tree()
				if et.Hash() != pt.Hash() || et.Fork != pt.Fork || et.Length != pt.Length || !bytes.Equal(et.Signature, pt.Signature) {
					t.Fatalf("step %d: encrypted tree %+v, plain tree %+v", step, et, pt)
				}
				if len(model) == 0 {
					continue
				}
				got, err := enc.GetRange(ctx, 0, enc.Length())
				if err != nil {
					t.Fatal(err)
				}
				sameBlocks(t, "plaintext", got, model)
				stored, err := plain.GetRange(ctx, 0, plain.Length())
				if err != nil {
					t.Fatal(err)
				}
				var size uint64
				for i, st := range stored {
					pt, err := DecryptBlock(bk, uint64(i), st)
					if err != nil || !bytes.Equal(pt, model[i]) {
						t.Fatalf("step %d: pure decryption of block %d: %v", step, i, err)
					}
					if f, _ := BlockFork(bk, uint64(i), st); f != forks[i] {
						t.Fatalf("step %d: block %d padding names fork %d, appended at %d", step, i, f, forks[i])
					}
					size += uint64(len(model[i]))
				}
				if in := enc.Info(); in.ByteLength != size || in.ByteLength+EncryptionPadding*in.Length != pt.ByteLength {
					t.Fatalf("step %d: byte length %d, plaintext %d, stored %d", step, in.ByteLength, size, pt.ByteLength)
				}
			}
			if enc.Info().Fork == 0 {
				t.Log("no truncation in this run")
			}
		})
	}
}

// TestKeyCheckValue pins the key check value's construction: BLAKE2b-256 of the namespace
// namespace("datomspace/encryption", 1)[0] and the block key. Peers that release keys depend
// on it, so it must never change.
func TestKeyCheckValue(t *testing.T) {
	base := hash([]byte("datomspace/encryption"))
	want := hash(base[:], []byte{0})
	eqHex(t, "namespace", NamespaceKeyCheck[:], want.String())
	bk := BlockKey(unhex(t, "1493fbf5932fc861ee92367643644ea6a09e7051700495602cda012f3074b172"))
	kc := bk.Check()
	if kc != KeyCheck(hash(NamespaceKeyCheck[:], bk[:])) {
		t.Fatal("key check value is not H(namespace || block key)")
	}
	if parsed, err := ParseKeyCheck(kc.String()); err != nil || parsed != kc {
		t.Fatalf("parse: %v", err)
	}
	other := bk
	other[31] ^= 1
	if kc.Matches(other) || other.Check() == kc {
		t.Fatal("a changed block key passes")
	}
	// One encryption key gives each core its own block key and key check value.
	if DeriveBlockKey(Key{1}, EncryptionKey{5}).Check() == DeriveBlockKey(Key{2}, EncryptionKey{5}).Check() {
		t.Fatal("two cores share a key check value")
	}
	for _, s := range []string{"", "00", kc.String()[:63] + "g", "0000000000000000000000000000000000000000000000000000000000000000"} {
		if _, err := ParseEncryptionKey(s); !errors.Is(err, ErrBadEncryptionKey) {
			t.Errorf("ParseEncryptionKey(%q): %v", s, err)
		}
		if _, err := ParseBlockKey(s); !errors.Is(err, ErrBadEncryptionKey) {
			t.Errorf("ParseBlockKey(%q): %v", s, err)
		}
	}
	if k, err := ParseBlockKey(" " + bk.Hex() + "\n"); err != nil || k != bk {
		t.Fatalf("ParseBlockKey: %v", err)
	}
	if _, err := DecryptBlock(bk, 0, make([]byte, 7)); !errors.Is(err, ErrShortBlock) {
		t.Fatalf("short block: %v", err)
	}
	g1, _ := GenerateEncryptionKey()
	g2, _ := GenerateEncryptionKey()
	if g1 == g2 || g1.IsZero() {
		t.Fatal("generated keys")
	}
}

// TestKeylessReplicaCrashRecovery: recovery after a crash checks a keyless replica's unsynced
// blocks against their leaves as stored bytes; the store opens, and only the lost blocks are
// cleared.
func TestKeylessReplicaCrashRecovery(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 5))
	plain := randomBlocks(r, 200, 4000)
	owner, _ := encryptedOwner(t, plain)
	kcv, _ := owner.KeyCheck()
	dir := t.TempDir()
	rep, err := openStore(t, dir).Replica(ctx, owner.Key(), WithEncrypted(kcv))
	if err != nil {
		t.Fatal(err)
	}
	syncReplica(t, owner, rep, 0, 100)
	if err := rep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fetch(t, owner, rep, 100, 200) // not synced
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	// The unsynced blocks 100..199 were written to the data file in one piece: lose its end.
	st, err := os.Stat(filepath.Join(crashed, DataFileName))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := owner.GetRangeStored(ctx, 150, 200)
	var tail int64
	for _, b := range stored {
		tail += int64(len(b))
	}
	if err := os.Truncate(filepath.Join(crashed, DataFileName), st.Size()-tail); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, crashed)
	c, err := s.Get(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Encrypted() || c.Contiguous() != 150 || c.Has(150) || c.Has(199) {
		t.Fatalf("after recovery: encrypted %v, contiguous %d", c.Encrypted(), c.Contiguous())
	}
	if err := c.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	bk, _ := owner.BlockKey()
	if err := c.SetBlockKey(ctx, bk); err != nil {
		t.Fatal(err)
	}
	fetch(t, owner, c, 150, 200)
	got, err := c.GetRange(ctx, 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	sameBlocks(t, "plaintext after recovery", got, plain)
}
