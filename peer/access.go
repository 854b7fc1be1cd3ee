package peer

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/protocols"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// nodeAccess is the replicator's protocols.Access, which rules whether the node serves a core to
// a peer: a DWN tenant's cores (the node's journal of the tenant, and the replicas of the
// tenant's other nodes' journals it follows) only to the nodes the tenant authorized, which
// present their authorization as the credential of the stream (dwn_auth.go); every other core as
// the asset layer rules (assets.go).
type nodeAccess struct{ n *Node }

// dwnCredential starts the credential a tenant's node presents for a tenant's core, which its
// authorization follows, so that it is never taken for the asset layer's.
const dwnCredential = "dwn-node:"

// dwnRefusal is the code of the refusal of a tenant's core to a peer that is not its node.
const dwnRefusal = "not a node of the tenant"

// Authorize implements protocols.Access.
func (a nodeAccess) Authorize(ctx context.Context, core *corestore.Core, remote lpeer.ID, credential []byte) ([]byte, *protocols.Refusal) {
	auth, isDWN := bytes.CutPrefix(credential, []byte(dwnCredential))
	tenant, ok := a.n.dwnTenantOf(core)
	if !ok {
		if isDWN {
			credential = nil // a tenant's node that takes this core for a tenant's: none for the asset layer
		}
		return a.n.assets.Authorize(ctx, core, remote, credential)
	}
	if !isDWN {
		auth = nil
	}
	if err := verifyDWNNode(ctx, auth, tenant, remote); err != nil {
		return nil, &protocols.Refusal{Code: dwnRefusal, Message: dwnRefusal + " " + tenant}
	}
	return nil, nil
}

// Credential implements protocols.Access.
func (a nodeAccess) Credential(core *corestore.Core, remote lpeer.ID) []byte {
	tenant, ok := a.n.dwnTenantOf(core)
	if !ok {
		return a.n.assets.Credential(core, remote)
	}
	raw, _ := a.n.Repo.dwnAuthorization(tenant)
	if raw == nil {
		return nil
	}
	return append([]byte(dwnCredential), raw...)
}

// Answered implements protocols.Access.
func (a nodeAccess) Answered(ctx context.Context, core *corestore.Core, remote lpeer.ID, meta []byte, ref *protocols.Refusal) error {
	if _, ok := a.n.dwnTenantOf(core); ok {
		return nil
	}
	return a.n.assets.Answered(ctx, core, remote, meta, ref)
}

// dwnTenantOf returns the tenant whose messages core journals: for a core of this repo, the
// tenant its name gives (an open node's journals too); for a replica, the tenant whose node's
// journal the DWN service follows it as.
func (n *Node) dwnTenantOf(core *corestore.Core) (string, bool) {
	if core.Writable() {
		return strings.CutPrefix(core.Name(), dwncore.CoreNamePrefix)
	}
	d := n.dwnService()
	if d == nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for did, ts := range d.tenants {
		ts.mu.Lock()
		followed := ts.cores[core.Key()]
		ts.mu.Unlock()
		if followed {
			return did, true
		}
	}
	return "", false
}

// dwnReauthorizeEvery is how often the sessions of the tenants' cores are ruled on again, so that
// a node whose authorization expired is served no more.
const dwnReauthorizeEvery = 30 * time.Second

// reauthorizeLoop rules again on the sessions of every tenant core the service syncs, every
// dwnReauthorizeEvery, until ctx ends.
func (d *dwnNode) reauthorizeLoop(ctx context.Context) {
	every(ctx, dwnReauthorizeEvery, func() { d.reauthorize(ctx) })
}

// reauthorize rules again on the sessions of every tenant core the service syncs.
func (d *dwnNode) reauthorize(ctx context.Context) {
	var keys []corestore.Key
	d.mu.Lock()
	for _, ts := range d.tenants {
		keys = append(keys, ts.own)
		ts.mu.Lock()
		for k := range ts.cores {
			keys = append(keys, k)
		}
		ts.mu.Unlock()
	}
	d.mu.Unlock()
	d.n.reauthorize(ctx, keys)
}

// reauthorize rules again on the open sessions of the cores with keys (those with none are
// skipped), as after the rights that govern them changed.
func (n *Node) reauthorize(ctx context.Context, keys []corestore.Key) {
	for _, k := range keys {
		c, err := n.Repo.Store.Get(ctx, k)
		if err != nil || len(n.repl.Peers(c)) == 0 {
			continue
		}
		n.repl.Reauthorize(ctx, c)
	}
}

// every calls f every interval, the first time one interval from now, until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}
