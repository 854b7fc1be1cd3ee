package dwn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Node authorizations. A tenant's messages are synced between the nodes the tenant names: a
// node asks another for the core it journals the tenant in, and replicates it, only with a
// NodeAuthorization, a General JWS signed by the tenant (as a DWN message is) over
//
//	{"type":"datomspace/dwn/node/v1","tenant":DID,"node":PEER-ID,"issued":T,"expires":T?}
//
// Each side of the sync presents its own, and each checks the other's against the peer ID the
// transport authenticated, so a peer that only knows the tenant's DID learns nothing of its
// messages, and a node follows no core but those of the tenant's own nodes.

// NodeAuthorizationType is the type field of a node authorization's payload.
const NodeAuthorizationType = "datomspace/dwn/node/v1"

// MaxNodeAuthorization bounds the size of an encoded node authorization.
const MaxNodeAuthorization = 4096

// ErrNodeAuthorization: a node authorization that does not decode, is not signed by its
// tenant, names another tenant or node, or has expired.
var ErrNodeAuthorization = errors.New("invalid node authorization")

// NodeAuthorization is a decoded, verified node authorization.
type NodeAuthorization struct {
	Tenant  string    // the DID that signed it
	Node    string    // the libp2p peer ID it names
	Issued  time.Time // when it was signed
	Expires time.Time // zero: it does not expire
	// Raw is the authorization as it travels: the JSON of the General JWS.
	Raw []byte
}

// AuthorizeNode signs, as the tenant s, an authorization of the node with peer ID node, issued at
// issued and valid until expires (zero: no expiry). It returns the encoded authorization.
func AuthorizeNode(s *Signer, node string, issued, expires time.Time) ([]byte, error) {
	if node == "" {
		return nil, fmt.Errorf("%w: no node named", ErrNodeAuthorization)
	}
	if !expires.IsZero() && !expires.After(issued) {
		return nil, fmt.Errorf("%w: it expires before it is issued", ErrNodeAuthorization)
	}
	p := jsv.NewObject()
	p.Set("type", NodeAuthorizationType)
	p.Set("tenant", s.DID)
	p.Set("node", node)
	p.Set("issued", Timestamp(issued))
	if !expires.IsZero() {
		p.Set("expires", Timestamp(expires))
	}
	raw := []byte(jsv.Stringify(s.JWS(p)))
	if len(raw) > MaxNodeAuthorization {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrNodeAuthorization, len(raw), MaxNodeAuthorization)
	}
	return raw, nil
}

// ParseNodeAuthorization decodes raw and verifies its signature with r (a did:key needs no
// network: KeyResolver). It checks that the signer is the tenant the payload names, and nothing
// about time or the node: VerifyNodeAuthorization does.
func ParseNodeAuthorization(ctx context.Context, r Resolver, raw []byte) (*NodeAuthorization, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNodeAuthorization}, args...)...)
	}
	if len(raw) > MaxNodeAuthorization {
		return nil, bad("%d bytes, limit %d", len(raw), MaxNodeAuthorization)
	}
	v, err := jsv.Parse(raw)
	if err != nil {
		return nil, bad("%v", err)
	}
	jws, ok := v.(*jsv.Object)
	if !ok {
		return nil, bad("not a JSON object")
	}
	sigs, ok := jws.Get("signatures")
	list, isList := sigs.([]any)
	if !ok || !isList || len(list) != 1 {
		return nil, bad("it must have exactly one signature")
	}
	if _, ok := list[0].(*jsv.Object); !ok {
		return nil, bad("its signature is not an object")
	}
	pl, ok := getStr(jws, "payload")
	if !ok {
		return nil, bad("no payload")
	}
	pb, err := base64.RawURLEncoding.DecodeString(pl)
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	pv, err := jsv.Parse(pb)
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	p, ok := pv.(*jsv.Object)
	if !ok {
		return nil, bad("the payload is not an object")
	}
	if t, _ := getStr(p, "type"); t != NodeAuthorizationType {
		return nil, bad("type %q, want %q", t, NodeAuthorizationType)
	}
	a := &NodeAuthorization{Raw: append([]byte(nil), raw...)}
	a.Tenant, _ = getStr(p, "tenant")
	a.Node, _ = getStr(p, "node")
	if a.Tenant == "" || a.Node == "" {
		return nil, bad("it must name a tenant and a node")
	}
	is, _ := getStr(p, "issued")
	if a.Issued, err = time.Parse(time.RFC3339Nano, is); err != nil {
		return nil, bad("issued %q is not a time", is)
	}
	if es, ok := getStr(p, "expires"); ok {
		if a.Expires, err = time.Parse(time.RFC3339Nano, es); err != nil {
			return nil, bad("expires %q is not a time", es)
		}
	} else if _, present := p.Get("expires"); present {
		return nil, bad("expires is not a string")
	}
	signer, err := signerDIDOf(list[0])
	if err != nil {
		return nil, bad("%v", err)
	}
	if signer != a.Tenant {
		return nil, bad("signed by %s, not by the tenant %s", signer, a.Tenant)
	}
	if err := verifyJWS(ctx, r, jws); err != nil {
		return nil, bad("%v", err)
	}
	return a, nil
}

// clockSkew is how far in the future an authorization's issue time may be.
const clockSkew = 5 * time.Minute

// VerifyNodeAuthorization decodes and verifies raw (ParseNodeAuthorization) and checks that it
// authorizes node for tenant at now.
func VerifyNodeAuthorization(ctx context.Context, r Resolver, raw []byte, tenant, node string, now time.Time) (*NodeAuthorization, error) {
	a, err := ParseNodeAuthorization(ctx, r, raw)
	if err != nil {
		return nil, err
	}
	if err := a.Check(tenant, node, now); err != nil {
		return nil, err
	}
	return a, nil
}

// Check reports whether a, already verified, authorizes node for tenant at now.
func (a *NodeAuthorization) Check(tenant, node string, now time.Time) error {
	switch {
	case a.Tenant != tenant:
		return fmt.Errorf("%w: it is of tenant %s, not %s", ErrNodeAuthorization, a.Tenant, tenant)
	case a.Node != node:
		return fmt.Errorf("%w: it names node %s, not %s", ErrNodeAuthorization, a.Node, node)
	case a.Issued.After(now.Add(clockSkew)):
		return fmt.Errorf("%w: issued in the future (%s)", ErrNodeAuthorization, a.Issued.Format(time.RFC3339))
	case !a.Expires.IsZero() && !now.Before(a.Expires):
		return fmt.Errorf("%w: expired at %s", ErrNodeAuthorization, a.Expires.Format(time.RFC3339))
	}
	return nil
}
