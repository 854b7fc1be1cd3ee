package datom

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/corestore"
)

// Key layout. Every key starts with keyPrefix, then one of the sub-prefixes below; c is the
// core's 4-byte number, e and a are strings in the order-preserving form of appendKeyString, v is
// Value.key (kind byte then payload), tx is 8 bytes big-endian.
const (
	keyPrefix byte = corestore.ExtensionKeyPrefix // 0x80

	subNextCore  byte = 0x00 // 80 00 → u32 next core number
	subCoreState byte = 0x01 // 80 01 coreKey → coreState
	subEAVT      byte = 0x10 // 80 10 c e a v tx → retracted-at (8 bytes) or empty
	subAEVT      byte = 0x11 // 80 11 c a e v tx → same
	subAVET      byte = 0x12 // 80 12 c a v e tx → same
	subVAET      byte = 0x13 // 80 13 c v a e tx → same; ref values only
	subUnique    byte = 0x22 // 80 22 c a v → e
	subEntity    byte = 0x23 // 80 23 c e → empty: e has, or has had, a datom
	subBlob      byte = 0x24 // 80 24 c cid → empty: a datom of the core refers, or referred, to blob cid
)

// indexSubs lists every sub-prefix that holds per-core data. writeEntry relies on the order of
// the first four.
var indexSubs = []byte{subEAVT, subAEVT, subAVET, subVAET, subUnique, subEntity, subBlob}

// indexFormat is the version of the key layout above, recorded in every core state. A core
// indexed by an older version is reindexed from its log when it is opened. Version 2 added the
// entity keys; version 3 the fingerprint of the last indexed block in the core state; version 4
// applies a transaction's schema datoms before its other datoms; version 5 knows blob values and
// keeps the blob keys (a core indexed by version 4 is reindexed only if it skipped blocks, which
// may have held blob values).
const indexFormat = 5

func corePrefix(sub byte, cid uint32) []byte {
	b := make([]byte, 0, 64)
	b = append(b, keyPrefix, sub)
	return binary.BigEndian.AppendUint32(b, cid)
}

func coreStateKey(k corestore.Key) []byte {
	return append([]byte{keyPrefix, subCoreState}, k[:]...)
}

var nextCoreKey = []byte{keyPrefix, subNextCore}

// Core kinds, as recorded in the core state.
const (
	kindUnknown byte = 0 // no block indexed yet
	kindDatom   byte = 1 // block 0 is a datom transaction
	kindRaw     byte = 2 // block 0 is something else: not indexed
)

// coreState is the per-core index record. It is written in the same Badger transaction as the
// index keys it describes.
type coreState struct {
	cid     uint32
	fork    uint64
	next    uint64 // blocks [0, next) are indexed
	kind    byte
	skipped uint64 // malformed datom blocks that were skipped
	// last fingerprints block next-1 (xxhash64 of its bytes), so that an index that outlived
	// the blocks it was built from (they were lost in a crash before they were synced, and others
	// took their place) is noticed when the core is loaded. 0 when next is 0.
	last uint64
	// stale, when set, says why the index must be rebuilt; it is never stored.
	stale string
}

// Stored core state sizes: format 3 added last; formats 4 and 5 changed no layout.
const (
	coreStateSize   = 1 + 4 + 8 + 8 + 1 + 8 + 8
	coreStateSizeV2 = coreStateSize - 8
)

func (s coreState) encode() []byte {
	b := make([]byte, 0, coreStateSize)
	b = append(b, indexFormat)
	b = binary.BigEndian.AppendUint32(b, s.cid)
	b = binary.BigEndian.AppendUint64(b, s.fork)
	b = binary.BigEndian.AppendUint64(b, s.next)
	b = append(b, s.kind)
	b = binary.BigEndian.AppendUint64(b, s.skipped)
	return binary.BigEndian.AppendUint64(b, s.last)
}

func decodeCoreState(b []byte) (coreState, error) {
	if len(b) == 0 || b[0] == 0 || b[0] > indexFormat ||
		b[0] >= 3 && len(b) != coreStateSize || b[0] < 3 && len(b) != coreStateSizeV2 {
		return coreState{}, errors.New("malformed core index state")
	}
	st := coreState{cid: binary.BigEndian.Uint32(b[1:]), fork: binary.BigEndian.Uint64(b[5:]),
		next: binary.BigEndian.Uint64(b[13:]), kind: b[21], skipped: binary.BigEndian.Uint64(b[22:])}
	if b[0] >= 3 {
		st.last = binary.BigEndian.Uint64(b[30:])
	}
	if b[0] < 4 || b[0] == 4 && st.skipped > 0 {
		st.stale = "the index was written by an older version"
	}
	return st, nil
}

// entry is one index entry decoded back into its parts.
type entry struct {
	e, a      string
	v         Value
	tx        uint64
	retracted uint64 // 0 and live true: still asserted
	live      bool
}

// visible reports whether the entry's assertion holds in the view: the current one when asOf is
// nil, else the database as of that tx.
func (en *entry) visible(asOf *uint64) bool {
	if asOf == nil {
		return en.live
	}
	return en.tx <= *asOf && (en.live || en.retracted > *asOf)
}

// indexKeyTo appends the key of (e, a, v, tx) in index sub to b.
func indexKeyTo(b []byte, sub byte, cid uint32, e, a string, vk []byte, tx uint64) []byte {
	b = append(b, keyPrefix, sub)
	b = binary.BigEndian.AppendUint32(b, cid)
	switch sub {
	case subEAVT:
		b = appendKeyString(b, e)
		b = appendKeyString(b, a)
		b = append(b, vk...)
	case subAEVT:
		b = appendKeyString(b, a)
		b = appendKeyString(b, e)
		b = append(b, vk...)
	case subAVET:
		b = appendKeyString(b, a)
		b = append(b, vk...)
		b = appendKeyString(b, e)
	case subVAET:
		b = append(b, vk...)
		b = appendKeyString(b, a)
		b = appendKeyString(b, e)
	}
	return binary.BigEndian.AppendUint64(b, tx)
}

// decodeEntry parses an index key and its value.
func decodeEntry(key, val []byte) (entry, error) {
	var en entry
	if len(key) < 6+8 {
		return en, errBadKey
	}
	sub := key[1]
	b := key[6 : len(key)-8]
	en.tx = binary.BigEndian.Uint64(key[len(key)-8:])
	var err error
	switch sub {
	case subEAVT:
		if en.e, b, err = decodeKeyString(b); err == nil {
			if en.a, b, err = decodeKeyString(b); err == nil {
				en.v, b, err = decodeKeyValue(b)
			}
		}
	case subAEVT:
		if en.a, b, err = decodeKeyString(b); err == nil {
			if en.e, b, err = decodeKeyString(b); err == nil {
				en.v, b, err = decodeKeyValue(b)
			}
		}
	case subAVET:
		if en.a, b, err = decodeKeyString(b); err == nil {
			if en.v, b, err = decodeKeyValue(b); err == nil {
				en.e, b, err = decodeKeyString(b)
			}
		}
	case subVAET:
		if en.v, b, err = decodeKeyValue(b); err == nil {
			if en.a, b, err = decodeKeyString(b); err == nil {
				en.e, b, err = decodeKeyString(b)
			}
		}
	default:
		return en, errBadKey
	}
	if err == nil && len(b) != 0 {
		err = errBadKey
	}
	if err != nil {
		return en, fmt.Errorf("%w %x", err, key)
	}
	switch len(val) {
	case 0:
		en.live = true
	case 8:
		en.retracted = binary.BigEndian.Uint64(val)
	default:
		return en, fmt.Errorf("%w: value of %d bytes at %x", errBadKey, len(val), key)
	}
	return en, nil
}

func entityKey(cid uint32, e string) []byte {
	return appendKeyString(corePrefix(subEntity, cid), e)
}

func uniqueKey(cid uint32, a string, vk []byte) []byte {
	b := corePrefix(subUnique, cid)
	b = appendKeyString(b, a)
	return append(b, vk...)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
