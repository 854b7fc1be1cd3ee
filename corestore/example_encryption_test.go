package corestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/datomspace/datomspace/corestore"
)

// An owner creates an encrypted core, appends to it and reads the plaintext back. A replica
// without the key verifies and holds only the stored bytes; given the released block key, it
// checks it against the key check value and reads the plaintext too.
func Example_encryptedCore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "corestore-example")
	defer os.RemoveAll(dir)
	quiet := corestore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

	owner, _ := corestore.Open(ctx, dir+"/owner", quiet)
	defer owner.Close()
	key, _ := corestore.ParseEncryptionKey("0101010101010101010101010101010101010101010101010101010101010101")
	diary, err := owner.Create(ctx, "diary", corestore.WithEncryptionKey(key))
	if err != nil {
		fmt.Println(err)
		return
	}
	diary.Append(ctx, []byte("dear diary"), []byte("nobody reads this"))
	b, _ := diary.Get(ctx, 1)
	stored, _ := diary.GetStored(ctx, 1)
	in := diary.Info()
	fmt.Printf("%q: %d plaintext bytes, %d stored, encrypted %v\n", b, in.ByteLength, diary.Tree().ByteLength, in.Encrypted)
	fmt.Println("stored block is padding + ciphertext:", len(stored) == corestore.EncryptionPadding+len(b))

	// A replica that knows the core is encrypted, and its key check value, but not the key.
	kcv, _ := diary.KeyCheck()
	other, _ := corestore.Open(ctx, dir+"/replica", quiet)
	defer other.Close()
	rep, _ := other.Replica(ctx, diary.Key(), corestore.WithEncrypted(kcv))
	p, _ := diary.Prove(ctx, corestore.ProofRequest{Start: 0, End: 2, Upgrade: true, NeedManifest: true})
	if _, err := rep.ApplyProof(ctx, p); err != nil {
		fmt.Println(err)
		return
	}
	_, err = rep.Get(ctx, 1)
	fmt.Println("keyless read:", errors.Is(err, corestore.ErrNoEncryptionKey))

	// The owner releases the block key; the replica checks it and reads.
	bk, _ := diary.BlockKey()
	if err := rep.SetBlockKey(ctx, bk); err != nil {
		fmt.Println(err)
		return
	}
	b, _ = rep.Get(ctx, 1)
	fmt.Printf("replica reads %q\n", b)
	// Output:
	// "nobody reads this": 27 plaintext bytes, 43 stored, encrypted true
	// stored block is padding + ciphertext: true
	// keyless read: true
	// replica reads "nobody reads this"
}
