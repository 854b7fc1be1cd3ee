package corestore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/bits"

	badger "github.com/dgraph-io/badger/v4"
)

// The encryption of a stored core. Whether a core is encrypted is not part of its manifest or
// its signed tree (Hypercore does not record it either): a store knows it because the core was
// created with a key, or because it was told, with a key or with only a key check value. What it
// knows is kept in one record per core, kindEncryption || id, written when it changes (never by
// an append) and read when the core opens.

// kindEncryption keys a core's encryption record (see the storage layout in storage.go).
const kindEncryption byte = 0x08

// encState is what a store knows about a core's encryption; a nil *encState means the core is
// not known to be encrypted. It is never mutated once published.
type encState struct {
	rec    encRecord
	cipher *blockCipher // nil when the block key is not held
}

// encRecord is the persisted form of encState.
type encRecord struct {
	// Check is the key check value of the core's block key; zero when not known.
	Check KeyCheck
	// Block is the block key, when held.
	Block *BlockKey
	// Key is the encryption key the block key was derived from, when known (a replica given only
	// a released block key does not know it).
	Key *EncryptionKey
}

const encRecordVersion = 1

const (
	encFlagCheck = 1 << iota
	encFlagBlock
	encFlagKey
	encFlagsAll = encFlagCheck | encFlagBlock | encFlagKey
)

// encode returns the record: u8 version, u8 flags, then the key check value, the block key and
// the encryption key, 32 bytes each, each only when its flag is set, in that order.
func (r encRecord) encode() []byte {
	b := make([]byte, 2, 2+3*32)
	b[0] = encRecordVersion
	if !r.Check.IsZero() {
		b[1] |= encFlagCheck
		b = append(b, r.Check[:]...)
	}
	if r.Block != nil {
		b[1] |= encFlagBlock
		b = append(b, r.Block[:]...)
	}
	if r.Key != nil {
		b[1] |= encFlagKey
		b = append(b, r.Key[:]...)
	}
	return b
}

// decodeEncRecord decodes the encryption record of the core with key coreKey, and checks that its
// parts agree: the block key matches the key check value and derives from the encryption key.
func decodeEncRecord(coreKey Key, b []byte) (encRecord, error) {
	var r encRecord
	rd := &reader{b: b}
	if v := rd.byte1("encryption record version"); rd.err == nil && v != encRecordVersion {
		return r, fmt.Errorf("%w: encryption record version %d, this build reads %d", errDecode, v, encRecordVersion)
	}
	flags := rd.byte1("encryption record flags")
	if rd.err == nil && flags&^encFlagsAll != 0 {
		return r, fmt.Errorf("%w: unknown encryption record flags %#x", errDecode, flags)
	}
	if flags&encFlagCheck != 0 {
		copy(r.Check[:], rd.fixed(32, "key check value"))
	}
	if flags&encFlagBlock != 0 {
		r.Block = new(BlockKey)
		copy(r.Block[:], rd.fixed(32, "block key"))
	}
	if flags&encFlagKey != 0 {
		r.Key = new(EncryptionKey)
		copy(r.Key[:], rd.fixed(32, "encryption key"))
	}
	if err := rd.done("encryption record"); err != nil {
		return encRecord{}, err
	}
	if err := r.check(coreKey); err != nil {
		return encRecord{}, err
	}
	return r, nil
}

// check validates a record's consistency; every record written satisfies it.
func (r encRecord) check(coreKey Key) error {
	if r.Block != nil && r.Check.IsZero() {
		return fmt.Errorf("%w: encryption record holds a block key without its key check value", errDecode)
	}
	if r.Key != nil && r.Block == nil {
		return fmt.Errorf("%w: encryption record holds an encryption key without its block key", errDecode)
	}
	if r.Block != nil && (r.Block.IsZero() || !r.Check.Matches(*r.Block)) {
		return fmt.Errorf("%w: encryption record's block key fails its key check value", errDecode)
	}
	if r.Key != nil && (r.Key.IsZero() || DeriveBlockKey(coreKey, *r.Key) != *r.Block) {
		return fmt.Errorf("%w: encryption record's encryption key does not derive its block key", errDecode)
	}
	return nil
}

func (r encRecord) equal(o encRecord) bool {
	eqBlock := (r.Block == nil) == (o.Block == nil) && (r.Block == nil || *r.Block == *o.Block)
	eqKey := (r.Key == nil) == (o.Key == nil) && (r.Key == nil || *r.Key == *o.Key)
	return r.Check == o.Check && eqBlock && eqKey
}

func newEncState(r encRecord) *encState {
	s := &encState{rec: r}
	if r.Block != nil {
		s.cipher = newBlockCipher(*r.Block)
	}
	return s
}

// loadEncryption reads the core's encryption record, if any; newCore calls it.
func (c *Core) loadEncryption() error {
	var b []byte
	err := c.s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(coreRecordKey(kindEncryption, c.id))
		if err != nil {
			return err
		}
		b, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return c.errf("read encryption record: %w", err)
	}
	r, err := decodeEncRecord(c.key, b)
	if err != nil {
		return c.errf("encryption record: %w: %w", ErrCorrupt, err)
	}
	c.enc.Store(newEncState(r))
	return nil
}

// CoreOption configures the core that Store.Create or Store.Replica returns. Options are
// validated before anything is created; applying them to an existing core checks them against
// what the store already knows about it.
type CoreOption func(*coreOptions) error

type coreOptions struct {
	key       *EncryptionKey
	block     *BlockKey
	encrypted bool
	check     KeyCheck
}

// WithEncryptionKey makes the core encrypted with k, as Hypercore's `encryptionKey` option does:
// a new writable core encrypts every block it appends, and a replica decrypts what it reads. The
// key is kept with the core, so it survives restarts. A writable core that already holds plain
// blocks cannot become encrypted (ErrNotEncrypted); a core that already has a different key, or
// whose key check value k fails, is refused with ErrWrongEncryptionKey.
func WithEncryptionKey(k EncryptionKey) CoreOption {
	return func(o *coreOptions) error {
		if k.IsZero() {
			return fmt.Errorf("encryption key: %w: all zero", ErrBadEncryptionKey)
		}
		o.key = &k
		return nil
	}
}

// WithBlockKey is WithEncryptionKey for a core's block key, the key an owner releases to a
// grantee (Hypercore's `isBlockKey`).
func WithBlockKey(bk BlockKey) CoreOption {
	return func(o *coreOptions) error {
		if bk.IsZero() {
			return fmt.Errorf("block key: %w: all zero", ErrBadEncryptionKey)
		}
		o.block = &bk
		return nil
	}
}

// WithEncrypted marks a replica as encrypted without giving it the key: it verifies, stores and
// serves the core, and reads fail with ErrNoEncryptionKey until a key is set. check is the key
// check value of the core's block key, which a key given later must match; the zero KeyCheck
// means it is not known. A writable core is refused: its owner needs the key to append.
func WithEncrypted(check KeyCheck) CoreOption {
	return func(o *coreOptions) error {
		o.encrypted = true
		o.check = check
		return nil
	}
}

func newCoreOptions(opts []CoreOption) (coreOptions, error) {
	var o coreOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// apply applies o to c, just opened by Store.Create or Store.Replica with error err.
func (o coreOptions) apply(ctx context.Context, c *Core, err error) (*Core, error) {
	if err != nil {
		return nil, err
	}
	if o.key == nil && o.block == nil && !o.encrypted {
		return c, nil
	}
	if err := c.updateEncryption(ctx, o.key, o.block, o.check); err != nil {
		return nil, err
	}
	return c, nil
}

// SetEncryptionKey gives the core its encryption key and keeps it with the core. From then on
// reads return plaintext, and a writable core encrypts its appends. The key is refused with
// ErrWrongEncryptionKey when it fails the core's key check value, differs from a key already
// held, or does not decrypt a block the core holds (whose padding then names a fork the core
// never had); a writable core that already holds plain blocks refuses it with ErrNotEncrypted.
// Setting the key the core already has does nothing.
func (c *Core) SetEncryptionKey(ctx context.Context, k EncryptionKey) error {
	if k.IsZero() {
		return c.errf("set encryption key: %w: all zero", ErrBadEncryptionKey)
	}
	return c.updateEncryption(ctx, &k, nil, KeyCheck{})
}

// SetBlockKey is SetEncryptionKey for the core's block key, the key an owner releases to a
// grantee; check it against the released key check value first, or mark the core with it
// (MarkEncrypted), so that SetBlockKey checks it.
func (c *Core) SetBlockKey(ctx context.Context, bk BlockKey) error {
	if bk.IsZero() {
		return c.errf("set block key: %w: all zero", ErrBadEncryptionKey)
	}
	return c.updateEncryption(ctx, nil, &bk, KeyCheck{})
}

// MarkEncrypted records that the core is encrypted, without its key: reads fail with
// ErrNoEncryptionKey until a key is set, while the core still verifies, stores and serves its
// stored bytes. check, when not zero, is the key check value a key set later must match; it
// must agree with what the core already knows. A writable core must hold its key.
func (c *Core) MarkEncrypted(ctx context.Context, check KeyCheck) error {
	return c.updateEncryption(ctx, nil, nil, check)
}

// updateEncryption merges what it is told into what the core knows, checks that the two agree,
// and persists the result.
func (c *Core) updateEncryption(ctx context.Context, ek *EncryptionKey, bk *BlockKey, check KeyCheck) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ek != nil {
		derived := DeriveBlockKey(c.key, *ek)
		if bk != nil && *bk != derived {
			return c.errf("set encryption key: %w: the block key given does not derive from the encryption key given", ErrWrongEncryptionKey)
		}
		bk = &derived
	}
	c.mu.Lock()
	cur := c.enc.Load()
	next, err := c.mergeEncryption(cur, ek, bk, check)
	if err != nil || (cur != nil && next.equal(cur.rec)) {
		c.mu.Unlock()
		return err
	}
	if bk != nil && (cur == nil || cur.cipher == nil) {
		if err := c.checkHeldBlock(ctx, *bk); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	err = c.commit(func(txn *badger.Txn) error {
		return txn.Set(coreRecordKey(kindEncryption, c.id), next.encode())
	})
	if err != nil {
		c.mu.Unlock()
		return c.errf("store encryption record: %w", err)
	}
	c.enc.Store(newEncState(next))
	ticket := c.s.syncer.ticket()
	c.mu.Unlock()
	c.changed()
	if c.s.durable {
		if err := c.s.syncer.wait(ctx, ticket); err != nil {
			return c.errf("sync encryption record: %w", err)
		}
	}
	return nil
}

// mergeEncryption returns the record that follows cur once the core is told ek, bk (derived from
// ek when ek is set) and check, or why they do not fit what it knows. It is called with c.mu held.
func (c *Core) mergeEncryption(cur *encState, ek *EncryptionKey, bk *BlockKey, check KeyCheck) (encRecord, error) {
	var next encRecord
	if cur != nil {
		next = cur.rec
	} else if c.kp != nil {
		if bk == nil {
			return next, c.errf("mark encrypted: %w: the owner of a writable core must hold its key", ErrNoEncryptionKey)
		}
		if n := c.Length(); n > 0 {
			return next, c.errf("set encryption key: %w: it already holds %d plain blocks", ErrNotEncrypted, n)
		}
	}
	if !check.IsZero() {
		if !next.Check.IsZero() && next.Check != check {
			return next, c.errf("key check value %s: %w: the core's is %s", check, ErrWrongEncryptionKey, next.Check)
		}
		next.Check = check
	}
	if bk != nil {
		if next.Block != nil && subtle.ConstantTimeCompare(next.Block[:], bk[:]) != 1 {
			return next, c.errf("set encryption key: %w: it differs from the key the core already has", ErrWrongEncryptionKey)
		}
		if !next.Check.IsZero() && !next.Check.Matches(*bk) {
			return next, c.errf("set encryption key: %w: it fails the key check value %s", ErrWrongEncryptionKey, next.Check)
		}
		b := *bk
		next.Block = &b
		next.Check = bk.Check()
	}
	if ek != nil && next.Key == nil {
		k := *ek
		next.Key = &k
	}
	return next, nil
}

// checkHeldBlock checks a block key against the first block the core holds, if it holds one in
// its first pages: the padding of a block decrypted with the right key names the fork it was
// appended at, which is never past the core's fork; a wrong key names a random one. It is called
// with c.mu held.
func (c *Core) checkHeldBlock(ctx context.Context, bk BlockKey) error {
	i, ok := c.firstHeld()
	if !ok {
		return nil
	}
	h := c.hdr.Load()
	bs, err := c.getRange(ctx, i, i+1, true)
	if err != nil {
		return c.errf("check key against block %d: %w", i, err)
	}
	if len(bs[0]) < EncryptionPadding {
		return c.errf("set encryption key: %w: block %d is %d bytes, shorter than the encryption padding", ErrWrongEncryptionKey, i, len(bs[0]))
	}
	if f := newBlockCipher(bk).fork(i, bs[0]); f > h.Tree.Fork {
		return c.errf("set encryption key: %w: it decrypts block %d to fork %d, past the core's fork %d", ErrWrongEncryptionKey, i, f, h.Tree.Fork)
	}
	return nil
}

// maxHeldScanPages bounds the bitfield pages firstHeld reads.
const maxHeldScanPages = 64

// firstHeld returns the first block the core holds within its first maxHeldScanPages bitfield
// pages.
func (c *Core) firstHeld() (uint64, bool) {
	length := c.Length()
	for p := uint64(0); p*bitsPerPage < length && p < maxHeldScanPages; p++ {
		bp, err := c.bitPage(p)
		if err != nil {
			return 0, false
		}
		if bp == nil {
			if c.kp != nil {
				return p * bitsPerPage, true
			}
			continue
		}
		for w, word := range bp {
			if word != 0 {
				if i := p*bitsPerPage + uint64(w)*64 + uint64(bits.TrailingZeros64(word)); i < length {
					return i, true
				}
				return 0, false
			}
		}
	}
	return 0, false
}

// Encrypted reports whether the core is known to be encrypted: it was created with a key, or
// given one, or marked encrypted.
func (c *Core) Encrypted() bool { return c.enc.Load() != nil }

// BlockKey returns the core's block key, and false when this store does not hold it. The owner
// releases it to grantees; it opens this core only.
func (c *Core) BlockKey() (BlockKey, bool) {
	if es := c.enc.Load(); es != nil && es.rec.Block != nil {
		return *es.rec.Block, true
	}
	return BlockKey{}, false
}

// EncryptionKey returns the encryption key the core was created or given with, and false when
// this store does not know it (also when it holds only the block key).
func (c *Core) EncryptionKey() (EncryptionKey, bool) {
	if es := c.enc.Load(); es != nil && es.rec.Key != nil {
		return *es.rec.Key, true
	}
	return EncryptionKey{}, false
}

// KeyCheck returns the key check value of the core's block key, and false when it is not known.
func (c *Core) KeyCheck() (KeyCheck, bool) {
	if es := c.enc.Load(); es != nil && !es.rec.Check.IsZero() {
		return es.rec.Check, true
	}
	return KeyCheck{}, false
}

// encryptionInfo fills in what Info reports about encryption; byteLength counts plaintext for an
// encrypted core, as Hypercore's does.
func (c *Core) encryptionInfo(in *Info) {
	es := c.enc.Load()
	if es == nil {
		return
	}
	in.Encrypted = true
	in.EncryptionKeyHeld = es.cipher != nil
	in.KeyCheck = es.rec.Check
	// Every stored block has its padding; only a core marked encrypted by mistake can fall short.
	if pad := EncryptionPadding * in.Length; in.ByteLength >= pad {
		in.ByteLength -= pad
	} else {
		in.ByteLength = 0
	}
}

// encryptForAppend returns blocks, the core's blocks from start on, as they are stored: encrypted
// at fork when the core is encrypted, unchanged otherwise. It is called with c.mu held.
func (c *Core) encryptForAppend(start, fork uint64, blocks [][]byte) ([][]byte, error) {
	es := c.enc.Load()
	if es == nil {
		return blocks, nil
	}
	if es.cipher == nil {
		return nil, c.errf("append: %w", ErrNoEncryptionKey)
	}
	return es.cipher.encryptBlocks(start, fork, blocks), nil
}

// readable fails with ErrNoEncryptionKey for an encrypted core whose key is not held.
func (c *Core) readable(start, end uint64) (*encState, error) {
	es := c.enc.Load()
	if es != nil && es.cipher == nil {
		return nil, c.errf("read blocks [%d, %d): %w", start, end, ErrNoEncryptionKey)
	}
	return es, nil
}

// plaintext decrypts stored blocks, the core's blocks from start on, verified against the tree
// of fork, in place. A block whose padding names a fork past it cannot have been encrypted with
// this key: that is reported as ErrWrongEncryptionKey, never returned as garbage.
func (c *Core) plaintext(es *encState, start, fork uint64, stored [][]byte) ([][]byte, error) {
	if es == nil {
		return stored, nil
	}
	for k, b := range stored {
		i := start + uint64(k)
		if len(b) < EncryptionPadding {
			return nil, c.errf("block %d: %w: %w: %d bytes", i, ErrWrongEncryptionKey, ErrShortBlock, len(b))
		}
		if f := es.cipher.fork(i, b); f > fork {
			return nil, c.errf("block %d: %w: its padding decrypts to fork %d, past the core's fork %d", i, ErrWrongEncryptionKey, f, fork)
		}
	}
	out, err := es.cipher.decryptInPlace(start, stored)
	if err != nil {
		return nil, c.errf("decrypt: %w", err)
	}
	return out, nil
}

// GetStored returns block i as the core stores and replicates it, checked against its tree leaf:
// for an encrypted core, padding and ciphertext, whether or not the key is held. For a plain core
// it is Get.
func (c *Core) GetStored(ctx context.Context, i uint64) ([]byte, error) {
	bs, err := c.getRange(ctx, i, i+1, true)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// GetRangeStored is GetStored for blocks [start, end).
func (c *Core) GetRangeStored(ctx context.Context, start, end uint64) ([][]byte, error) {
	return c.getRange(ctx, start, end, true)
}
