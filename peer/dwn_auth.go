package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// Which nodes sync a tenant. Knowing a tenant's DID is enough to find its nodes in the DHT, so
// a node names its core for a tenant (datomspace.tenantCore), and so lets it be replicated, only
// to a peer that presents the tenant's authorization of that peer (dwn.NodeAuthorization), and
// follows only the cores of nodes that present theirs. A node holds its own authorization of each
// tenant in the repo's config (`dwn tenant add DID --key FILE` signs one, `--authorization FILE`
// takes one the tenant signed elsewhere); for the node's own did:key it signs one itself. A node
// that holds a tenant without an authorization accepts the tenant's messages, but syncs them
// with nobody.

// dwnAuthorizations are a repo's authorizations of the tenants it holds: the config's
// DWN.Authorizations, which it guards, and the repo's identity, which it signs its own with.
type dwnAuthorizations struct {
	mu     sync.Mutex
	loaded bool
	m      map[string][]byte
	self   *dwn.Signer // the node's did:key
	id     lpeer.ID    // the node's peer ID
}

func (a *dwnAuthorizations) loadLocked(r *Repo) error {
	if a.loaded {
		return nil
	}
	key, err := nodeKey(r.Path)
	if err != nil {
		return err
	}
	a.self = dwn.NewSigner(key)
	priv, err := LoadIdentity(r.Path)
	if err != nil {
		return err
	}
	if a.id, err = lpeer.IDFromPrivateKey(priv); err != nil {
		return err
	}
	a.m = map[string][]byte{}
	for t, raw := range r.Config.DWN.Authorizations {
		a.m[t] = []byte(raw)
	}
	a.loaded = true
	return nil
}

// setDWNAuthorization records raw, which must be tenant's valid authorization of this node, as
// the repo's (nil: removes it) and saves the config.
func (r *Repo) setDWNAuthorization(ctx context.Context, tenant string, raw []byte) error {
	a := &r.dwnAuth
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.loadLocked(r); err != nil {
		return err
	}
	if raw == nil {
		if _, ok := a.m[tenant]; !ok {
			return nil
		}
		delete(a.m, tenant)
	} else {
		if err := verifyDWNNode(ctx, raw, tenant, a.id); err != nil {
			return err
		}
		a.m[tenant] = raw
	}
	out := make(map[string]json.RawMessage, len(a.m))
	for t, b := range a.m {
		out[t] = json.RawMessage(b)
	}
	if len(out) == 0 {
		out = nil
	}
	r.Config.DWN.Authorizations = out
	return r.SaveConfig()
}

// dwnAuthorization returns the repo's authorization of tenant while it is valid (nil: it has
// none), and what it says: the config's, or for the node's own did:key one it signs now.
func (r *Repo) dwnAuthorization(tenant string) ([]byte, *dwn.NodeAuthorization) {
	a := &r.dwnAuth
	a.mu.Lock()
	if err := a.loadLocked(r); err != nil {
		a.mu.Unlock()
		return nil, nil
	}
	raw, self, id := a.m[tenant], a.self, a.id
	a.mu.Unlock()
	if raw == nil && self.DID == tenant {
		var err error
		if raw, err = dwn.AuthorizeNode(self, id.String(), time.Now(), time.Time{}); err != nil {
			return nil, nil
		}
	}
	if raw == nil {
		return nil, nil
	}
	na, err := dwn.VerifyNodeAuthorization(context.Background(), dwn.KeyResolver{}, raw, tenant, id.String(), time.Now())
	if err != nil {
		return nil, nil // expired: presenting it would only be refused
	}
	return raw, na
}

// verifyDWNNode checks that raw is tenant's authorization of the node p, now.
func verifyDWNNode(ctx context.Context, raw []byte, tenant string, p lpeer.ID) error {
	if raw == nil {
		return fmt.Errorf("%w: %s presented none for %s", dwn.ErrNodeAuthorization, p, tenant)
	}
	_, err := dwn.VerifyNodeAuthorization(ctx, dwn.KeyResolver{}, raw, tenant, p.String(), time.Now())
	return err
}

// AuthorizeDWNNode signs, with the tenant's key s, an authorization of the node with peer ID node
// to sync the tenant's messages, valid for ttl (0: no expiry). It is what the tenant gives each
// of its nodes (OpDWNTenant takes it).
func AuthorizeDWNNode(s *dwn.Signer, node lpeer.ID, ttl time.Duration) ([]byte, error) {
	if ttl < 0 {
		return nil, fmt.Errorf("%w: a negative lifetime", dwn.ErrNodeAuthorization)
	}
	now := time.Now()
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	return dwn.AuthorizeNode(s, node.String(), now, exp)
}

// dwnPeerKey carries, in the context of a DWN stream's calls, the peer the transport
// authenticated.
type dwnPeerKey struct{}

func withDWNPeer(ctx context.Context, p lpeer.ID) context.Context {
	return context.WithValue(ctx, dwnPeerKey{}, p)
}

func dwnPeerOf(ctx context.Context) (lpeer.ID, bool) {
	p, ok := ctx.Value(dwnPeerKey{}).(lpeer.ID)
	return p, ok && p != ""
}

// tenantCore names, to the tenant's authorized nodes that ask (datomspace.tenantCore), the node's
// core for a tenant it holds, with its own authorization. The cores of tenants it does not hold
// (an open node's) are named to nobody: they are no tenant's node-to-node sync, and they
// journal unpublished records too. A call that did not come over a libp2p stream has no
// authenticated peer, and gets nothing.
func (d *dwnNode) tenantCore(ctx context.Context, req jsonrpc.TenantCoreRequest) (jsonrpc.TenantCoreReply, error) {
	if !d.gate.holds(req.Tenant) {
		return jsonrpc.TenantCoreReply{}, fmt.Errorf("%w %s", jsonrpc.ErrNoTenantCore, req.Tenant)
	}
	p, ok := dwnPeerOf(ctx)
	if !ok {
		return jsonrpc.TenantCoreReply{}, fmt.Errorf("%w: the asker is not an authenticated peer", dwn.ErrNodeAuthorization)
	}
	if err := verifyDWNNode(ctx, req.Authorization, req.Tenant, p); err != nil {
		return jsonrpc.TenantCoreReply{}, err
	}
	own, _ := d.n.Repo.dwnAuthorization(req.Tenant)
	if own == nil {
		return jsonrpc.TenantCoreReply{}, fmt.Errorf("%w: this node holds no authorization of %s", dwn.ErrNodeAuthorization, req.Tenant)
	}
	key, length, ok := d.store.TenantCoreKey(ctx, req.Tenant)
	if !ok {
		return jsonrpc.TenantCoreReply{}, fmt.Errorf("%w %s", jsonrpc.ErrNoTenantCore, req.Tenant)
	}
	return jsonrpc.TenantCoreReply{Key: key, Length: length, Authorization: own}, nil
}
