package asset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// The names of an owner's asset cores in its store. They are ordinary writable cores, created on
// first use and announced like any other; the ledger is encrypted with a key only its owner holds.
const (
	CatalogName = "datomspace/catalog"
	GrantsName  = "datomspace/grants"
	LedgerName  = "datomspace/ledger"
)

// epochName names the core of key epoch n of an encrypted asset.
func epochName(asset string, n int) string { return fmt.Sprintf("datomspace/epoch/%s/%d", asset, n) }

// Owner is the writing side of an owner's assets: it creates assets in the catalog, issues and
// revokes grants in the grants core, appends checkpoints and records key releases in the ledger.
// Everything it writes is a datom transaction signed by the core it goes to; grants are
// signed by the owner's identity as well.
type Owner struct {
	store  *corestore.Store
	signer *Signer
	reg    *Registry
	now    func() time.Time

	mu                      sync.Mutex // serializes the writes that read before they append
	catalog, grants, ledger *corestore.Core
}

// NewOwner returns the owner of the assets of store, signing as signer and tracking its cores in
// reg. Nothing is created until it is first used.
func NewOwner(store *corestore.Store, signer *Signer, reg *Registry) *Owner {
	return &Owner{store: store, signer: signer, reg: reg, now: reg.Now}
}

// Principal returns the owner's identity.
func (o *Owner) Principal() Principal { return o.signer.Principal() }

// Signer returns the owner's signer.
func (o *Owner) Signer() *Signer { return o.signer }

// Exists reports whether the owner's asset cores exist already.
func (o *Owner) Exists(ctx context.Context) bool {
	_, err := o.store.Get(ctx, o.store.KeyForName(CatalogName))
	return err == nil
}

// Ref returns the owner's reference: its identity and the keys its catalog and grants cores have
// (or will have).
func (o *Owner) Ref() Ref {
	return Ref{Owner: o.signer.Principal(), Catalog: o.store.KeyForName(CatalogName), Grants: o.store.KeyForName(GrantsName)}
}

// LedgerKey returns the key of the owner's ledger core.
func (o *Owner) LedgerKey() corestore.Key { return o.store.KeyForName(LedgerName) }

// Cores returns the owner's catalog, grants and ledger cores, creating them on first use.
func (o *Owner) Cores(ctx context.Context) (catalog, grants, ledger *corestore.Core, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.init(ctx); err != nil {
		return nil, nil, nil, err
	}
	return o.catalog, o.grants, o.ledger, nil
}

func (o *Owner) init(ctx context.Context) error {
	if o.catalog != nil {
		return nil
	}
	ref := o.Ref()
	now := o.now()
	cat, err := o.store.Create(ctx, CatalogName)
	if err != nil {
		return err
	}
	gr, err := o.store.Create(ctx, GrantsName)
	if err != nil {
		return err
	}
	led, err := o.store.Get(ctx, o.LedgerKey())
	if errors.Is(err, corestore.ErrNotFound) {
		k, kerr := corestore.GenerateEncryptionKey()
		if kerr != nil {
			return kerr
		}
		led, err = o.store.Create(ctx, LedgerName, corestore.WithEncryptionKey(k))
	}
	if err != nil {
		return err
	}
	if cat.Length() == 0 {
		ds := append(catalogSchema(), ownerDatoms(ref.Owner, map[string]corestore.Key{AttrOwnerGrants: ref.Grants, AttrOwnerLedger: o.LedgerKey()})...)
		if err := o.append(ctx, cat, now, ds); err != nil {
			return err
		}
	}
	if gr.Length() == 0 {
		ds := append(grantsSchema(), ownerDatoms(ref.Owner, map[string]corestore.Key{AttrOwnerCatalog: ref.Catalog})...)
		if err := o.append(ctx, gr, now, append(ds, checkpointDatom(now))); err != nil {
			return err
		}
	}
	if led.Length() == 0 {
		if err := o.append(ctx, led, now, ledgerSchema()); err != nil {
			return err
		}
	}
	if err := o.reg.Track(ctx, ref); err != nil {
		return err
	}
	o.catalog, o.grants, o.ledger = cat, gr, led
	return nil
}

func (o *Owner) append(ctx context.Context, c *corestore.Core, t time.Time, ds []datom.Datom) error {
	b, err := encodeTx(t, ds)
	if err != nil {
		return err
	}
	_, err = c.Append(ctx, b)
	return err
}

// MemberSpec names one member of a new asset.
type MemberSpec struct {
	Core   corestore.Key
	Attrs  []string
	Prefix string
}

// AssetSpec describes a new asset.
type AssetSpec struct {
	Name     string
	Members  []MemberSpec
	Category string
	Level    Level
	Schema   map[string]string
	Queries  []string
	Doc      string
}

// CreateAsset adds an asset to the catalog. Every member core must be writable here (its key
// attests the membership); an encrypted asset's must be encrypted with their keys held here, and
// each becomes one key epoch; a compute asset needs at least one allowed query.
func (o *Owner) CreateAsset(ctx context.Context, spec AssetSpec) (*Asset, error) {
	if err := CheckName(spec.Name); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.init(ctx); err != nil {
		return nil, err
	}
	view, _, err := o.reg.Catalog(ctx, o.catalog.Key())
	if err != nil {
		return nil, err
	}
	if _, ok := view.Asset(spec.Name); ok {
		return nil, fmt.Errorf("%w: %q", ErrAssetExists, spec.Name)
	}
	if len(spec.Members) == 0 {
		return nil, fmt.Errorf("%w: an asset needs at least one core", ErrBadAsset)
	}
	if spec.Level == Compute {
		if len(spec.Queries) == 0 {
			return nil, fmt.Errorf("%w: a compute asset needs its allowed queries", ErrBadAsset)
		}
		for _, q := range spec.Queries {
			if _, err := datom.ParseQuery([]byte(q)); err != nil {
				return nil, fmt.Errorf("%w: allowed query %q: %w", ErrBadAsset, q, err)
			}
		}
	}
	now := o.now()
	ref := o.Ref()
	a := &Asset{Name: spec.Name, Owner: ref.Owner, Catalog: ref.Catalog, Grants: ref.Grants, Category: spec.Category,
		Level: spec.Level, Schema: spec.Schema, State: Active, Queries: spec.Queries, Doc: spec.Doc, Time: now}
	var cores []corestore.Key
	for _, ms := range spec.Members {
		c, err := o.store.Get(ctx, ms.Core)
		if err != nil {
			return nil, err
		}
		m, err := o.member(c, ms)
		if err != nil {
			return nil, err
		}
		a.Members = append(a.Members, m)
		in := c.Info()
		a.Pins = append(a.Pins, Pin{Core: c.Key(), Length: in.Length, TreeHash: in.TreeHash})
		if spec.Level == Encrypted {
			kc, ok := c.KeyCheck()
			if _, held := c.BlockKey(); !ok || !held {
				return nil, fmt.Errorf("%w: core %s is not encrypted with a key held here", ErrBadAsset, c.Key())
			}
			a.Epochs = append(a.Epochs, Epoch{Core: c.Key(), KeyCheck: kc, Since: now})
		}
		cores = append(cores, c.Key())
	}
	if err := a.Check(); err != nil {
		return nil, err
	}
	if err := o.reg.Track(ctx, ref, cores...); err != nil {
		return nil, err
	}
	ds := append(assetDatoms(a), assetCoreDatoms(a, nil)...)
	if err := o.append(ctx, o.catalog, now, ds); err != nil {
		return nil, err
	}
	return a, nil
}

// member attests one member core.
func (o *Owner) member(c *corestore.Core, ms MemberSpec) (Member, error) {
	if !c.Writable() {
		return Member{}, fmt.Errorf("%w: core %s is a replica here; only its owner's peer can make it an asset", ErrNotOwner, c.Key())
	}
	attrs := slices.Clone(ms.Attrs)
	slices.Sort(attrs)
	attrs = slices.Compact(attrs)
	ref := o.Ref()
	sig, err := c.Attest(nsMember, MemberStatement(ref.Owner, ref.Catalog, ref.Grants))
	if err != nil {
		return Member{}, err
	}
	return Member{Core: c.Key(), Attrs: attrs, Prefix: ms.Prefix, Manifest: c.Manifest().Encode(), Attestation: sig}, nil
}

// UpdateAsset writes a new record of an existing asset: a change of state, category, doc, or
// queries. Its owner, catalog, grants and members must not change here.
func (o *Owner) UpdateAsset(ctx context.Context, name string, change func(a *Asset) error) (*Asset, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.init(ctx); err != nil {
		return nil, err
	}
	return o.updateAsset(ctx, name, change)
}

func (o *Owner) updateAsset(ctx context.Context, name string, change func(a *Asset) error) (*Asset, error) {
	view, _, err := o.reg.Catalog(ctx, o.catalog.Key())
	if err != nil {
		return nil, err
	}
	old, ok := view.Asset(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAsset, name)
	}
	a := *old
	a.Members, a.Pins, a.Epochs, a.Queries = slices.Clone(old.Members), slices.Clone(old.Pins), slices.Clone(old.Epochs), slices.Clone(old.Queries)
	if err := change(&a); err != nil {
		return nil, err
	}
	a.Name, a.Owner, a.Catalog, a.Grants, a.Time = old.Name, old.Owner, old.Catalog, old.Grants, o.now()
	if err := a.Check(); err != nil {
		return nil, err
	}
	ds := append(assetDatoms(&a), assetCoreDatoms(&a, old)...)
	if err := o.append(ctx, o.catalog, a.Time, ds); err != nil {
		return nil, err
	}
	return &a, nil
}

// Asset returns the owner's asset called name.
func (o *Owner) Asset(ctx context.Context, name string) (*Asset, error) {
	view, _, err := o.views(ctx)
	if err != nil {
		return nil, err
	}
	a, ok := view.Asset(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAsset, name)
	}
	return a, nil
}

// assetLocked is Asset with o.mu held and the cores initialised.
func (o *Owner) assetLocked(ctx context.Context, name string) (*Asset, error) {
	view, _, err := o.reg.Catalog(ctx, o.catalog.Key())
	if err != nil {
		return nil, err
	}
	a, ok := view.Asset(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAsset, name)
	}
	return a, nil
}

// views returns the owner's own catalog and grants views.
func (o *Owner) views(ctx context.Context) (*CatalogView, *GrantsView, error) {
	if _, _, _, err := o.Cores(ctx); err != nil {
		return nil, nil, err
	}
	return o.reg.Catalog(ctx, o.Ref().Catalog)
}

// Views returns the owner's own catalog and grants views, up to date.
func (o *Owner) Views(ctx context.Context) (*CatalogView, *GrantsView, error) { return o.views(ctx) }

// Grant issues a root grant of one of the owner's assets, appends it to the grants core and
// returns it. g's Issuer and Catalog are the owner's; Asset must name an asset of the catalog
// that takes new grants.
func (o *Owner) Grant(ctx context.Context, g Grant) (*SignedGrant, error) {
	a, err := o.Asset(ctx, g.Asset)
	if err != nil {
		return nil, err
	}
	switch a.State {
	case EndOfLife, Retired, Closed:
		return nil, fmt.Errorf("%w: asset %q is %s and takes no new grants", ErrBadGrant, a.Name, a.State)
	}
	g.Issuer, g.Catalog, g.Parent = o.Principal(), a.Catalog, GrantID{}
	sg, err := g.Sign(o.signer)
	if err != nil {
		return nil, err
	}
	now := o.now()
	if err := o.append(ctx, o.grants, now, append(grantDatoms(sg), checkpointDatom(now))); err != nil {
		return nil, err
	}
	return sg, nil
}

// Rotation says what a revocation of a grant on an encrypted asset did: it started a new key
// epoch, a new core with a new key, which the grantees that remain read with a new key release.
type Rotation struct {
	Asset *Asset
	Epoch Epoch
	Core  *corestore.Core
}

// Revoke revokes grant id (a root grant of the owner's, or any link of a delegation chain: its
// id is enough) and appends a checkpoint with it, so that an enforcing peer that is fresh enough
// has heard of it. Revoking a grant of an encrypted asset rotates the asset to a new key epoch.
func (o *Owner) Revoke(ctx context.Context, id GrantID) (*Rotation, error) {
	_, gv, err := o.views(ctx)
	if err != nil {
		return nil, err
	}
	if _, already := gv.Revoked(id); already {
		return nil, nil
	}
	g, _, known := gv.Grant(id)
	now := o.now()
	ds := []datom.Datom{datom.Add(grantPrefix+id.String(), AttrGrantRevoked, datom.Time(now)), checkpointDatom(now)}
	if err := o.append(ctx, o.grants, now, ds); err != nil {
		return nil, err
	}
	if !known {
		return nil, nil
	}
	a, err := o.Asset(ctx, g.Asset)
	if err != nil || a.Level != Encrypted {
		return nil, nil
	}
	return o.Rotate(ctx, a.Name)
}

// Rotate starts a new key epoch of an encrypted asset: a new core, encrypted with a new key, is
// added as a member and as the newest epoch. What was appended to the earlier epochs stays
// readable with their keys; what is appended to the new one needs its key.
func (o *Owner) Rotate(ctx context.Context, name string) (*Rotation, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.init(ctx); err != nil {
		return nil, err
	}
	a, err := o.assetLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	if a.Level != Encrypted {
		return nil, fmt.Errorf("%w: asset %q is not encrypted", ErrBadAsset, name)
	}
	k, err := corestore.GenerateEncryptionKey()
	if err != nil {
		return nil, err
	}
	c, err := o.store.Create(ctx, epochName(name, len(a.Epochs)), corestore.WithEncryptionKey(k))
	if err != nil {
		return nil, err
	}
	m, err := o.member(c, MemberSpec{Core: c.Key()})
	if err != nil {
		return nil, err
	}
	kc, _ := c.KeyCheck()
	ep := Epoch{Core: c.Key(), KeyCheck: kc, Since: o.now()}
	if err := o.reg.Track(ctx, o.Ref(), c.Key()); err != nil {
		return nil, err
	}
	na, err := o.updateAsset(ctx, name, func(x *Asset) error {
		x.Members = append(x.Members, m)
		x.Epochs = append(x.Epochs, ep)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Rotation{Asset: na, Epoch: ep, Core: c}, nil
}

// Checkpoint appends a time checkpoint to the grants core, if the owner has one. Enforcing peers
// refuse grants whose max-stale is shorter than the age of the newest checkpoint they hold.
func (o *Owner) Checkpoint(ctx context.Context) error {
	if !o.Exists(ctx) {
		return nil
	}
	if _, _, _, err := o.Cores(ctx); err != nil {
		return err
	}
	now := o.now()
	return o.append(ctx, o.grants, now, []datom.Datom{checkpointDatom(now)})
}
