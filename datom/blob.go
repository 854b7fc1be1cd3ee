package datom

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// Blob values: a string or bytes value larger than the blob threshold is kept as a blob
// (corestore/blobs) when it is transacted through a database opened WithBlobs, and the datom
// holds its CID and size instead: a value of kind blob. Resolve gives the value back. Blobs that
// the datoms of a core refer to are the GC roots BlobRoots lists.

// DefaultBlobThreshold is the size above which WithBlobs stores a string or bytes value as a
// blob: 4 KiB.
const DefaultBlobThreshold = 4 << 10

// Blob returns a blob value: a reference to the blob r, holding bytes.
func Blob(r blobs.Ref) Value { return Value{Kind: KindBlob, Blob: r, BlobOf: KindBytes} }

// BlobOf returns a blob value that holds a value of kind of (KindString or KindBytes), which
// Resolve gives back.
func BlobOf(r blobs.Ref, of Kind) Value { return Value{Kind: KindBlob, Blob: r, BlobOf: of} }

// blobText is a blob value's String: CID:SIZE, the text form ParseValueText reads.
func blobText(v Value) string {
	return v.Blob.CID.String() + ":" + strconv.FormatUint(v.Blob.Size, 10)
}

// blobJSON is a blob value's JSON form: {"blob": CID, "size": N}, with "type": "string" for a
// blob that holds a string.
func blobJSON(v Value) map[string]any {
	m := map[string]any{"blob": v.Blob.CID.String(), "size": v.Blob.Size}
	if v.BlobOf == KindString {
		m["type"] = "string"
	}
	return m
}

func checkBlob(v Value) error {
	if err := blobs.CheckCID(v.Blob.CID); err != nil {
		return fmt.Errorf("blob value: %w", err)
	}
	if v.BlobOf != KindString && v.BlobOf != KindBytes {
		return fmt.Errorf("blob value holds %s; a blob holds a string or bytes", v.BlobOf)
	}
	return nil
}

// isBlobJSON reports whether a decoded JSON object is a blob value's form.
func isBlobJSON(m map[string]any) bool {
	_, ok := m["blob"]
	return ok
}

// blobFromJSON reads {"blob": CID, "size": N} and, optionally, "type": "string" or "bytes".
func blobFromJSON(m map[string]any) (Value, error) {
	const form = `a blob value is {"blob": CID, "size": N}, with "type": "string" for a string`
	for k := range m {
		if k != "blob" && k != "size" && k != "type" {
			return Value{}, fmt.Errorf("blob value has unknown key %q (%s)", k, form)
		}
	}
	s, ok := m["blob"].(string)
	if !ok {
		return Value{}, errors.New(form)
	}
	c, err := blobs.ParseCID(s)
	if err != nil {
		return Value{}, err
	}
	size, err := jsonUint(m["size"])
	if err != nil {
		return Value{}, fmt.Errorf("blob size: %w (%s)", err, form)
	}
	of := KindBytes
	if t, ok := m["type"]; ok {
		switch t {
		case "string":
			of = KindString
		case "bytes":
		default:
			return Value{}, fmt.Errorf(`blob type %v: a blob holds a "string" or "bytes"`, jsonText(t))
		}
	}
	return BlobOf(blobs.Ref{CID: c, Size: size}, of), nil
}

// jsonUint reads a decoded JSON number (or numeric string) as a uint64.
func jsonUint(x any) (uint64, error) {
	var s string
	switch x := x.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	case nil:
		return 0, errors.New("missing")
	default:
		return 0, fmt.Errorf("%s is not a number", jsonText(x))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a size in bytes", s)
	}
	return n, nil
}

// parseBlobText reads a blob value's text form, CID:SIZE.
func parseBlobText(s string) (Value, error) {
	cs, sizeText, ok := strings.Cut(s, ":")
	if !ok {
		return Value{}, fmt.Errorf("%q is not a blob (a CID, a colon and the size in bytes, as `datomspace add` prints them)", s)
	}
	c, err := blobs.ParseCID(cs)
	if err != nil {
		return Value{}, err
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil {
		return Value{}, fmt.Errorf("blob %q: the size %q is not a number of bytes", s, sizeText)
	}
	return Blob(blobs.Ref{CID: c, Size: size}), nil
}

// WithBlobs keeps the string and bytes values larger than the blob threshold (WithBlobThreshold)
// in s, as blobs: Transact stores them and the datoms hold their CIDs and sizes. Resolve reads
// them back from s. Without it, values are kept inline and bounded at 32 KiB.
func WithBlobs(s *blobs.Store) Option {
	return func(o *options) error {
		if s == nil {
			return errors.New("nil blob store")
		}
		o.blobs = s
		return nil
	}
}

// WithBlobThreshold sets the size, in bytes, above which WithBlobs stores a string or bytes
// value as a blob (default DefaultBlobThreshold). It is at least 1 and at most 32 KiB, the
// largest value kept inline. An attribute whose db/valueType is blob keeps every value as a
// blob, whatever its size.
func WithBlobThreshold(n int) Option {
	return func(o *options) error {
		if n < 1 || n > maxValueLen {
			return fmt.Errorf("blob threshold of %d bytes: it must be from 1 to %d", n, maxValueLen)
		}
		o.blobThreshold = n
		return nil
	}
}

// Blobs returns the blob store of WithBlobs, or nil.
func (db *DB) Blobs() *blobs.Store { return db.blobs }

// PutBlobs stores as blobs the values of datoms that Transact on the core with key would keep as
// blobs (strings and bytes over the threshold, and every string or bytes value of an attribute
// typed blob) and returns the datoms with those values replaced by blob values. The blobs are
// held from GC until release is called, which the caller does once the transaction is appended
// or refused. Without WithBlobs it returns datoms as they are. Transact calls it itself; a
// caller that must validate a transaction before the core exists (ValidateNew) calls it first.
func (db *DB) PutBlobs(ctx context.Context, key corestore.Key, datoms []Datom) (out []Datom, release func(), err error) {
	return db.blobify(ctx, key, datoms, true)
}

// blobify is PutBlobs; without store it computes the blob values' CIDs and stores nothing.
func (db *DB) blobify(ctx context.Context, key corestore.Key, datoms []Datom, store bool) (out []Datom, release func(), err error) {
	release = func() {}
	if db.blobs == nil {
		return datoms, release, nil
	}
	types := db.valueTypes(ctx, key, datoms)
	var lease *blobs.Lease
	for i, d := range datoms {
		if isSchemaAttr(d.A) {
			continue
		}
		v, ok, err := db.blobValue(types[d.A], d.V)
		if err != nil {
			return nil, release, fmt.Errorf("%w: datom %d %s: %w", ErrRejected, i, opString(d), err)
		}
		if !ok {
			continue
		}
		if out == nil {
			out = append([]Datom(nil), datoms...)
			if store {
				lease = db.blobs.NewLease()
				release = lease.Release
			}
		}
		var ref blobs.Ref
		if store {
			ref, err = db.blobs.Add(ctx, bytes.NewReader(v.payload), blobs.WithLease(lease))
		} else {
			ref, err = blobs.CIDOf(ctx, bytes.NewReader(v.payload))
		}
		if err != nil {
			release()
			return nil, func() {}, fmt.Errorf("datom %d %s %s: store the value as a blob: %w", i, d.E, d.A, err)
		}
		out[i].V = BlobOf(ref, v.of)
	}
	if out == nil {
		return datoms, release, nil
	}
	return out, release, nil
}

// blobPayload is a value that is to become a blob.
type blobPayload struct {
	payload []byte
	of      Kind
}

// blobValue says whether v, for an attribute of type typ (0: none), is kept as a blob, and
// returns its bytes and kind.
func (db *DB) blobValue(typ Kind, v Value) (blobPayload, bool, error) {
	var p blobPayload
	switch {
	case v.Kind == KindString && typ == KindBytes:
		b, err := base64.StdEncoding.DecodeString(v.Str)
		if err != nil {
			return p, false, nil // the validator says why
		}
		p = blobPayload{b, KindBytes}
	case v.Kind == KindString:
		p = blobPayload{[]byte(v.Str), KindString}
	case v.Kind == KindBytes:
		p = blobPayload{v.Bytes, KindBytes}
	default:
		return p, false, nil
	}
	if typ == KindBlob || len(p.payload) > db.blobThreshold {
		if p.of == KindString && !validUTF8(v.Str) {
			return p, false, errors.New("string value is not valid UTF-8")
		}
		return p, true, nil
	}
	return p, false, nil
}

// valueTypes returns the value type of every attribute that datoms use and that has one: from
// the core's schema, if the core exists, and from the schema datoms of the transaction itself.
func (db *DB) valueTypes(ctx context.Context, key corestore.Key, datoms []Datom) map[string]Kind {
	types := map[string]Kind{}
	var sch *schema
	if ci, err := db.coreIndex(ctx, key); err == nil { // a core that does not exist yet has none
		sch = ci.sch.Load()
	}
	if sch != nil {
		for _, d := range datoms {
			if at, ok := sch.attr(d.A); ok && at.Type != 0 {
				types[d.A] = at.Type
			}
		}
	}
	idents, typed := map[string]string{}, map[string]Kind{}
	for _, d := range datoms {
		if !d.Added || d.V.Kind != KindString {
			continue
		}
		switch d.A {
		case AttrIdent:
			idents[d.E] = d.V.Str
		case AttrValueType:
			if k, err := ParseKind(d.V.Str); err == nil {
				typed[d.E] = k
			}
		}
	}
	for e, a := range idents {
		if k, ok := typed[e]; ok {
			types[a] = k
		}
	}
	return types
}

// Resolve returns the value a blob value stands for, a string or bytes value read from the blob
// store, and any other value as it is. It fails with blobs.ErrNotFound or blobs.ErrIncomplete
// when the store does not hold all of the blob (a peer fetches it first), blobs.ErrTooLarge when
// it is larger than max bytes, and ErrNoBlobs without WithBlobs.
func (db *DB) Resolve(ctx context.Context, v Value, max uint64) (Value, error) {
	if v.Kind != KindBlob {
		return v, nil
	}
	if db.blobs == nil {
		return Value{}, fmt.Errorf("resolve blob %s: %w", v.Blob.CID, ErrNoBlobs)
	}
	if v.Blob.Size > max {
		return Value{}, fmt.Errorf("resolve blob %s: %w: %d bytes, over the limit of %d", v.Blob.CID, blobs.ErrTooLarge, v.Blob.Size, max)
	}
	b, err := db.blobs.Bytes(ctx, v.Blob.CID, max)
	if err != nil {
		return Value{}, fmt.Errorf("resolve blob %s: %w", v.Blob.CID, err)
	}
	if uint64(len(b)) != v.Blob.Size {
		return Value{}, fmt.Errorf("resolve blob %s: %w: it holds %d bytes, the datom says %d", v.Blob.CID, blobs.ErrSizeMismatch, len(b), v.Blob.Size)
	}
	if v.BlobOf == KindString {
		return String(string(b)), nil
	}
	return Bytes(b), nil
}

// ErrNoBlobs is returned by Resolve on a database opened without WithBlobs.
var ErrNoBlobs = errors.New("the datom database has no blob store")

// BlobRoots lists every blob that a datom of a core the database holds refers to, asserted or
// since retracted (an as-of read still shows it): the blobs a GC keeps. It first indexes what
// every core holds (CatchUp) and waits for the index commits in flight, so a blob that a
// transaction referenced before BlobRoots was called is listed. It reads a small index of blob
// references (one key per core and blob), not the datoms.
func (db *DB) BlobRoots(ctx context.Context) blobs.Live {
	return func(yield func(cid.Cid, error) bool) {
		roots, err := db.blobRoots(ctx)
		if err != nil {
			yield(cid.Undef, err)
			return
		}
		for _, c := range roots {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func (db *DB) blobRoots(ctx context.Context) ([]cid.Cid, error) {
	if err := db.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("datom blob references: %w", err)
	}
	db.mu.Lock()
	cis := make([]*coreIndex, 0, len(db.cores))
	for _, ci := range db.cores {
		cis = append(cis, ci)
	}
	db.mu.Unlock()
	for _, ci := range cis {
		ci.applied()
	}
	var out []cid.Cid
	seen := map[string]struct{}{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{keyPrefix, subBlob}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if len(k) < 6 {
				continue
			}
			if _, ok := seen[string(k[6:])]; ok {
				continue
			}
			c, err := cid.Cast(k[6:])
			if err != nil {
				return fmt.Errorf("%w %x", errBadKey, k)
			}
			seen[string(k[6:])] = struct{}{}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("datom blob references: %w", err)
	}
	return out, nil
}

// blobKey is the key that records that a datom of core number cid refers to blob c.
func blobKey(cid uint32, c cid.Cid) []byte {
	return append(corePrefix(subBlob, cid), c.Bytes()...)
}
