package peer

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace/corestore"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// coreRoutes are the operations on the repo's cores.
func coreRoutes() []route {
	return []route{OpID, OpPeers, OpCores, OpCreate, OpInfo, OpAppend, OpBlocks, OpVerify}
}

// IDInfo is the peer's identity.
type IDInfo struct {
	PeerID  string   `json:"peerID"`
	Addrs   []string `json:"addrs"`
	Running bool     `json:"running"`
	// API lists the daemon's TCP API addresses (HOST:PORT), when it serves one.
	API []string `json:"api,omitempty"`
}

// CoreInfo describes a core; the JSON field names are part of the CLI's contract.
type CoreInfo struct {
	Key          string     `json:"key"`
	DiscoveryKey string     `json:"discoveryKey"`
	Name         string     `json:"name,omitempty"`
	Writable     bool       `json:"writable"`
	Length       uint64     `json:"length"`
	Contiguous   uint64     `json:"contiguousLength"`
	Held         uint64     `json:"held"` // blocks stored here: Length for a complete copy
	ByteLength   uint64     `json:"byteLength"`
	Fork         uint64     `json:"fork"`
	TreeHash     string     `json:"treeHash"`
	Signature    string     `json:"signature"`
	Frozen       string     `json:"frozen,omitempty"`
	Announced    *time.Time `json:"announced,omitempty"`
}

// InfoOf describes c.
func InfoOf(c *corestore.Core) CoreInfo {
	in := c.Info()
	return CoreInfo{Key: in.Key.String(), DiscoveryKey: in.DiscoveryKey.String(), Name: in.Name, Writable: in.Writable,
		Length: in.Length, Contiguous: c.Contiguous(), Held: c.Held(), ByteLength: in.ByteLength, Fork: in.Fork,
		TreeHash: in.TreeHash.String(), Signature: hex.EncodeToString(in.Signature), Frozen: in.Frozen}
}

// infoOf describes c with its last announce time, when a node runs.
func (l *Local) infoOf(c *corestore.Core) CoreInfo {
	in := InfoOf(c)
	if n := l.Node(); n != nil {
		if t, ok := n.Announced()[c.Key()]; ok && !t.IsZero() {
			in.Announced = &t
		}
	}
	return in
}

// CoreRef names a core: its key (64 hex or z-base32 characters) or the name of a writable core.
type CoreRef struct {
	Ref string `json:"ref"`
}

// OpID returns the peer's identity and, when it runs, its addresses.
var OpID = Op[None, IDInfo]{Name: "id", Run: func(ctx context.Context, l *Local, _ None) (IDInfo, error) {
	if n := l.Node(); n != nil {
		return IDInfo{PeerID: n.ID().String(), Addrs: n.Addrs(), Running: true, API: n.apiAddrs()}, nil
	}
	if _, err := os.Stat(filepath.Join(l.path, configFile)); err != nil {
		return IDInfo{}, fmt.Errorf("%w at %s", ErrNoRepo, l.path)
	}
	k, err := LoadIdentity(l.path)
	if err != nil {
		return IDInfo{}, err
	}
	id, err := lpeer.IDFromPrivateKey(k)
	if err != nil {
		return IDInfo{}, err
	}
	return IDInfo{PeerID: id.String(), Addrs: []string{}}, nil
}}

// OpPeers lists the connected peers; it needs a running node.
var OpPeers = Op[None, []ConnectedPeer]{Name: "peers", Run: func(ctx context.Context, l *Local, _ None) ([]ConnectedPeer, error) {
	n := l.Node()
	if n == nil {
		return nil, fmt.Errorf("%w, so it has no connected peers", ErrNotRunning)
	}
	return n.Peers(), nil
}}

// OpCores lists every core in the repo.
var OpCores = Op[None, []CoreInfo]{Name: "cores", Run: func(ctx context.Context, l *Local, _ None) ([]CoreInfo, error) {
	if n := l.Node(); n != nil {
		return n.Cores(ctx)
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	return listCores(ctx, r.Store, nil)
}}

// listCores describes every core in the store, with its last announce time when announced has it.
func listCores(ctx context.Context, s *corestore.Store, announced map[corestore.Key]time.Time) ([]CoreInfo, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CoreInfo, 0, len(keys))
	for _, k := range keys {
		c, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		in := InfoOf(c)
		if t, ok := announced[k]; ok && !t.IsZero() {
			in.Announced = &t
		}
		out = append(out, in)
	}
	return out, nil
}

// CreateRequest names the writable core to create (or open).
type CreateRequest struct {
	Name string `json:"name"`
}

// OpCreate creates, or opens, the writable core called Name. A running node announces it.
var OpCreate = Op[CreateRequest, CoreInfo]{Name: "create", Run: func(ctx context.Context, l *Local, req CreateRequest) (CoreInfo, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return CoreInfo{}, err
	}
	c, err := r.Store.Create(ctx, req.Name)
	if err != nil {
		return CoreInfo{}, err
	}
	return l.infoOf(c), nil
}}

// OpInfo describes a core.
var OpInfo = Op[CoreRef, CoreInfo]{Name: "info", Run: func(ctx context.Context, l *Local, req CoreRef) (CoreInfo, error) {
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return CoreInfo{}, err
	}
	return l.infoOf(c), nil
}}

// AppendRequest is blocks to append to a writable core, atomically.
type AppendRequest struct {
	Ref    string   `json:"ref"`
	Blocks [][]byte `json:"blocks"`
}

// AppendResult is what an append did.
type AppendResult struct {
	Key      string `json:"key"`
	Length   uint64 `json:"length"`
	Appended uint64 `json:"appended"`
}

// MaxAppendBody bounds one append request: 64 MiB of JSON, about 48 MiB of blocks. Larger
// appends are split by the caller into several requests.
const MaxAppendBody = 64 << 20

// OpAppend appends blocks to a writable core, atomically.
var OpAppend = Op[AppendRequest, AppendResult]{Name: "append", MaxBody: MaxAppendBody,
	Run: func(ctx context.Context, l *Local, req AppendRequest) (AppendResult, error) {
		if len(req.Blocks) == 0 {
			return AppendResult{}, fmt.Errorf("%w: an append needs at least one block", ErrBadRequest)
		}
		c, err := l.Core(ctx, req.Ref)
		if err != nil {
			return AppendResult{}, err
		}
		if !c.Writable() {
			return AppendResult{}, fmt.Errorf("core %s: %w", c.Key(), corestore.ErrReadOnly)
		}
		n, err := c.Append(ctx, req.Blocks...)
		if err != nil {
			return AppendResult{}, err
		}
		return AppendResult{Key: c.Key().String(), Length: n, Appended: uint64(len(req.Blocks))}, nil
	}}

// BlocksRequest selects blocks [Start, End) of a core; End 0 means its length.
type BlocksRequest struct {
	Ref   string `json:"ref"`
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
}

// Block is one block of a core.
type Block struct {
	Index uint64 `json:"index"`
	Data  []byte `json:"data"`
}

// OpBlocks streams the stored blocks [Start, End) of a core, in order.
var OpBlocks = StreamOp[BlocksRequest, Block, None]{Name: "blocks",
	Run: func(ctx context.Context, l *Local, req BlocksRequest, emit func(Block) error) (None, error) {
		c, err := l.Core(ctx, req.Ref)
		if err != nil {
			return None{}, err
		}
		return None{}, readBlocks(ctx, c, req.Start, req.End, func(i uint64, b []byte) error { return emit(Block{i, b}) })
	}}

// readBlocks calls fn with blocks [start, end) of c; end 0 means the length.
func readBlocks(ctx context.Context, c *corestore.Core, start, end uint64, fn func(uint64, []byte) error) error {
	length := c.Length()
	if end == 0 {
		end = length
	}
	if end > length {
		return fmt.Errorf("%w: end %d is past the core's length %d", corestore.ErrOutOfRange, end, length)
	}
	if start > end {
		return fmt.Errorf("%w: start %d is after end %d", corestore.ErrOutOfRange, start, end)
	}
	for lo := start; lo < end; lo += 1024 {
		bs, err := c.GetRange(ctx, lo, min(lo+1024, end))
		if err != nil {
			return err
		}
		for k, b := range bs {
			if err := fn(lo+uint64(k), b); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpVerify checks a core against its signature: the signed tree and every stored block.
var OpVerify = Op[CoreRef, CoreInfo]{Name: "verify", Run: func(ctx context.Context, l *Local, req CoreRef) (CoreInfo, error) {
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return CoreInfo{}, err
	}
	if err := c.Verify(ctx); err != nil {
		return CoreInfo{}, err
	}
	return InfoOf(c), nil
}}

// ParseCoreKey parses a core key as the CLI accepts it (64 hex or z-base32 characters).
func ParseCoreKey(s string) (corestore.Key, error) { return corestore.ParseKey(s) }
