package asset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Purpose is what a peer asks to do with a core.
type Purpose uint8

// The purposes Decide rules on.
const (
	// Download: receive the core's blocks over a sync stream.
	Download Purpose = iota
	// Release: have the core's block key released (an encrypted asset).
	Release
	// Query: run a query on the core at this peer (a compute or attribute-scoped asset).
	Query
)

// Request is what Decide rules on: a peer that wants to act on a core.
type Request struct {
	Core    *corestore.Core
	Remote  Principal
	Chains  []Chain // delegation chains the peer presented (root grants are looked up here)
	Purpose Purpose
}

// Decision is Decide's ruling.
type Decision struct {
	// Err is nil when the peer may act; otherwise it wraps one of the refusals (ErrNoGrant,
	// ErrGrantExpired, ErrGrantRevoked, ErrGrantsStale...), and its message is for the peer.
	Err error
	// Level is the strictest level of the assets the core belongs to (Public for none).
	Level Level
	// Assets are the attested assets the core belongs to.
	Assets []*Asset
	// Hint is what to tell the peer about those assets; nil when the core belongs to none.
	Hint *Hint
	// Asset and Chain are the asset and the grant chain that allowed the action, when a grant
	// was needed.
	Asset *Asset
	Chain Chain
}

// refusalRank orders the reasons a peer's grants fail, the most telling first.
var refusalRank = []error{ErrGrantsStale, ErrGrantRevoked, ErrGrantExpired, ErrGrantNotYetValid, ErrWrongAction, ErrBroaderThanParent, ErrBadGrant}

func rank(err error) int {
	for i, e := range refusalRank {
		if errors.Is(err, e) {
			return i
		}
	}
	return len(refusalRank)
}

// ErrRetired: the asset is retired by its owner; no peer serves it.
var ErrRetired = errors.New("asset retired by its owner")

// Decide rules whether this peer lets req.Remote act on req.Core. A core that belongs to no
// asset the registry knows of is public. Otherwise, by the strictest level of its assets:
//
//   - compute: never downloaded; a query needs a grant with ActQuery;
//   - granted: a download needs a grant with ActRead or ActReplicate on an asset that has the
//     whole core as a member (a part of a core is served by query only); a query needs ActQuery;
//   - encrypted: a download is served to anyone (it is ciphertext); a key release needs ActRead;
//   - public: anything is allowed.
//
// A grant counts when its chain verifies, every link of it holds now and none is revoked in the
// owner's grants core, and, at a peer that is not the owner, that core's newest checkpoint is
// younger than the chain's max-stale.
func (r *Registry) Decide(ctx context.Context, req Request) Decision {
	key := req.Core.Key()
	r.mu.Lock()
	cats := append([]corestore.Key(nil), r.claims[key]...)
	for cat, ov := range r.owners {
		if len(ov.cat.AssetsOf(key)) > 0 && !containsKey(cats, cat) {
			cats = append(cats, cat)
		}
	}
	r.mu.Unlock()
	if len(cats) == 0 {
		if req.Purpose == Release {
			return Decision{Err: fmt.Errorf("%w: core %s belongs to no asset known here", ErrNoAsset, key)}
		}
		return Decision{Level: Public}
	}
	var d Decision
	type owned struct {
		ov             *ownerViews
		grantsWritable bool
	}
	var owners []owned
	for _, cat := range cats {
		ov, ok := r.owner(cat)
		if !ok {
			continue
		}
		heldCat, heldGrants, gw, err := r.update(ctx, ov)
		if err != nil {
			return Decision{Err: fmt.Errorf("%w: %w", ErrCatalogNotHeld, err)}
		}
		if d.Hint == nil {
			d.Hint = &Hint{Owner: ov.Owner, Catalog: ov.Catalog, Grants: ov.Grants}
		}
		if !heldCat || !heldGrants {
			d.Err = fmt.Errorf("%w: catalog %s, grants %s", ErrCatalogNotHeld, ov.Catalog, ov.Grants)
			return d
		}
		as := r.attestedAssets(ctx, ov, req.Core)
		for _, a := range as {
			d.Assets = append(d.Assets, a)
			d.Level = max(d.Level, a.Level)
			if d.Hint.Catalog == ov.Catalog {
				d.Hint.Assets = append(d.Hint.Assets, HintAsset{Name: a.Name, Level: a.Level})
				if e, _, ok := a.EpochOf(key); ok && a.Level == Encrypted {
					d.Hint.KeyCheck = e.KeyCheck
				}
			}
		}
		owners = append(owners, owned{ov, gw})
	}
	if len(d.Assets) == 0 {
		d.Hint = nil
		if req.Purpose == Release {
			d.Err = fmt.Errorf("%w: core %s belongs to no asset known here", ErrNoAsset, key)
		}
		return d // claimed, but no catalog attests it: public
	}
	for _, a := range d.Assets {
		if a.State == Retired {
			d.Err = fmt.Errorf("%w: %q", ErrRetired, a.Name)
			return d
		}
	}
	var need Actions
	eligible := func(a *Asset) bool { return false }
	switch req.Purpose {
	case Download:
		switch d.Level {
		case Compute:
			d.Err = fmt.Errorf("%w: the blocks of core %s never leave the owner's peer; query the asset instead", ErrComputeOnly, key)
			return d
		case Granted:
			need = ActRead | ActReplicate
			eligible = func(a *Asset) bool { return a.Level == Granted && a.CoversWhole(key) }
		default:
			return d
		}
	case Release:
		need = ActRead
		eligible = func(a *Asset) bool { _, _, ok := a.EpochOf(key); return a.Level == Encrypted && ok }
	case Query:
		if d.Level == Public {
			return d
		}
		need = ActQuery
		eligible = func(a *Asset) bool { return a.Level == Granted || a.Level == Compute }
	}
	now := r.now()
	var best error
	consider := func(o owned, a *Asset, c Chain) bool {
		err := r.checkChain(o.ov, o.grantsWritable, a, c, req.Remote, need, now)
		if err == nil {
			d.Asset, d.Chain = a, c
			return true
		}
		if best == nil || rank(err) < rank(best) {
			best = err
		}
		return false
	}
	for _, o := range owners {
		for _, a := range d.Assets {
			if a.Catalog != o.ov.Catalog || !eligible(a) {
				continue
			}
			for _, g := range o.ov.gr.grantsTo(req.Remote) {
				if g.Catalog == a.Catalog && g.Asset == a.Name && g.Parent.IsZero() && consider(o, a, Chain{g}) {
					return d
				}
			}
			for _, c := range req.Chains {
				if len(c) > 0 && c[0].Catalog == a.Catalog && c[0].Asset == a.Name && consider(o, a, c) {
					return d
				}
			}
		}
	}
	if best == nil {
		best = ErrNoGrant
		if req.Purpose == Release && d.Level != Encrypted {
			best = fmt.Errorf("%w: core %s is not an encrypted asset's", ErrNoAsset, key)
		}
	}
	d.Err = best
	return d
}

func containsKey(ks []corestore.Key, k corestore.Key) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// To returns the grants to p the view holds.
func (v *GrantsView) To(p Principal) []*SignedGrant { return v.grantsTo(p) }

// grantsTo returns the grants to p.
func (v *GrantsView) grantsTo(p Principal) []*SignedGrant {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*SignedGrant(nil), v.byGrantee[p]...)
}

// checkChain checks one grant chain of remote for asset a.
func (r *Registry) checkChain(ov *ownerViews, grantsWritable bool, a *Asset, c Chain, remote Principal, need Actions, now time.Time) error {
	if err := c.Verify(ov.Owner); err != nil {
		return err
	}
	leaf := c.Leaf()
	if leaf.Grantee != remote {
		return fmt.Errorf("%w: grant %s is for %s, not for %s", ErrBadGrant, leaf.ID, leaf.Grantee, remote)
	}
	for _, g := range c {
		if t, revoked := ov.gr.Revoked(g.ID); revoked {
			return fmt.Errorf("%w: grant %s was revoked at %s", ErrGrantRevoked, g.ID, t.Format(time.RFC3339))
		}
	}
	if err := c.ValidAt(now); err != nil {
		return err
	}
	if !leaf.Actions.Any(need) {
		return fmt.Errorf("%w: grant %s allows %s", ErrWrongAction, leaf.ID, leaf.Actions)
	}
	if !grantsWritable {
		cp := ov.gr.Checkpoint()
		if age := now.Sub(cp); cp.IsZero() || age > c.MaxStale() {
			return fmt.Errorf("%w: the newest checkpoint of the owner's grants held here is from %s, older than the grant's max-stale %s",
				ErrGrantsStale, cp.Format(time.RFC3339), c.MaxStale())
		}
	}
	return nil
}
