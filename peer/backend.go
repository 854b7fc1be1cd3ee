package peer

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Backend is what the CLI talks to: the running daemon through its local API, or, when no daemon
// runs, the repo directly. Both implementations behave the same.
type Backend interface {
	// ID returns the peer's identity and, when running, its addresses.
	ID(ctx context.Context) (IDInfo, error)
	// Peers lists connected peers (empty without a daemon).
	Peers(ctx context.Context) ([]ConnectedPeer, error)
	// Cores lists every core in the repo.
	Cores(ctx context.Context) ([]CoreInfo, error)
	// Create creates, or opens, the writable core called name.
	Create(ctx context.Context, name string) (CoreInfo, error)
	// Append appends blocks to a writable core, atomically.
	Append(ctx context.Context, ref string, blocks [][]byte) (AppendResult, error)
	// Info describes a core.
	Info(ctx context.Context, ref string) (CoreInfo, error)
	// Blocks calls fn with the stored blocks [start, end) in order; end 0 means the length.
	Blocks(ctx context.Context, ref string, start, end uint64, fn func(i uint64, b []byte) error) error
	// Verify checks a core against its signature.
	Verify(ctx context.Context, ref string) (CoreInfo, error)
	// Fetch downloads a core from the network; see FetchRequest.
	Fetch(ctx context.Context, req FetchRequest, ev FetchEvents) (CoreInfo, error)
	// Transact appends a JSON transaction to the datom core ref (a writable core's name, created
	// if new, or key).
	Transact(ctx context.Context, ref string, txJSON []byte) (TxResult, error)
	// Pull returns an entity of a datom core, current or as of a tx.
	Pull(ctx context.Context, ref, e string, asOf *uint64) (PullResult, error)
	// History returns every datom about e (and a, when set) in tx order.
	History(ctx context.Context, ref, e, a string) ([]DatomRow, error)
	// Query runs a Datalog query in JSON over the cores refs, or every datom core when empty.
	Query(ctx context.Context, refs []string, query []byte) (QueryResult, error)
	// Reindex rebuilds the datom indexes from the logs. progress, when set, hears of each core
	// as it is done (a daemon's client hears nothing until the end).
	Reindex(ctx context.Context, progress func(done, total int, core ReindexedCore)) (ReindexResult, error)
	// Close releases the backend.
	Close() error
}

// ReindexedCore is one core's index after a reindex.
type ReindexedCore struct {
	Key string `json:"key"`
	// Datom is set for a core of datom transactions, Raw for a core of other blocks, which is
	// not indexed; neither for an empty core.
	Datom bool `json:"datom"`
	Raw   bool `json:"raw"`
	// Indexed blocks of Length; Skipped counts malformed transactions left out.
	Indexed uint64 `json:"indexed"`
	Length  uint64 `json:"length"`
	Skipped uint64 `json:"skipped"`
}

// ReindexResult says what a reindex rebuilt.
type ReindexResult struct {
	Cores   []ReindexedCore `json:"cores"`
	Seconds float64         `json:"seconds"`
}

// IDInfo is the peer's identity.
type IDInfo struct {
	PeerID  string   `json:"peerID"`
	Addrs   []string `json:"addrs"`
	Running bool     `json:"running"`
}

// CoreInfo describes a core; the JSON field names are part of the CLI's contract.
type CoreInfo struct {
	Key          string     `json:"key"`
	DiscoveryKey string     `json:"discoveryKey"`
	Name         string     `json:"name,omitempty"`
	Writable     bool       `json:"writable"`
	Length       uint64     `json:"length"`
	Contiguous   uint64     `json:"contiguousLength"`
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
		Length: in.Length, Contiguous: c.Contiguous(), ByteLength: in.ByteLength, Fork: in.Fork,
		TreeHash: in.TreeHash.String(), Signature: hex.EncodeToString(in.Signature), Frozen: in.Frozen}
}

// AppendResult is what an append did.
type AppendResult struct {
	Key      string `json:"key"`
	Length   uint64 `json:"length"`
	Appended uint64 `json:"appended"`
}

// FetchRequest says what to download.
type FetchRequest struct {
	Key     string        `json:"key"`
	Start   uint64        `json:"start"`
	End     uint64        `json:"end"`
	Live    bool          `json:"live"`
	Timeout time.Duration `json:"timeout"`
	// Peers and Bootstrap are used by the daemon-less backend only; a daemon uses its own.
	Peers     []string `json:"peers,omitempty"`
	Bootstrap []string `json:"bootstrap,omitempty"`
}

// FetchEvents receives a download's progress and blocks. Either may be nil.
type FetchEvents struct {
	Progress func(Progress)
	Block    func(i uint64, b []byte) error
}

// ParseCoreKey parses a core key as the CLI accepts it (64 hex or z-base32 characters).
func ParseCoreKey(s string) (corestore.Key, error) { return corestore.ParseKey(s) }
