package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/protocols"
)

// serveQuery answers a query request: the asking peer needs a grant with query on an asset of
// the core (a public core's queries need none), a compute asset's query must be one of its
// allowed queries, and a query of an attribute-scoped or prefix-scoped asset sees only that part
// of the core. Only rows leave the node.
func (s *assetService) serveQuery(ctx context.Context, from lpeer.ID, b []byte) ([]byte, error) {
	req, err := asset.DecodeQueryRequest(b)
	if err != nil {
		return nil, refusal(err, nil)
	}
	core, err := s.store.Get(ctx, req.Core)
	if err != nil {
		return nil, refusal(fmt.Errorf("%w: core %s is not held here", asset.ErrNoAsset, req.Core), nil)
	}
	var chains []asset.Chain
	if len(req.Credential) > 0 {
		if chains, err = asset.DecodeCredential(req.Credential); err != nil {
			return nil, refusal(err, nil)
		}
	}
	d := s.reg.Decide(ctx, asset.Request{Core: core, Remote: principalOf(from), Chains: chains, Purpose: asset.Query})
	if d.Err != nil {
		return nil, refusal(d.Err, nil)
	}
	q, err := datom.ParseQuery([]byte(req.Query))
	if err != nil {
		return nil, &protocols.Refusal{Code: "bad query", Message: err.Error()}
	}
	if d.Asset != nil {
		if q, err = asset.Restrict(d.Asset, core.Key(), q); err != nil {
			return nil, refusal(err, nil)
		}
	} else {
		q.Cores = []corestore.Key{core.Key()}
	}
	db := s.node.DB
	if err := db.CatchUpCore(ctx, core.Key()); err != nil {
		return nil, err
	}
	res, err := db.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return asset.EncodeQueryResult(res)
}

// remoteQuery runs query on core at the peers given, or, without them, at the peers that hold
// the core (the owner, for a compute asset), and returns the first answer.
func (n *Node) remoteQuery(ctx context.Context, core corestore.Key, query string, peers []lpeer.AddrInfo) (*asset.QueryResult, lpeer.ID, error) {
	s := n.assets
	var cred []byte
	if c, err := n.Repo.Store.Get(ctx, core); err == nil {
		cred = s.Credential(c, "")
	}
	req := (&asset.QueryRequest{Core: core, Query: query, Credential: cred}).Encode()
	var candidates []lpeer.AddrInfo
	candidates = append(candidates, peers...)
	candidates = append(candidates, n.direct...)
	if len(candidates) == 0 {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for p := range n.disc.FindProviders(fctx, corestore.DiscoveryKey(core), 8) {
			candidates = append(candidates, p)
		}
		cancel()
	}
	if len(candidates) == 0 {
		return nil, "", fmt.Errorf("core %s: %w", core, ErrNoProviders)
	}
	var last error
	for _, ai := range candidates {
		if ai.ID == n.ID() {
			continue
		}
		if len(ai.Addrs) > 0 {
			if err := n.host.Connect(ctx, ai); err != nil {
				last = err
				continue
			}
		}
		b, err := protocols.Ask(ctx, n.host, ai.ID, protocol.ID(asset.QueryProtocol), req, asset.MaxQueryResultSize)
		if err != nil {
			var ref *protocols.Refusal
			if errors.As(err, &ref) {
				err = refusedError(ref)
			}
			last = err
			if errors.Is(err, protocols.ErrRefused) {
				return nil, ai.ID, err
			}
			continue
		}
		res, err := asset.DecodeQueryResult(b)
		if err != nil {
			last = err
			continue
		}
		return res, ai.ID, nil
	}
	return nil, "", last
}
