package asset

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// A view is what the asset layer knows from one core of an owner: it reads the core's
// contiguous blocks once each, as they arrive, and keeps the records they hold in memory. A
// new fork of the core (its owner truncated it) rebuilds the view from block 0. Blocks that are
// not datom transactions, and records that do not decode or verify, are skipped and counted:
// a view never trusts a record its own checks reject.

// viewBase tracks how far a view has read its core.
type viewBase struct {
	mu      sync.Mutex
	key     corestore.Key
	fork    uint64
	read    uint64 // blocks [0, read) are applied
	skipped int
	owner   Principal
	ownerOK bool
	links   map[string]corestore.Key // owner/catalog, owner/grants, owner/ledger
}

// catchUp applies the core's contiguous blocks not read yet with apply, after reset on a new fork.
func (v *viewBase) catchUp(ctx context.Context, c *corestore.Core, reset func(), apply func(tx uint64, t datom.Tx)) error {
	in := c.Info()
	if in.Fork != v.fork {
		v.fork, v.read, v.skipped, v.ownerOK, v.owner, v.links = in.Fork, 0, 0, false, Principal{}, nil
		reset()
	}
	end := c.Contiguous()
	for v.read < end {
		hi := min(v.read+256, end)
		bs, err := c.GetRange(ctx, v.read, hi)
		if err != nil {
			return err
		}
		for k, b := range bs {
			i := v.read + uint64(k)
			t, err := datom.DecodeTxAt(b, i)
			if err != nil {
				v.skipped++
				continue
			}
			v.ownerDatoms(t)
			apply(i, t)
		}
		v.read = hi
	}
	return nil
}

// ownerDatoms reads the owner record, which only the first owner datom of a core sets.
func (v *viewBase) ownerDatoms(t datom.Tx) {
	for _, d := range t.Datoms {
		if d.E != ownerEntity || !d.Added {
			continue
		}
		switch d.A {
		case AttrOwnerIdentity:
			if v.ownerOK || d.V.Kind != datom.KindString {
				continue
			}
			if p, err := ParsePrincipal(d.V.Str); err == nil {
				v.owner, v.ownerOK = p, true
			}
		case AttrOwnerCatalog, AttrOwnerGrants, AttrOwnerLedger:
			if k, err := parseKeyValue(d.V); err == nil {
				if v.links == nil {
					v.links = map[string]corestore.Key{}
				}
				if _, set := v.links[d.A]; !set {
					v.links[d.A] = k
				}
			}
		}
	}
}

// GrantsView is what an owner's grants core says: the grants, the revocations and the newest
// checkpoint.
type GrantsView struct {
	viewBase
	grants     map[GrantID]*SignedGrant
	byGrantee  map[Principal][]*SignedGrant
	revoked    map[GrantID]time.Time
	checkpoint time.Time
}

// NewGrantsView returns an empty view of the grants core with key key.
func NewGrantsView(key corestore.Key) *GrantsView {
	v := &GrantsView{viewBase: viewBase{key: key}}
	v.reset()
	return v
}

func (v *GrantsView) reset() {
	v.grants, v.byGrantee, v.revoked, v.checkpoint = map[GrantID]*SignedGrant{}, map[Principal][]*SignedGrant{}, map[GrantID]time.Time{}, time.Time{}
}

// Update reads what the core holds and the view has not read yet.
func (v *GrantsView) Update(ctx context.Context, c *corestore.Core) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.update(ctx, c)
}

func (v *GrantsView) update(ctx context.Context, c *corestore.Core) error {
	return v.catchUp(ctx, c, v.reset, v.apply)
}

func (v *GrantsView) apply(_ uint64, t datom.Tx) {
	for _, d := range t.Datoms {
		if !d.Added {
			continue
		}
		switch d.A {
		case AttrGrantRecord:
			if d.V.Kind != datom.KindBytes {
				v.skipped++
				continue
			}
			g, err := DecodeSignedGrant(d.V.Bytes)
			if err != nil || d.E != grantPrefix+g.ID.String() {
				v.skipped++
				continue
			}
			if _, dup := v.grants[g.ID]; !dup {
				v.grants[g.ID] = g
				v.byGrantee[g.Grantee] = append(v.byGrantee[g.Grantee], g)
			}
		case AttrGrantRevoked:
			id, ok := grantEntityID(d.E)
			if !ok || d.V.Kind != datom.KindTime {
				v.skipped++
				continue
			}
			if _, already := v.revoked[id]; !already {
				v.revoked[id] = d.V.Time
			}
		case AttrCheckpointTime:
			if d.E == checkpointEntity && d.V.Kind == datom.KindTime && d.V.Time.After(v.checkpoint) {
				v.checkpoint = d.V.Time
			}
		}
	}
}

// Checkpoint returns the newest checkpoint time the view holds (zero: none).
func (v *GrantsView) Checkpoint() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checkpoint
}

// Grant returns the grant with id, whether it is revoked, and when.
func (v *GrantsView) Grant(id GrantID) (*SignedGrant, time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	g, ok := v.grants[id]
	return g, v.revoked[id], ok
}

// Revoked returns when grant id was revoked, and false when it is not.
func (v *GrantsView) Revoked(id GrantID) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.revoked[id]
	return t, ok
}

// All returns every grant, in the order the core holds them.
func (v *GrantsView) All() []*SignedGrant {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]*SignedGrant, 0, len(v.grants))
	for _, gs := range v.byGrantee {
		out = append(out, gs...)
	}
	slices.SortFunc(out, func(a, b *SignedGrant) int { return compareGrants(a, b) })
	return out
}

func compareGrants(a, b *SignedGrant) int {
	if c := a.NotBefore.Compare(b.NotBefore); c != 0 {
		return c
	}
	return slices.Compare(a.ID[:], b.ID[:])
}

// Owner returns the owner the core's first owner record names.
func (v *GrantsView) Owner() (Principal, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.owner, v.ownerOK
}

// CatalogView is what an owner's catalog core says: its assets, each at its newest record.
type CatalogView struct {
	viewBase
	assets map[string]*Asset
	byCore map[corestore.Key][]string
}

// NewCatalogView returns an empty view of the catalog core with key key.
func NewCatalogView(key corestore.Key) *CatalogView {
	v := &CatalogView{viewBase: viewBase{key: key}}
	v.reset()
	return v
}

func (v *CatalogView) reset() {
	v.assets, v.byCore = map[string]*Asset{}, map[corestore.Key][]string{}
}

// Update reads what the core holds and the view has not read yet.
func (v *CatalogView) Update(ctx context.Context, c *corestore.Core) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.update(ctx, c)
}

func (v *CatalogView) update(ctx context.Context, c *corestore.Core) error {
	return v.catchUp(ctx, c, v.reset, v.apply)
}

func (v *CatalogView) apply(_ uint64, t datom.Tx) {
	for _, d := range t.Datoms {
		if !d.Added || d.A != AttrAssetRecord {
			continue
		}
		if d.V.Kind != datom.KindBytes {
			v.skipped++
			continue
		}
		a, err := DecodeAsset(d.V.Bytes)
		if err != nil || d.E != assetPrefix+a.Name || a.Catalog != v.key {
			v.skipped++
			continue
		}
		if old := v.assets[a.Name]; old != nil {
			if old.Owner != a.Owner || old.Grants != a.Grants {
				v.skipped++ // an asset keeps its owner and grants core
				continue
			}
		}
		v.assets[a.Name] = a
		for _, m := range a.Members {
			if !slices.Contains(v.byCore[m.Core], a.Name) {
				v.byCore[m.Core] = append(v.byCore[m.Core], a.Name)
			}
		}
	}
}

// Asset returns the asset called name.
func (v *CatalogView) Asset(name string) (*Asset, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a, ok := v.assets[name]
	return a, ok
}

// Assets returns every asset, by name.
func (v *CatalogView) Assets() []*Asset {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]*Asset, 0, len(v.assets))
	for _, a := range v.assets {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Asset) int {
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// AssetsOf returns the assets with a member in core.
func (v *CatalogView) AssetsOf(core corestore.Key) []*Asset {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*Asset
	for _, n := range v.byCore[core] {
		a := v.assets[n]
		if len(a.MembersOf(core)) > 0 { // a newer record may have dropped the core
			out = append(out, a)
		}
	}
	return out
}

// errEmpty marks a view whose core has no blocks yet.
var errEmpty = errors.New("empty")
