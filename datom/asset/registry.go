package asset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/datomspace/datomspace/corestore"
)

// Registry is what one peer knows about assets: the owners whose catalogs and grants it follows
// (its own among them), and which of the cores it holds belong to them. It decides, for every
// peer that asks for a core, whether this peer serves it (Decide), and it is the same code on
// the owner's peer and on every replica: a replica enforces the owner's grants from its copy of
// the owner's grants core, and fails closed when that copy is too old.
//
// What it learns is kept in the store's database (under the key prefix KeyPrefix), so a replica
// that restarts goes on enforcing before it has heard from anyone.
type Registry struct {
	store *corestore.Store
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	owners   map[corestore.Key]*ownerViews     // by catalog key
	claims   map[corestore.Key][]corestore.Key // data core → catalog keys that claim it
	attested map[attestKey]error
	held     map[GrantID]Chain // delegation chains this peer presents
}

type attestKey struct {
	a    *Asset
	core corestore.Key
}

// ownerViews are the views of one owner's catalog and grants cores.
type ownerViews struct {
	Ref
	cat *CatalogView
	gr  *GrantsView
}

// Ref names an owner's asset cores.
type Ref struct {
	Owner   Principal
	Catalog corestore.Key
	Grants  corestore.Key
}

// KeyPrefix is the first byte of the keys the registry keeps in the store's database.
const KeyPrefix byte = 0xA0

const (
	kindOwner byte = 1 // KeyPrefix, 1, catalog key → owner (32) || grants key (32)
	kindClaim byte = 2 // KeyPrefix, 2, data core key, catalog key → empty
)

// RegistryOption configures a Registry.
type RegistryOption func(*Registry) error

// WithClock sets the clock grants are checked against (default time.Now).
func WithClock(now func() time.Time) RegistryOption {
	return func(r *Registry) error {
		if now == nil {
			return errors.New("asset: WithClock(nil)")
		}
		r.now = now
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) RegistryOption {
	return func(r *Registry) error {
		if l == nil {
			return errors.New("asset: WithLogger(nil)")
		}
		r.log = l
		return nil
	}
}

// OpenRegistry opens the registry of store, with what it learned before.
func OpenRegistry(ctx context.Context, store *corestore.Store, opts ...RegistryOption) (*Registry, error) {
	r := &Registry{store: store, now: time.Now, log: slog.Default(), owners: map[corestore.Key]*ownerViews{},
		claims: map[corestore.Key][]corestore.Key{}, attested: map[attestKey]error{}}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	err := store.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{KeyPrefix}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			switch {
			case len(k) == 2+32 && k[1] == kindOwner:
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if len(v) != 64 {
					r.log.Warn("asset registry: malformed owner record; ignored", "key", fmt.Sprintf("%x", k))
					continue
				}
				var ref Ref
				copy(ref.Catalog[:], k[2:])
				copy(ref.Owner[:], v[:32])
				copy(ref.Grants[:], v[32:])
				r.owners[ref.Catalog] = newOwnerViews(ref)
			case len(k) == 2+32 && k[1] == kindHeld:
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				cs, err := DecodeCredential(v)
				if err != nil || len(cs) != 1 {
					r.log.Warn("asset registry: a held chain does not decode; ignored", "err", err)
					continue
				}
				if r.held == nil {
					r.held = map[GrantID]Chain{}
				}
				r.held[cs[0].Leaf().ID] = cs[0]
			case len(k) == 2+64 && k[1] == kindClaim:
				var core, cat corestore.Key
				copy(core[:], k[2:34])
				copy(cat[:], k[34:])
				r.claims[core] = append(r.claims[core], cat)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("asset registry: %w", err)
	}
	return r, nil
}

func newOwnerViews(ref Ref) *ownerViews {
	return &ownerViews{Ref: ref, cat: NewCatalogView(ref.Catalog), gr: NewGrantsView(ref.Grants)}
}

// Now returns the registry's clock reading.
func (r *Registry) Now() time.Time { return r.now() }

// Track records an owner's catalog and grants cores, and that cores belong to its assets (as a
// hint said, or as the owner's own catalog does). From then on, the cores are served only as the
// owner's catalog and grants allow, and while this peer does not hold them it serves none of the
// cores (it fails closed). Tracking the same thing again does nothing.
func (r *Registry) Track(ctx context.Context, ref Ref, cores ...corestore.Key) error {
	if ref.Catalog == (corestore.Key{}) || ref.Grants == (corestore.Key{}) || !ref.Owner.valid() {
		return fmt.Errorf("%w: an owner reference needs an owner, a catalog and a grants core", ErrBadAsset)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var writes [][2][]byte
	if ov, ok := r.owners[ref.Catalog]; ok {
		if ov.Ref != ref {
			return fmt.Errorf("%w: catalog %s is known with another owner or grants core", ErrBadAsset, ref.Catalog)
		}
	} else {
		k := append([]byte{KeyPrefix, kindOwner}, ref.Catalog[:]...)
		writes = append(writes, [2][]byte{k, append(append([]byte{}, ref.Owner[:]...), ref.Grants[:]...)})
	}
	var newClaims []corestore.Key
	for _, c := range cores {
		if !slices.Contains(r.claims[c], ref.Catalog) && !slices.Contains(newClaims, c) {
			newClaims = append(newClaims, c)
			k := append(append([]byte{KeyPrefix, kindClaim}, c[:]...), ref.Catalog[:]...)
			writes = append(writes, [2][]byte{k, {}})
		}
	}
	if len(writes) == 0 {
		return nil
	}
	err := r.store.DB().Update(func(txn *badger.Txn) error {
		for _, w := range writes {
			if err := txn.Set(w[0], w[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("asset registry: %w", err)
	}
	if _, ok := r.owners[ref.Catalog]; !ok {
		r.owners[ref.Catalog] = newOwnerViews(ref)
	}
	for _, c := range newClaims {
		r.claims[c] = append(r.claims[c], ref.Catalog)
	}
	return nil
}

// Owners returns every owner the registry tracks.
func (r *Registry) Owners() []Ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Ref, 0, len(r.owners))
	for _, ov := range r.owners {
		out = append(out, ov.Ref)
	}
	slices.SortFunc(out, func(a, b Ref) int { return slices.Compare(a.Catalog[:], b.Catalog[:]) })
	return out
}

// Claimed reports whether core belongs, as far as this peer was told, to some owner's assets.
func (r *Registry) Claimed(core corestore.Key) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.claims[core]) > 0
}

// owner returns the views of the owner with catalog key cat.
func (r *Registry) owner(cat corestore.Key) (*ownerViews, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ov, ok := r.owners[cat]
	return ov, ok
}

// update brings an owner's views up to date with what the store holds: heldCatalog and
// heldGrants say whether the store holds blocks of each.
func (r *Registry) update(ctx context.Context, ov *ownerViews) (heldCatalog, heldGrants bool, grantsWritable bool, err error) {
	cc, err := r.store.Get(ctx, ov.Catalog)
	switch {
	case err == nil:
		if err := ov.cat.Update(ctx, cc); err != nil {
			return false, false, false, err
		}
		heldCatalog = cc.Contiguous() > 0
	case !errors.Is(err, corestore.ErrNotFound):
		return false, false, false, err
	}
	gc, err := r.store.Get(ctx, ov.Grants)
	switch {
	case err == nil:
		if err := ov.gr.Update(ctx, gc); err != nil {
			return false, false, false, err
		}
		heldGrants, grantsWritable = gc.Contiguous() > 0, gc.Writable()
	case !errors.Is(err, corestore.ErrNotFound):
		return false, false, false, err
	}
	return heldCatalog, heldGrants, grantsWritable, nil
}

// Catalog returns the current view of the catalog with key cat, brought up to date.
func (r *Registry) Catalog(ctx context.Context, cat corestore.Key) (*CatalogView, *GrantsView, error) {
	ov, ok := r.owner(cat)
	if !ok {
		return nil, nil, fmt.Errorf("%w: catalog %s is not tracked here", ErrNoAsset, cat)
	}
	if _, _, _, err := r.update(ctx, ov); err != nil {
		return nil, nil, err
	}
	return ov.cat, ov.gr, nil
}

// attestedAssets returns the assets of ov's catalog that have core as a member and whose member
// attestation checks: the member's manifest hashes to the core key and its key signed it.
func (r *Registry) attestedAssets(ctx context.Context, ov *ownerViews, core *corestore.Core) []*Asset {
	var out []*Asset
	for _, a := range ov.cat.AssetsOf(core.Key()) {
		if a.Owner != ov.Owner || a.Grants != ov.Grants {
			continue
		}
		k := attestKey{a, core.Key()}
		r.mu.Lock()
		err, done := r.attested[k]
		r.mu.Unlock()
		if !done {
			for _, mem := range a.MembersOf(core.Key()) {
				if err = a.CheckAttestation(mem); err != nil {
					break
				}
			}
			r.mu.Lock()
			r.attested[k] = err
			r.mu.Unlock()
		}
		if err != nil {
			r.log.Debug("asset member attestation fails; the claim is ignored", "asset", a.Name, "core", core.Key().String(), "err", err)
			continue
		}
		out = append(out, a)
	}
	return out
}

const kindHeld byte = 3 // KeyPrefix, 3, leaf grant id → the encoded chain (a credential of one chain)

// Hold keeps a delegation chain this peer was given, so that it presents it (HeldFor) when it
// opens a stream for a core of the chain's asset. The chain must link up from a root grant of the
// owner of its catalog, as far as the registry knows the owner.
func (r *Registry) Hold(ctx context.Context, c Chain) error {
	if len(c) == 0 {
		return fmt.Errorf("%w: an empty chain", ErrBadGrant)
	}
	if ov, ok := r.owner(c[0].Catalog); ok {
		if err := c.Verify(ov.Owner); err != nil {
			return err
		}
	}
	b, err := EncodeCredential([]Chain{c})
	if err != nil {
		return err
	}
	leaf := c.Leaf().ID
	err = r.store.DB().Update(func(txn *badger.Txn) error {
		return txn.Set(append([]byte{KeyPrefix, kindHeld}, leaf[:]...), b)
	})
	if err != nil {
		return fmt.Errorf("asset registry: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held == nil {
		r.held = map[GrantID]Chain{}
	}
	r.held[leaf] = c
	return nil
}

// Held returns the delegation chains the registry holds.
func (r *Registry) Held() []Chain {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Chain, 0, len(r.held))
	for _, c := range r.held {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Chain) int { return slices.Compare(a.Leaf().ID[:], b.Leaf().ID[:]) })
	return out
}

// HeldFor returns the held chains to grantee for the catalogs that claim core.
func (r *Registry) HeldFor(core corestore.Key, grantee Principal) []Chain {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Chain
	for _, c := range r.held {
		if c.Leaf().Grantee == grantee && containsKey(r.claims[core], c[0].Catalog) {
			out = append(out, c)
		}
	}
	return out
}

// Cores returns every core the registry knows to belong to assets: those it was told of and the
// members of the assets of the catalogs it has read.
func (r *Registry) Cores() []corestore.Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[corestore.Key]bool{}
	var out []corestore.Key
	for k := range r.claims {
		seen[k] = true
		out = append(out, k)
	}
	for _, ov := range r.owners {
		ov.cat.mu.Lock()
		for k := range ov.cat.byCore {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		ov.cat.mu.Unlock()
	}
	return out
}
