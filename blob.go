package datomspace

import (
	"context"

	"github.com/datomspace/datomspace/peer"
)

// Blobs: a datom value larger than the server's blob threshold (4 KiB unless its config says
// otherwise) is kept as a blob, by content address, and Pull shows it as {"blob": CID, "size":
// N}, with "type": "string" for a string. PullResolved returns the values themselves.

// PullResolved is Pull with every blob value returned as the value it stands for: a string or
// bytes ({"bytes": base64}) value, at most peer.MaxResolve bytes. A blob the server lacks, as a
// reader that replicated the core may, is fetched first from the core's peers and the blob's
// providers in the DHT.
func (c *Core) PullResolved(ctx context.Context, e string) (*Entity, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	res, err := call(ctx, c.cl, peer.OpCorePull, peer.PullRequest{Ref: c.ref, E: e, Resolve: true})
	if err != nil {
		return nil, err
	}
	return &res, nil
}
