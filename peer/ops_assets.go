package peer

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/datom/asset"
)

// assetRoutes are the operations on data assets: the catalog, grants, ownership proofs and
// queries on an owner's peer.
func assetRoutes() []route {
	return []route{OpAssetCreate, OpAssets, OpAssetShow, OpAssetState, OpGrant, OpGrants, OpRevoke, OpHoldGrant, OpProve, OpAssetQuery}
}

// AssetInfo describes an asset; the JSON field names are part of the CLI's contract.
type AssetInfo struct {
	Name     string            `json:"name"`
	Owner    string            `json:"owner"`
	OwnerDID string            `json:"ownerDID"`
	Catalog  string            `json:"catalog"`
	Grants   string            `json:"grants"`
	Members  []MemberInfo      `json:"members"`
	Pins     []PinInfo         `json:"pins,omitempty"`
	Category string            `json:"category,omitempty"`
	Level    string            `json:"level"`
	State    string            `json:"state"`
	Schema   map[string]string `json:"schema,omitempty"`
	Queries  []string          `json:"queries,omitempty"`
	Epochs   []EpochInfo       `json:"epochs,omitempty"`
	Doc      string            `json:"doc,omitempty"`
	Time     time.Time         `json:"time"`
}

// MemberInfo is one member of an asset.
type MemberInfo struct {
	Core   string   `json:"core"`
	Attrs  []string `json:"attrs,omitempty"`
	Prefix string   `json:"prefix,omitempty"`
}

// PinInfo is a version pin.
type PinInfo struct {
	Core     string `json:"core"`
	Length   uint64 `json:"length"`
	TreeHash string `json:"treeHash"`
}

// EpochInfo is one key epoch of an encrypted asset.
type EpochInfo struct {
	Core     string    `json:"core"`
	KeyCheck string    `json:"keyCheck"`
	Since    time.Time `json:"since"`
}

func assetInfo(a *asset.Asset) AssetInfo {
	in := AssetInfo{Name: a.Name, Owner: a.Owner.String(), OwnerDID: a.Owner.DID(), Catalog: a.Catalog.String(), Grants: a.Grants.String(),
		Category: a.Category, Level: a.Level.String(), State: a.State.String(), Schema: a.Schema, Queries: a.Queries, Doc: a.Doc, Time: a.Time}
	for _, m := range a.Members {
		in.Members = append(in.Members, MemberInfo{Core: m.Core.String(), Attrs: m.Attrs, Prefix: m.Prefix})
	}
	for _, p := range a.Pins {
		in.Pins = append(in.Pins, PinInfo{Core: p.Core.String(), Length: p.Length, TreeHash: p.TreeHash.String()})
	}
	for _, e := range a.Epochs {
		in.Epochs = append(in.Epochs, EpochInfo{Core: e.Core.String(), KeyCheck: e.KeyCheck.String(), Since: e.Since})
	}
	return in
}

// AssetCreateRequest describes a new asset of one core.
type AssetCreateRequest struct {
	Name string `json:"name"`
	// Core is the member core: its key or the name of a writable core.
	Core     string   `json:"core"`
	Attrs    []string `json:"attrs,omitempty"`
	Prefix   string   `json:"prefix,omitempty"`
	Category string   `json:"category,omitempty"`
	// Level is public (default), granted, encrypted or compute.
	Level   string   `json:"level,omitempty"`
	Queries []string `json:"queries,omitempty"`
	Doc     string   `json:"doc,omitempty"`
}

// OpAssetCreate adds an asset to this peer's catalog, creating the catalog, grants and ledger
// cores on first use. The core must be writable here.
var OpAssetCreate = Op[AssetCreateRequest, AssetInfo]{Name: "asset/create", Run: func(ctx context.Context, l *Local, req AssetCreateRequest) (AssetInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return AssetInfo{}, err
	}
	c, err := l.Core(ctx, req.Core)
	if err != nil {
		return AssetInfo{}, err
	}
	level := asset.Public
	if req.Level != "" {
		if level, err = asset.ParseLevel(req.Level); err != nil {
			return AssetInfo{}, err
		}
	}
	spec := asset.AssetSpec{Name: req.Name, Members: []asset.MemberSpec{{Core: c.Key(), Attrs: req.Attrs, Prefix: req.Prefix}},
		Category: req.Category, Level: level, Queries: req.Queries, Doc: req.Doc}
	if db, err := l.DB(ctx); err == nil {
		if sch, err := db.Schema(ctx, c.Key()); err == nil {
			spec.Schema = map[string]string{}
			for name, at := range sch {
				if strings.HasPrefix(name, "db/") || at.Type == 0 || (len(req.Attrs) > 0 && !slices.Contains(req.Attrs, name)) {
					continue
				}
				spec.Schema[name] = at.Type.String()
			}
		}
	}
	a, err := s.owner.CreateAsset(ctx, spec)
	if err != nil {
		return AssetInfo{}, err
	}
	return assetInfo(a), nil
}}

// AssetsRequest selects a catalog: this peer's own (empty), or another owner's by its key.
type AssetsRequest struct {
	Catalog string `json:"catalog,omitempty"`
}

// catalogOf returns the view of the catalog req names.
func (s *assetService) catalogOf(ctx context.Context, catalog string) (*asset.CatalogView, *asset.GrantsView, error) {
	if catalog == "" {
		if !s.owner.Exists(ctx) {
			return nil, nil, fmt.Errorf("%w: this peer has no assets yet (its catalog is created with the first one)", asset.ErrNoAsset)
		}
		return s.owner.Views(ctx)
	}
	k, err := corestore.ParseKey(catalog)
	if err != nil {
		return nil, nil, err
	}
	return s.reg.Catalog(ctx, k)
}

// OpAssets lists the assets of a catalog, unlisted and retired ones included.
var OpAssets = Op[AssetsRequest, []AssetInfo]{Name: "assets", Run: func(ctx context.Context, l *Local, req AssetsRequest) ([]AssetInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return nil, err
	}
	if req.Catalog == "" && !s.owner.Exists(ctx) {
		return []AssetInfo{}, nil
	}
	view, _, err := s.catalogOf(ctx, req.Catalog)
	if err != nil {
		return nil, err
	}
	out := []AssetInfo{}
	for _, a := range view.Assets() {
		out = append(out, assetInfo(a))
	}
	return out, nil
}}

// AssetRef names an asset in a catalog (this peer's own when Catalog is empty).
type AssetRef struct {
	Name    string `json:"name"`
	Catalog string `json:"catalog,omitempty"`
}

// OpAssetShow describes one asset.
var OpAssetShow = Op[AssetRef, AssetInfo]{Name: "asset/show", Run: func(ctx context.Context, l *Local, req AssetRef) (AssetInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return AssetInfo{}, err
	}
	view, _, err := s.catalogOf(ctx, req.Catalog)
	if err != nil {
		return AssetInfo{}, err
	}
	a, ok := view.Asset(req.Name)
	if !ok {
		return AssetInfo{}, fmt.Errorf("%w: %q", asset.ErrNoAsset, req.Name)
	}
	return assetInfo(a), nil
}}

// AssetStateRequest changes an asset's lifecycle state.
type AssetStateRequest struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// OpAssetState sets the lifecycle state of one of this peer's assets.
var OpAssetState = Op[AssetStateRequest, AssetInfo]{Name: "asset/state", Run: func(ctx context.Context, l *Local, req AssetStateRequest) (AssetInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return AssetInfo{}, err
	}
	st, err := asset.ParseState(req.State)
	if err != nil {
		return AssetInfo{}, err
	}
	a, err := s.owner.UpdateAsset(ctx, req.Name, func(a *asset.Asset) error { a.State = st; return nil })
	if err != nil {
		return AssetInfo{}, err
	}
	return assetInfo(a), nil
}}

// GrantInfo describes a grant; the JSON field names are part of the CLI's contract.
type GrantInfo struct {
	ID        string     `json:"id"`
	Asset     string     `json:"asset"`
	Catalog   string     `json:"catalog"`
	Issuer    string     `json:"issuer"`
	Grantee   string     `json:"grantee"`
	Actions   string     `json:"actions"`
	NotBefore *time.Time `json:"notBefore,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	Volume    uint64     `json:"volume,omitempty"`
	MaxStale  string     `json:"maxStale"`
	Parent    string     `json:"parent,omitempty"`
	// Status is active, not yet valid, expired or revoked, at the time of the listing.
	Status  string     `json:"status"`
	Revoked *time.Time `json:"revoked,omitempty"`
	// Token is the chain of a delegated grant, for its grantee to import (`grants import`).
	Token string `json:"token,omitempty"`
}

func grantInfo(g *asset.SignedGrant, revoked time.Time, isRevoked bool, now time.Time) GrantInfo {
	in := GrantInfo{ID: g.ID.String(), Asset: g.Asset, Catalog: g.Catalog.String(), Issuer: g.Issuer.String(), Grantee: g.Grantee.String(),
		Actions: g.Actions.String(), Volume: g.Volume, MaxStale: g.MaxStale.String(), Status: "active"}
	if !g.NotBefore.IsZero() {
		t := g.NotBefore
		in.NotBefore = &t
	}
	if !g.Expires.IsZero() {
		t := g.Expires
		in.Expires = &t
	}
	if !g.Parent.IsZero() {
		in.Parent = g.Parent.String()
	}
	switch err := (asset.Chain{g}).ValidAt(now); {
	case isRevoked:
		in.Status, in.Revoked = "revoked", &revoked
	case err != nil && strings.Contains(err.Error(), asset.ErrGrantExpired.Error()):
		in.Status = "expired"
	case err != nil:
		in.Status = "not yet valid"
	}
	return in
}

// GrantRequest issues a grant of one of this peer's assets, or, with Parent, delegates a grant
// this peer holds.
type GrantRequest struct {
	Asset string `json:"asset"`
	// Grantee is a libp2p peer ID or an Ed25519 did:key.
	Grantee   string        `json:"grantee"`
	Actions   string        `json:"actions,omitempty"` // comma-separated; default read
	NotBefore time.Time     `json:"notBefore,omitzero"`
	Expires   time.Time     `json:"expires,omitzero"`
	Volume    uint64        `json:"volume,omitempty"`
	MaxStale  time.Duration `json:"maxStale,omitempty"`
	// Parent is the id of a grant to this peer to delegate from; Catalog names the owner's
	// catalog then (default: the one that holds the parent).
	Parent string `json:"parent,omitempty"`
}

// OpGrant issues a grant and returns it. A root grant is appended to this peer's grants core,
// where every enforcing peer finds it; a delegated grant comes back with its Token, the chain
// its grantee imports.
var OpGrant = Op[GrantRequest, GrantInfo]{Name: "grant", Run: func(ctx context.Context, l *Local, req GrantRequest) (GrantInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return GrantInfo{}, err
	}
	grantee, err := asset.ParsePrincipal(req.Grantee)
	if err != nil {
		return GrantInfo{}, err
	}
	actions := asset.ActRead
	if req.Actions != "" {
		if actions, err = asset.ParseActions(req.Actions); err != nil {
			return GrantInfo{}, err
		}
	}
	g := asset.Grant{Grantee: grantee, Asset: req.Asset, Actions: actions, NotBefore: req.NotBefore, Expires: req.Expires,
		Volume: req.Volume, MaxStale: req.MaxStale}
	now := s.reg.Now()
	if req.Parent == "" {
		sg, err := s.owner.Grant(ctx, g)
		if err != nil {
			return GrantInfo{}, err
		}
		return grantInfo(sg, time.Time{}, false, now), nil
	}
	pid, err := asset.ParseGrantID(req.Parent)
	if err != nil {
		return GrantInfo{}, err
	}
	parent, err := s.chainOf(ctx, pid)
	if err != nil {
		return GrantInfo{}, err
	}
	p := parent.Leaf()
	g.Issuer, g.Catalog, g.Parent = s.signer.Principal(), p.Catalog, p.ID
	if g.Asset == "" {
		g.Asset = p.Asset
	}
	if g.MaxStale == 0 {
		g.MaxStale = p.MaxStale
	}
	if g.Expires.IsZero() {
		g.Expires = p.Expires
	}
	if g.Volume == 0 {
		g.Volume = p.Volume
	}
	if g.NotBefore.IsZero() {
		g.NotBefore = p.NotBefore
	}
	sg, err := g.Sign(s.signer)
	if err != nil {
		return GrantInfo{}, err
	}
	chain := append(slices.Clone(parent), sg)
	if err := chain.Verify(parent[0].Issuer); err != nil {
		return GrantInfo{}, err
	}
	tok, err := asset.EncodeCredential([]asset.Chain{chain})
	if err != nil {
		return GrantInfo{}, err
	}
	in := grantInfo(sg, time.Time{}, false, now)
	in.Token = base64.RawURLEncoding.EncodeToString(tok)
	return in, nil
}}

// chainOf returns the chain of grant id to this peer: a chain it holds, or a root grant to it
// in a grants core it tracks.
func (s *assetService) chainOf(ctx context.Context, id asset.GrantID) (asset.Chain, error) {
	for _, c := range s.reg.Held() {
		if c.Leaf().ID == id {
			return c, nil
		}
	}
	for _, ref := range s.reg.Owners() {
		_, gv, err := s.reg.Catalog(ctx, ref.Catalog)
		if err != nil {
			continue
		}
		if g, _, ok := gv.Grant(id); ok && g.Grantee == s.signer.Principal() && g.Parent.IsZero() {
			return asset.Chain{g}, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not a grant to this peer that it knows of (import a delegated one with `grants import`)", asset.ErrNoSuchGrant, id)
}

// GrantsRequest lists the grants of this peer's assets (Asset selects one), the grants to this
// peer in the grants cores of the owners it tracks, and the delegated chains it holds.
type GrantsRequest struct {
	Asset string `json:"asset,omitempty"`
}

// OpGrants lists the grants in this peer's grants core, the grants to it that it knows of in other
// owners' grants cores, and the delegated chains it holds.
var OpGrants = Op[GrantsRequest, []GrantInfo]{Name: "grants", Run: func(ctx context.Context, l *Local, req GrantsRequest) ([]GrantInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return nil, err
	}
	now := s.reg.Now()
	out := []GrantInfo{}
	if s.owner.Exists(ctx) {
		_, gv, err := s.owner.Views(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range gv.All() {
			if req.Asset != "" && g.Asset != req.Asset {
				continue
			}
			t, revoked := gv.Revoked(g.ID)
			out = append(out, grantInfo(g, t, revoked, now))
		}
	}
	me := s.signer.Principal()
	for _, ref := range s.reg.Owners() {
		if ref.Owner == me {
			continue
		}
		_, gv, err := s.reg.Catalog(ctx, ref.Catalog)
		if err != nil {
			continue
		}
		for _, g := range gv.To(me) {
			if req.Asset != "" && g.Asset != req.Asset {
				continue
			}
			t, revoked := gv.Revoked(g.ID)
			out = append(out, grantInfo(g, t, revoked, now))
		}
	}
	for _, c := range s.reg.Held() {
		g := c.Leaf()
		if req.Asset != "" && g.Asset != req.Asset {
			continue
		}
		in := grantInfo(g, time.Time{}, false, now)
		if _, gv, err := s.reg.Catalog(ctx, g.Catalog); err == nil {
			for _, link := range c {
				if t, revoked := gv.Revoked(link.ID); revoked {
					in.Status, in.Revoked = "revoked", &t
				}
			}
		}
		out = append(out, in)
	}
	return out, nil
}}

// RevokeRequest names the grant to revoke: its id, or a unique prefix of it.
type RevokeRequest struct {
	Grant string `json:"grant"`
}

// RevokeReply says what a revocation did.
type RevokeReply struct {
	Grant string `json:"grant"`
	// Epoch is the new key epoch, when the grant's asset is encrypted: new data goes to its core.
	Epoch *EpochInfo `json:"epoch,omitempty"`
}

// OpRevoke revokes a grant: a revocation and a checkpoint are appended to the grants core. For
// an encrypted asset it starts a new key epoch.
var OpRevoke = Op[RevokeRequest, RevokeReply]{Name: "revoke", Run: func(ctx context.Context, l *Local, req RevokeRequest) (RevokeReply, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return RevokeReply{}, err
	}
	id, err := s.resolveGrant(ctx, req.Grant)
	if err != nil {
		return RevokeReply{}, err
	}
	rot, err := s.owner.Revoke(ctx, id)
	if err != nil {
		return RevokeReply{}, err
	}
	out := RevokeReply{Grant: id.String()}
	if rot != nil {
		out.Epoch = &EpochInfo{Core: rot.Epoch.Core.String(), KeyCheck: rot.Epoch.KeyCheck.String(), Since: rot.Epoch.Since}
	}
	if n := l.Node(); n != nil {
		for _, k := range s.reg.Cores() {
			if c, err := s.store.Get(ctx, k); err == nil {
				n.repl.Reauthorize(ctx, c) // end the revoked grantee's sessions now
			}
		}
	}
	return out, nil
}}

// resolveGrant resolves a grant id or a unique prefix of one among this peer's grants.
func (s *assetService) resolveGrant(ctx context.Context, ref string) (asset.GrantID, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if id, err := asset.ParseGrantID(ref); err == nil {
		return id, nil
	}
	if len(ref) < 8 {
		return asset.GrantID{}, fmt.Errorf("%w: %q: give the grant id, or at least 8 of its first characters", asset.ErrNoSuchGrant, ref)
	}
	if !s.owner.Exists(ctx) {
		return asset.GrantID{}, fmt.Errorf("%w: %q", asset.ErrNoSuchGrant, ref)
	}
	_, gv, err := s.owner.Views(ctx)
	if err != nil {
		return asset.GrantID{}, err
	}
	var found []asset.GrantID
	for _, g := range gv.All() {
		if strings.HasPrefix(g.ID.String(), ref) {
			found = append(found, g.ID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return asset.GrantID{}, fmt.Errorf("%w: %q", asset.ErrNoSuchGrant, ref)
	}
	return asset.GrantID{}, fmt.Errorf("%w: %q is the start of %d grant ids", asset.ErrNoSuchGrant, ref, len(found))
}

// HoldGrantRequest carries a delegated grant's token, as `grant --parent` printed it.
type HoldGrantRequest struct {
	Token string `json:"token"`
}

// OpHoldGrant keeps a delegated grant's chain, which this peer then presents by itself.
var OpHoldGrant = Op[HoldGrantRequest, GrantInfo]{Name: "grants/import", Run: func(ctx context.Context, l *Local, req HoldGrantRequest) (GrantInfo, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return GrantInfo{}, err
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(req.Token))
	if err != nil {
		return GrantInfo{}, fmt.Errorf("%w: the token is not base64url: %v", asset.ErrBadGrant, err)
	}
	chains, err := asset.DecodeCredential(b)
	if err != nil {
		return GrantInfo{}, err
	}
	if len(chains) != 1 {
		return GrantInfo{}, fmt.Errorf("%w: a token carries one chain", asset.ErrBadGrant)
	}
	c := chains[0]
	if c.Leaf().Grantee != s.signer.Principal() {
		return GrantInfo{}, fmt.Errorf("%w: the grant is for %s, not for this peer (%s)", asset.ErrBadGrant, c.Leaf().Grantee, s.signer.Principal())
	}
	if err := c.Verify(c[0].Issuer); err != nil {
		return GrantInfo{}, err
	}
	if err := s.reg.Hold(ctx, c); err != nil {
		return GrantInfo{}, err
	}
	return grantInfo(c.Leaf(), time.Time{}, false, s.reg.Now()), nil
}}

// ProveRequest asks for the ownership proof of a datom: the newest transaction of Ref that
// asserts Attribute of Entity (any attribute when empty), or of block Index when set.
type ProveRequest struct {
	Ref       string  `json:"ref"`
	Entity    string  `json:"entity,omitempty"`
	Attribute string  `json:"attribute,omitempty"`
	Index     *uint64 `json:"index,omitempty"`
}

// ProveReply is the proof file and what it proves.
type ProveReply struct {
	File   []byte `json:"file"`
	Core   string `json:"core"`
	Index  uint64 `json:"index"`
	Length uint64 `json:"length"`
	Owner  string `json:"owner,omitempty"`
	Fork   bool   `json:"forkProof,omitempty"`
}

// OpProve writes the ownership proof of a datom: its block, the block's Merkle proof, the signed
// tree and the manifest, and, for a core this peer owns (or whose asset it knows), the core's
// attestation of its owner.
var OpProve = Op[ProveRequest, ProveReply]{Name: "prove", Run: func(ctx context.Context, l *Local, req ProveRequest) (ProveReply, error) {
	s, err := l.assets(ctx)
	if err != nil {
		return ProveReply{}, err
	}
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return ProveReply{}, err
	}
	var index uint64
	switch {
	case req.Index != nil:
		index = *req.Index
	case req.Entity == "":
		return ProveReply{}, fmt.Errorf("%w: name an entity or a block", ErrBadRequest)
	default:
		db, err := l.DB(ctx)
		if err != nil {
			return ProveReply{}, err
		}
		if err := db.CatchUpCore(ctx, c.Key()); err != nil {
			return ProveReply{}, err
		}
		hist, err := db.History(ctx, c.Key(), req.Entity, req.Attribute)
		if err != nil {
			return ProveReply{}, err
		}
		var last *datom.Datom
		for i := range hist {
			if hist[i].Added && (last == nil || hist[i].Tx >= last.Tx) {
				last = &hist[i]
			}
		}
		if last == nil {
			return ProveReply{}, fmt.Errorf("%w: core %s asserts nothing of entity %q%s", datom.ErrNoEntity, c.Key(), req.Entity,
				map[bool]string{true: " attribute " + req.Attribute}[req.Attribute != ""])
		}
		index = last.Tx
	}
	att := s.attestationOf(ctx, c)
	p, err := asset.MakeProof(ctx, c, index, req.Entity, req.Attribute, att, time.Now())
	if err != nil {
		return ProveReply{}, err
	}
	out := ProveReply{File: p.Encode(), Core: c.Key().String(), Index: index, Length: p.Head.Length, Fork: p.Conflict != nil}
	if att != nil {
		out.Owner = att.Owner.String()
	}
	return out, nil
}}

// attestationOf returns the core's attestation of its owner: made now for a core this peer
// writes, or taken from a catalog that lists it.
func (s *assetService) attestationOf(ctx context.Context, c *corestore.Core) *asset.Attestation {
	if c.Writable() {
		ref := s.owner.Ref()
		sig, err := c.Attest(asset.MemberNamespace(), asset.MemberStatement(ref.Owner, ref.Catalog, ref.Grants))
		if err != nil {
			return nil
		}
		return &asset.Attestation{Owner: ref.Owner, Catalog: ref.Catalog, Grants: ref.Grants, Signature: sig}
	}
	for _, ref := range s.reg.Owners() {
		view, _, err := s.reg.Catalog(ctx, ref.Catalog)
		if err != nil {
			continue
		}
		for _, a := range view.AssetsOf(c.Key()) {
			for _, m := range a.MembersOf(c.Key()) {
				if a.CheckAttestation(m) == nil {
					return &asset.Attestation{Owner: a.Owner, Catalog: a.Catalog, Grants: a.Grants, Signature: m.Attestation}
				}
			}
		}
	}
	return nil
}

// AssetQueryRequest runs a query on a core at the peer that holds it (for a compute asset, its
// owner's).
type AssetQueryRequest struct {
	Core  string   `json:"core"`
	Query string   `json:"query"`
	Peers []string `json:"peers,omitempty"`
}

// AssetQueryReply is what the remote query returned.
type AssetQueryReply struct {
	Peer    string   `json:"peer"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// OpAssetQuery sends a query to the peer that holds a core and returns the rows it answers.
// Without a daemon it runs a node of its own for its duration.
var OpAssetQuery = Op[AssetQueryRequest, AssetQueryReply]{Name: "asset/query", Run: func(ctx context.Context, l *Local, req AssetQueryRequest) (AssetQueryReply, error) {
	key, err := corestore.ParseKey(req.Core)
	if err != nil {
		return AssetQueryReply{}, err
	}
	if _, err := datom.ParseQuery([]byte(req.Query)); err != nil {
		return AssetQueryReply{}, err
	}
	peers, err := ParseAddrs(req.Peers)
	if err != nil {
		return AssetQueryReply{}, fmt.Errorf("%w: peer: %w", ErrBadRequest, err)
	}
	n := l.Node()
	if n == nil {
		if n, err = l.StartNode(ctx, WithListen("/ip4/127.0.0.1/tcp/0")); err != nil {
			return AssetQueryReply{}, err
		}
	}
	res, from, err := n.remoteQuery(ctx, key, req.Query, peers)
	if err != nil {
		return AssetQueryReply{}, err
	}
	out := AssetQueryReply{Peer: from.String(), Columns: res.Columns, Rows: [][]any{}}
	for _, row := range res.Rows {
		vs := make([]any, len(row))
		for i, v := range row {
			vs[i] = v.JSON()
		}
		out.Rows = append(out.Rows, vs)
	}
	return out, nil
}}
