package datom

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/datomspace/datomspace/corestore"
	"github.com/fxamacker/cbor/v2"
)

// Datom is one immutable fact: entity E has value V for attribute A, asserted (Added) or
// retracted in transaction Tx, the index of the block that holds it. Build the datoms of a
// transaction with Add and Retract: a Datom literal that leaves Added out is a retraction.
type Datom struct {
	E     string
	A     string
	V     Value
	Tx    uint64
	Added bool
}

// Add returns the assertion that entity e has value v for attribute a, for Transact.
func Add(e, a string, v Value) Datom { return Datom{E: e, A: a, V: v, Added: true} }

// Retract returns the retraction of value v of attribute a from entity e, for Transact, which
// refuses it (ErrNothingToRetract) unless e has that value.
func Retract(e, a string, v Value) Datom { return Datom{E: e, A: a, V: v, Added: false} }

// String renders the datom as [e a v tx added].
func (d Datom) String() string {
	return fmt.Sprintf("[%s %s %s %d %t]", d.E, d.A, d.V, d.Tx, d.Added)
}

// Tx is one transaction: the datoms of one block and the time its writer gave it.
type Tx struct {
	Time   time.Time
	Datoms []Datom
}

// TxMarker is the text every datom block starts with, after the CBOR array header.
const TxMarker = "datomspace/tx"

// TxVersion is the version of the block format this package writes and reads.
const TxVersion = 1

// MaxDatomsPerTx bounds the datoms of one transaction, so that indexing a block always fits in
// one Badger transaction.
const MaxDatomsPerTx = 4096

// ErrNotTx is returned for a block that is not a datom transaction: the core holds other data.
var ErrNotTx = errors.New("not a datom transaction block")

// ErrBadTx is returned for a block that has the datom marker but is malformed.
var ErrBadTx = errors.New("malformed datom transaction block")

type wireTx struct {
	_       struct{} `cbor:",toarray"`
	Marker  string
	Version uint64
	Time    int64
	Datoms  []wireDatom
}

type wireDatom struct {
	_     struct{} `cbor:",toarray"`
	E     string
	A     string
	K     uint8
	V     cbor.RawMessage
	Added bool
}

type wireCoreRef struct {
	_    struct{} `cbor:",toarray"`
	Core []byte
	E    string
}

// wireBlob is a blob value: the ref's binary form (blobs.Ref.MarshalBinary: the root CID's
// bytes, then the size as a uvarint) and the kind of value the blob holds.
type wireBlob struct {
	_   struct{} `cbor:",toarray"`
	Ref []byte
	Of  uint8
}

// codec holds the CBOR modes; they are immutable and safe to share.
type codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

var txMarkerPrefix = func() []byte {
	em, _ := cbor.CoreDetEncOptions().EncMode()
	b, _ := em.Marshal([]any{TxMarker, TxVersion})
	return b // 0x82 || marker || version; a block has 0x84 where this has 0x82
}()

func newCodec() codec {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // static options: cannot fail
	}
	dm, err := cbor.DecOptions{
		MaxArrayElements: 1 << 16,
		MaxNestedLevels:  8,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err) // static options: cannot fail
	}
	return codec{enc: em, dec: dm}
}

// defaultCodec is immutable after package initialisation.
var defaultCodec = newCodec()

// IsTxBlock reports whether b starts like a datom transaction block. A block that does may still
// fail to decode; one that does not is certainly not a datom transaction.
func IsTxBlock(b []byte) bool {
	// 0x84 array(4), then the marker text and the version, exactly as EncodeTx writes them.
	return len(b) >= len(txMarkerPrefix) && b[0] == 0x84 && bytes.Equal(b[1:len(txMarkerPrefix)], txMarkerPrefix[1:])
}

// EncodeTx returns the deterministic CBOR encoding of tx: equal transactions give equal bytes.
// The datoms' Tx fields are not encoded (a datom's tx is its block's index).
func EncodeTx(tx Tx) ([]byte, error) { return defaultCodec.encodeTx(tx) }

// DecodeTx decodes a block written by EncodeTx. It returns ErrNotTx for a block of some other
// format and ErrBadTx for a malformed datom block. Datom Tx fields are zero; see DecodeTxAt.
func DecodeTx(b []byte) (Tx, error) { return defaultCodec.decodeTx(b, 0) }

// DecodeTxAt is DecodeTx for the block at index tx, whose datoms get that tx.
func DecodeTxAt(b []byte, tx uint64) (Tx, error) { return defaultCodec.decodeTx(b, tx) }

func (c codec) encodeTx(tx Tx) ([]byte, error) {
	if len(tx.Datoms) > MaxDatomsPerTx {
		return nil, fmt.Errorf("transaction of %d datoms exceeds %d", len(tx.Datoms), MaxDatomsPerTx)
	}
	w := wireTx{Marker: TxMarker, Version: TxVersion, Time: tx.Time.UnixMilli(), Datoms: make([]wireDatom, len(tx.Datoms))}
	for i, d := range tx.Datoms {
		if err := checkDatom(d); err != nil {
			return nil, fmt.Errorf("datom %d %s: %w", i, d, err)
		}
		var payload any
		switch d.V.Kind {
		case KindString, KindRef:
			payload = d.V.Str
		case KindInt:
			payload = d.V.Int
		case KindFloat:
			payload = d.V.Float
		case KindBool:
			payload = d.V.Bool
		case KindBytes:
			payload = d.V.Bytes
			if d.V.Bytes == nil {
				payload = []byte{}
			}
		case KindTime:
			payload = d.V.Time.UTC().Format(time.RFC3339Nano)
		case KindCoreRef:
			payload = wireCoreRef{Core: d.V.Core[:], E: d.V.Str}
		case KindBlob:
			ref, err := d.V.Blob.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("datom %d %s: %w", i, d, err)
			}
			payload = wireBlob{Ref: ref, Of: uint8(d.V.BlobOf)}
		}
		raw, err := c.enc.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("datom %d %s: %w", i, d, err)
		}
		w.Datoms[i] = wireDatom{E: d.E, A: d.A, K: uint8(d.V.Kind), V: raw, Added: d.Added}
	}
	return c.enc.Marshal(w)
}

func (c codec) decodeTx(b []byte, txn uint64) (Tx, error) {
	if !IsTxBlock(b) {
		return Tx{}, ErrNotTx
	}
	var w wireTx
	if err := c.dec.Unmarshal(b, &w); err != nil {
		return Tx{}, fmt.Errorf("%w: %w", ErrBadTx, err)
	}
	if w.Marker != TxMarker || w.Version != TxVersion {
		return Tx{}, ErrNotTx
	}
	if len(w.Datoms) > MaxDatomsPerTx {
		return Tx{}, fmt.Errorf("%w: %d datoms exceeds %d", ErrBadTx, len(w.Datoms), MaxDatomsPerTx)
	}
	tx := Tx{Time: time.UnixMilli(w.Time).UTC(), Datoms: make([]Datom, len(w.Datoms))}
	for i, wd := range w.Datoms {
		d := Datom{E: wd.E, A: wd.A, Tx: txn, Added: wd.Added, V: Value{Kind: Kind(wd.K)}}
		var err error
		switch d.V.Kind {
		case KindString, KindRef:
			err = c.dec.Unmarshal(wd.V, &d.V.Str)
		case KindInt:
			err = c.dec.Unmarshal(wd.V, &d.V.Int)
		case KindFloat:
			err = c.dec.Unmarshal(wd.V, &d.V.Float)
		case KindBool:
			err = c.dec.Unmarshal(wd.V, &d.V.Bool)
		case KindBytes:
			err = c.dec.Unmarshal(wd.V, &d.V.Bytes)
			if err == nil && d.V.Bytes == nil {
				d.V.Bytes = []byte{}
			}
		case KindTime:
			var s string
			if err = c.dec.Unmarshal(wd.V, &s); err == nil {
				var t time.Time
				t, err = time.Parse(time.RFC3339Nano, s)
				d.V.Time = t.UTC()
			}
		case KindCoreRef:
			var cr wireCoreRef
			if err = c.dec.Unmarshal(wd.V, &cr); err == nil {
				if len(cr.Core) != len(d.V.Core) {
					err = fmt.Errorf("core key of %d bytes", len(cr.Core))
				} else {
					d.V.Core = corestore.Key(cr.Core)
					d.V.Str = cr.E
				}
			}
		case KindBlob:
			var wb wireBlob
			if err = c.dec.Unmarshal(wd.V, &wb); err == nil {
				err = d.V.Blob.UnmarshalBinary(wb.Ref)
				d.V.BlobOf = Kind(wb.Of)
				if canon, _ := d.V.Blob.MarshalBinary(); err == nil && !bytes.Equal(canon, wb.Ref) {
					err = errors.New("blob ref is not in its shortest form")
				}
			}
		default:
			err = fmt.Errorf("unknown value kind %d", wd.K)
		}
		if err == nil {
			err = checkDatom(d)
		}
		if err != nil {
			return Tx{}, fmt.Errorf("%w: datom %d: %w", ErrBadTx, i, err)
		}
		tx.Datoms[i] = d
	}
	return tx, nil
}

func checkDatom(d Datom) error {
	if err := checkID("entity", d.E); err != nil {
		return err
	}
	if err := checkID("attribute", d.A); err != nil {
		return err
	}
	return d.V.check()
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
