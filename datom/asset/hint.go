package asset

import (
	"fmt"

	"github.com/datomspace/datomspace/corestore"
)

// Hint is what an enforcing peer tells a peer that opens a sync stream for a core that belongs
// to assets: whose they are and where their catalog and grants are, so that the peer can follow
// them (a replica must, to enforce the grants itself), and, for an encrypted core, the key check
// value of its block key. It is advice from a remote peer: a receiver trusts nothing in it that
// it cannot check against the catalog itself.
type Hint struct {
	Owner    Principal
	Catalog  corestore.Key
	Grants   corestore.Key
	Assets   []HintAsset
	KeyCheck corestore.KeyCheck // zero unless the core is encrypted
}

// HintAsset names one asset the core belongs to and its level.
type HintAsset struct {
	Name  string
	Level Level
}

type wireHint struct {
	_        struct{} `cbor:",toarray"`
	V        uint64
	Owner    []byte
	Catalog  []byte
	Grants   []byte
	Assets   []wireHintAsset
	KeyCheck []byte
}

type wireHintAsset struct {
	_     struct{} `cbor:",toarray"`
	Name  string
	Level uint64
}

// MaxHintSize bounds an encoded hint.
const MaxHintSize = 700

// maxHintAssets bounds the assets a hint names.
const maxHintAssets = 4

// Encode returns the hint's bytes; it names at most four assets, so that it fits the sync
// stream's first message.
func (h *Hint) Encode() []byte {
	w := wireHint{V: 1, Owner: h.Owner[:], Catalog: h.Catalog[:], Grants: h.Grants[:], Assets: []wireHintAsset{}, KeyCheck: []byte{}}
	for i, a := range h.Assets {
		if i == maxHintAssets {
			break
		}
		name := a.Name
		if len(name) > 64 {
			name = name[:64]
		}
		w.Assets = append(w.Assets, wireHintAsset{Name: name, Level: uint64(a.Level)})
	}
	if !h.KeyCheck.IsZero() {
		w.KeyCheck = h.KeyCheck[:]
	}
	return marshal(&w)
}

// DecodeHint decodes a hint received from a peer.
func DecodeHint(b []byte) (*Hint, error) {
	if len(b) > MaxHintSize {
		return nil, fmt.Errorf("%w: a hint of %d bytes", ErrBadMessage, len(b))
	}
	var w wireHint
	if err := unmarshalCanonical(b, &w, "hint", ErrBadMessage); err != nil {
		return nil, err
	}
	if w.V != 1 || len(w.Owner) != 32 || len(w.Assets) > maxHintAssets || (len(w.KeyCheck) != 0 && len(w.KeyCheck) != 32) {
		return nil, fmt.Errorf("%w: hint version %d or field sizes", ErrBadMessage, w.V)
	}
	h := &Hint{}
	copy(h.Owner[:], w.Owner)
	if !h.Owner.valid() {
		return nil, fmt.Errorf("%w: hint owner is not an Ed25519 key", ErrBadMessage)
	}
	var err error
	if h.Catalog, err = key32(w.Catalog, "hint catalog", ErrBadMessage); err != nil {
		return nil, err
	}
	if h.Grants, err = key32(w.Grants, "hint grants", ErrBadMessage); err != nil {
		return nil, err
	}
	copy(h.KeyCheck[:], w.KeyCheck)
	for _, a := range w.Assets {
		if a.Level > uint64(Compute) || CheckName(a.Name) != nil {
			return nil, fmt.Errorf("%w: hint asset %q level %d", ErrBadMessage, a.Name, a.Level)
		}
		h.Assets = append(h.Assets, HintAsset{Name: a.Name, Level: Level(a.Level)})
	}
	return h, nil
}

// Level returns the strictest level the hint names.
func (h *Hint) Level() Level {
	var l Level
	for _, a := range h.Assets {
		l = max(l, a.Level)
	}
	return l
}
