package asset

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/datomspace/datomspace/corestore"
)

// Asset is an entity of an owner's catalog: what it is made of, who owns it, how it may be read.
//
// An asset can be a whole core, some attributes of it, or the entities of it whose ids start
// with a prefix, or several of those. Each member carries its core's attestation: a signature
// by the core's own key that binds it to this owner, catalog and grants core, so a catalog can
// claim only cores its owner writes.
type Asset struct {
	// Name identifies the asset in its catalog.
	Name string `json:"name"`
	// Owner is the owner's identity, which signs root grants.
	Owner Principal `json:"owner"`
	// Catalog and Grants are the owner's catalog and grants cores.
	Catalog corestore.Key `json:"catalog"`
	Grants  corestore.Key `json:"grants"`
	// Members are the cores (or parts of them) that make up the asset.
	Members []Member `json:"members"`
	// Pins are version pins: a core's length and tree hash the asset was published at.
	Pins []Pin `json:"pins,omitempty"`
	// Category is a free classification (a DCAT theme, an IRI).
	Category string `json:"category,omitempty"`
	// Level is the security level.
	Level Level `json:"level"`
	// Schema gives the value type of each attribute of the asset, when known.
	Schema map[string]string `json:"schema,omitempty"`
	// State is the lifecycle state.
	State State `json:"state"`
	// Queries is the allowed set of a compute asset: the queries a grantee may run.
	Queries []string `json:"queries,omitempty"`
	// Epochs are the key epochs of an encrypted asset, oldest first: each a core of its own with
	// its own key. A revocation starts a new one.
	Epochs []Epoch `json:"epochs,omitempty"`
	// Doc describes the asset.
	Doc string `json:"doc,omitempty"`
	// Time is when this version of the record was written.
	Time time.Time `json:"time"`
}

// Member is one part of an asset.
type Member struct {
	// Core is the member core's key.
	Core corestore.Key `json:"core"`
	// Attrs limits the member to these attributes; empty means every attribute.
	Attrs []string `json:"attrs,omitempty"`
	// Prefix limits the member to the entities whose ids start with it; empty means all.
	Prefix string `json:"prefix,omitempty"`
	// Manifest is the member core's manifest (it hashes to Core), so that the attestation can be
	// checked by a peer that does not hold the core yet.
	Manifest []byte `json:"manifest"`
	// Attestation is the core's signature binding it to the owner (see MemberStatement).
	Attestation []byte `json:"attestation"`
}

// WholeCore reports whether the member is the whole core, not a part of it. Only a grant on a
// whole-core member lets a peer download blocks: a block holds every attribute of its
// transaction, so a block download cannot hide part of it.
func (m Member) WholeCore() bool { return len(m.Attrs) == 0 && m.Prefix == "" }

// Pin is a version pin: the core as it was at one length.
type Pin struct {
	Core     corestore.Key  `json:"core"`
	Length   uint64         `json:"length"`
	TreeHash corestore.Hash `json:"treeHash"`
}

// Epoch is one key epoch of an encrypted asset.
type Epoch struct {
	Core     corestore.Key      `json:"core"`
	KeyCheck corestore.KeyCheck `json:"keyCheck"`
	Since    time.Time          `json:"since"`
}

// MemberStatement returns what a member core attests: owner || catalog || grants, signed with
// the core's key under the member namespace (corestore.Core.Attest).
func MemberStatement(owner Principal, catalog, grants corestore.Key) []byte {
	b := make([]byte, 0, 96)
	b = append(b, owner[:]...)
	b = append(b, catalog[:]...)
	return append(b, grants[:]...)
}

// MemberNamespace is the attestation namespace of asset membership.
func MemberNamespace() corestore.Hash { return nsMember }

// CheckAttestation verifies member m's attestation against the member core's manifest, which
// must hash to its key.
func (a *Asset) CheckAttestation(m Member) error {
	manifest, err := corestore.DecodeManifest(m.Manifest)
	if err != nil {
		return fmt.Errorf("%w: asset %q: member %s: %w", ErrBadAsset, a.Name, m.Core, err)
	}
	if err := corestore.VerifyAttestation(manifest, m.Core, nsMember, MemberStatement(a.Owner, a.Catalog, a.Grants), m.Attestation); err != nil {
		return fmt.Errorf("%w: asset %q: member %s: %w", ErrBadAsset, a.Name, m.Core, err)
	}
	return nil
}

// MembersOf returns the members of a that are parts of core.
func (a *Asset) MembersOf(core corestore.Key) []Member {
	var out []Member
	for _, m := range a.Members {
		if m.Core == core {
			out = append(out, m)
		}
	}
	return out
}

// EpochOf returns the epoch whose core is core.
func (a *Asset) EpochOf(core corestore.Key) (Epoch, int, bool) {
	for i, e := range a.Epochs {
		if e.Core == core {
			return e, i, true
		}
	}
	return Epoch{}, 0, false
}

// CheckName validates an asset name: 1 to 128 bytes of UTF-8, no spaces, no control characters.
func CheckName(name string) error {
	if name == "" || len(name) > maxAssetName || !utf8.ValidString(name) || strings.ContainsAny(name, " \t\r\n/") {
		return fmt.Errorf("%w: name %q: 1 to %d bytes of UTF-8 without spaces or slashes", ErrBadAsset, name, maxAssetName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: name %q has a control character", ErrBadAsset, name)
		}
	}
	return nil
}

// Check validates the record on its own (attestations need the member cores' manifests).
func (a *Asset) Check() error {
	if err := CheckName(a.Name); err != nil {
		return err
	}
	switch {
	case !a.Owner.valid():
		return fmt.Errorf("%w: asset %q has no valid owner", ErrBadAsset, a.Name)
	case a.Catalog == corestore.Key{} || a.Grants == corestore.Key{}:
		return fmt.Errorf("%w: asset %q names no catalog or grants core", ErrBadAsset, a.Name)
	case len(a.Members) == 0:
		return fmt.Errorf("%w: asset %q has no members", ErrBadAsset, a.Name)
	case a.Level > Compute:
		return fmt.Errorf("%w: asset %q: unknown level %d", ErrBadAsset, a.Name, a.Level)
	case a.State > Unlisted:
		return fmt.Errorf("%w: asset %q: unknown state %d", ErrBadAsset, a.Name, a.State)
	case a.Level == Encrypted && len(a.Epochs) == 0:
		return fmt.Errorf("%w: encrypted asset %q has no key epoch", ErrBadAsset, a.Name)
	case a.Level != Encrypted && len(a.Epochs) > 0:
		return fmt.Errorf("%w: asset %q has key epochs but is not encrypted", ErrBadAsset, a.Name)
	}
	for _, m := range a.Members {
		if len(m.Attestation) != 64 || len(m.Manifest) != corestore.ManifestSize {
			return fmt.Errorf("%w: asset %q: member %s has no attestation or manifest", ErrBadAsset, a.Name, m.Core)
		}
		if !slices.IsSorted(m.Attrs) || len(slices.Compact(slices.Clone(m.Attrs))) != len(m.Attrs) {
			return fmt.Errorf("%w: asset %q: member %s: attributes not sorted and distinct", ErrBadAsset, a.Name, m.Core)
		}
		if a.Level == Encrypted && !m.WholeCore() {
			return fmt.Errorf("%w: encrypted asset %q: members are whole cores (a key opens a whole core)", ErrBadAsset, a.Name)
		}
	}
	for _, e := range a.Epochs {
		if len(a.MembersOf(e.Core)) == 0 {
			return fmt.Errorf("%w: asset %q: epoch core %s is not a member", ErrBadAsset, a.Name, e.Core)
		}
	}
	return nil
}

// Covers reports whether the asset has core as a whole-core member.
func (a *Asset) CoversWhole(core corestore.Key) bool {
	for _, m := range a.Members {
		if m.Core == core && m.WholeCore() {
			return true
		}
	}
	return false
}

type wireMember struct {
	_           struct{} `cbor:",toarray"`
	Core        []byte
	Attrs       []string
	Prefix      string
	Manifest    []byte
	Attestation []byte
}

type wirePin struct {
	_        struct{} `cbor:",toarray"`
	Core     []byte
	Length   uint64
	TreeHash []byte
}

type wireEpoch struct {
	_        struct{} `cbor:",toarray"`
	Core     []byte
	KeyCheck []byte
	Since    int64
}

type wireAsset struct {
	_        struct{} `cbor:",toarray"`
	V        uint64
	Name     string
	Owner    []byte
	Catalog  []byte
	Grants   []byte
	Members  []wireMember
	Pins     []wirePin
	Category string
	Level    uint64
	Schema   map[string]string
	State    uint64
	Queries  []string
	Epochs   []wireEpoch
	Doc      string
	Time     int64
}

// Encode returns the record's canonical bytes, as the catalog stores them.
func (a *Asset) Encode() []byte {
	w := wireAsset{V: 1, Name: a.Name, Owner: a.Owner[:], Catalog: a.Catalog[:], Grants: a.Grants[:],
		Members: []wireMember{}, Pins: []wirePin{}, Category: a.Category, Level: uint64(a.Level), Schema: a.Schema,
		State: uint64(a.State), Queries: a.Queries, Epochs: []wireEpoch{}, Doc: a.Doc, Time: a.Time.UnixMilli()}
	if w.Schema == nil {
		w.Schema = map[string]string{}
	}
	if w.Queries == nil {
		w.Queries = []string{}
	}
	for _, m := range a.Members {
		attrs := m.Attrs
		if attrs == nil {
			attrs = []string{}
		}
		w.Members = append(w.Members, wireMember{Core: m.Core[:], Attrs: attrs, Prefix: m.Prefix, Manifest: m.Manifest, Attestation: m.Attestation})
	}
	for _, p := range a.Pins {
		w.Pins = append(w.Pins, wirePin{Core: p.Core[:], Length: p.Length, TreeHash: p.TreeHash[:]})
	}
	for _, e := range a.Epochs {
		w.Epochs = append(w.Epochs, wireEpoch{Core: e.Core[:], KeyCheck: e.KeyCheck[:], Since: e.Since.UnixMilli()})
	}
	return marshal(&w)
}

// MaxAssetSize bounds an encoded asset record.
const MaxAssetSize = 256 << 10

// DecodeAsset decodes and checks an asset record from a catalog.
func DecodeAsset(b []byte) (*Asset, error) {
	if len(b) > MaxAssetSize {
		return nil, fmt.Errorf("%w: a record of %d bytes", ErrBadAsset, len(b))
	}
	var w wireAsset
	if err := unmarshalCanonical(b, &w, "asset record", ErrBadAsset); err != nil {
		return nil, err
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: record version %d", ErrBadAsset, w.V)
	}
	if w.Level > uint64(Compute) || w.State > uint64(Unlisted) {
		return nil, fmt.Errorf("%w: level %d or state %d unknown", ErrBadAsset, w.Level, w.State)
	}
	a := &Asset{Name: w.Name, Category: w.Category, Level: Level(w.Level), Schema: w.Schema, State: State(w.State),
		Queries: w.Queries, Doc: w.Doc, Time: time.UnixMilli(w.Time).UTC()}
	if len(a.Schema) == 0 {
		a.Schema = nil
	}
	if len(a.Queries) == 0 {
		a.Queries = nil
	}
	if len(w.Owner) != 32 {
		return nil, fmt.Errorf("%w: owner is %d bytes", ErrBadAsset, len(w.Owner))
	}
	copy(a.Owner[:], w.Owner)
	var err error
	if a.Catalog, err = key32(w.Catalog, "catalog key", ErrBadAsset); err != nil {
		return nil, err
	}
	if a.Grants, err = key32(w.Grants, "grants key", ErrBadAsset); err != nil {
		return nil, err
	}
	for _, wm := range w.Members {
		m := Member{Attrs: wm.Attrs, Prefix: wm.Prefix, Manifest: wm.Manifest, Attestation: wm.Attestation}
		if len(m.Attrs) == 0 {
			m.Attrs = nil
		}
		if m.Core, err = key32(wm.Core, "member core key", ErrBadAsset); err != nil {
			return nil, err
		}
		a.Members = append(a.Members, m)
	}
	for _, wp := range w.Pins {
		var p Pin
		if p.Core, err = key32(wp.Core, "pin core key", ErrBadAsset); err != nil {
			return nil, err
		}
		h, err := key32(wp.TreeHash, "pin tree hash", ErrBadAsset)
		if err != nil {
			return nil, err
		}
		p.Length, p.TreeHash = wp.Length, corestore.Hash(h)
		a.Pins = append(a.Pins, p)
	}
	for _, we := range w.Epochs {
		var e Epoch
		if e.Core, err = key32(we.Core, "epoch core key", ErrBadAsset); err != nil {
			return nil, err
		}
		kc, err := key32(we.KeyCheck, "epoch key check", ErrBadAsset)
		if err != nil {
			return nil, err
		}
		e.KeyCheck, e.Since = corestore.KeyCheck(kc), time.UnixMilli(we.Since).UTC()
		a.Epochs = append(a.Epochs, e)
	}
	if err := a.Check(); err != nil {
		return nil, err
	}
	return a, nil
}
