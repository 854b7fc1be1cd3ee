package corestore

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBlockCipher measures encrypting and decrypting one block (XSalsa20 over the block and
// the blinded padding), as appends and reads of an encrypted core do.
//
//	go test -run '^$' -bench BlockCipher ./corestore/
func BenchmarkBlockCipher(b *testing.B) {
	bk := DeriveBlockKey(Key{1}, EncryptionKey{2})
	c := newBlockCipher(bk)
	for _, size := range []int{1 << 10, 64 << 10} {
		pt := make([]byte, size)
		st := make([]byte, EncryptionPadding+size)
		b.Run(fmt.Sprintf("encrypt/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				c.encrypt(st, uint64(i), 0, pt)
			}
		})
		b.Run(fmt.Sprintf("decrypt/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				c.fork(uint64(i), st)
				c.decrypt(pt, uint64(i), st)
			}
		})
	}
}

// BenchmarkGetRangeEncrypted reads 256 blocks of 64 KiB at a time from a writable core, plain and
// encrypted: the difference is the decryption.
func BenchmarkGetRangeEncrypted(b *testing.B) {
	ctx := context.Background()
	const count, size = 1024, 64 << 10
	for _, enc := range []bool{false, true} {
		var opts []CoreOption
		if enc {
			opts = append(opts, WithEncryptionKey(EncryptionKey{3}))
		}
		c, err := openStore(b, b.TempDir(), WithDurability(false)).Create(ctx, "bench", opts...)
		if err != nil {
			b.Fatal(err)
		}
		bs := make([][]byte, count)
		for i := range bs {
			bs[i] = make([]byte, size)
		}
		if _, err := c.Append(ctx, bs...); err != nil {
			b.Fatal(err)
		}
		b.Run(map[bool]string{false: "plain", true: "encrypted"}[enc], func(b *testing.B) {
			b.SetBytes(256 * size)
			for i := 0; i < b.N; i++ {
				lo := uint64(i%(count/256)) * 256
				if _, err := c.GetRange(ctx, lo, lo+256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
