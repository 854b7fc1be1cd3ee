package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// sessionRoutes are the operations of client sessions: a client holds one open for its
// lifetime (OpClient), opens cores in it, and reads them block by block, downloading only what it
// reads. They are what the SDK's Client, Corestore and Core run on.
func sessionRoutes() []route {
	return []route{OpClient, OpClientEnd, OpCoreOpen, OpCoreReady, OpCoreClose, OpCoreGet, OpCoreRead, OpCoreWatch,
		OpCorePull, OpCoreQuery}
}

// ClientRequest opens a client session.
type ClientRequest struct{}

// ClientSession is the first and only event of OpClient: the session's ID, which the client
// passes to the operations that hold cores open, and the node's peer ID.
type ClientSession struct {
	Session string `json:"session"`
	PeerID  string `json:"peerID"`
}

// OpClient is a local client's session: it reports EventClientOpen, sends the session's ID, and
// then holds the session open until the caller goes away or the node stops, when it lets go of
// every core the client still holds and reports EventClientClose. It needs a running node.
var OpClient = StreamOp[ClientRequest, ClientSession, None]{Name: "client",
	Run: func(ctx context.Context, l *Local, _ ClientRequest, emit func(ClientSession) error) (None, error) {
		n := l.Node()
		if n == nil {
			return None{}, fmt.Errorf("%w: client sessions are held by a running node", ErrNotRunning)
		}
		id, done := n.cl.openClient()
		defer n.cl.closeClient(id)
		if err := emit(ClientSession{Session: id, PeerID: n.ID().String()}); err != nil {
			return None{}, err
		}
		select {
		case <-ctx.Done():
		case <-n.ctx.Done():
		case <-done: // OpClientEnd
		}
		return None{}, nil
	}}

// SessionRequest names a client session.
type SessionRequest struct {
	Session string `json:"session"`
}

// OpClientEnd ends a client session at once, as its client's going away would: the node lets go
// of the cores it held, reports EventClientClose and ends the session's OpClient stream. A client
// that ends its session this way knows, when the call returns, that the node has done so. Ending
// a session that has ended is harmless.
var OpClientEnd = Op[SessionRequest, None]{Name: "client-end", Run: func(ctx context.Context, l *Local, req SessionRequest) (None, error) {
	if n := l.Node(); n != nil {
		n.cl.closeClient(req.Session)
	}
	return None{}, nil
}}

// OpenRequest opens a core in a client session: the writable core called Name (created on first
// use), or the core with Key (a replica is created, empty, when the repo does not hold it).
type OpenRequest struct {
	Session string `json:"session,omitempty"`
	Name    string `json:"name,omitempty"`
	Key     string `json:"key,omitempty"`
}

// OpCoreOpen opens a core. With a Session, the node keeps replication sessions open for a
// replica until the client closes it (OpCoreClose) or its session ends; it downloads nothing by
// itself. A replica the open created, and which got nothing (no peer answered with a signed
// tree), is dropped when the last session holding it ends. A writable core is announced as soon
// as it exists.
var OpCoreOpen = Op[OpenRequest, CoreInfo]{Name: "core-open", Run: func(ctx context.Context, l *Local, req OpenRequest) (CoreInfo, error) {
	if (req.Name == "") == (req.Key == "") {
		return CoreInfo{}, fmt.Errorf("%w: open a core by its name or by its key, not both or neither", ErrBadRequest)
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return CoreInfo{}, err
	}
	n := l.Node()
	if req.Session != "" && n == nil {
		return CoreInfo{}, fmt.Errorf("%w: client sessions are held by a running node", ErrNotRunning)
	}
	var c *corestore.Core
	created := false
	if req.Name != "" {
		c, err = r.Store.Create(ctx, req.Name)
	} else {
		var key corestore.Key
		if key, err = corestore.ParseKey(req.Key); err != nil {
			return CoreInfo{}, err
		}
		_, gerr := r.Store.Get(ctx, key)
		created = errors.Is(gerr, corestore.ErrNotFound)
		c, err = r.Store.Replica(ctx, key)
	}
	if err != nil {
		return CoreInfo{}, err
	}
	if req.Session != "" {
		if err := n.cl.hold(req.Session, c, created); err != nil {
			if created {
				n.dropIfEmpty(c)
			}
			return CoreInfo{}, err
		}
	}
	return l.infoOf(c), nil
}}

// SessionCore names a core a client session holds.
type SessionCore struct {
	Session string `json:"session,omitempty"`
	Ref     string `json:"ref"`
}

// OpCoreClose lets go of one OpCoreOpen of the core in the session. Closing a core twice is
// harmless.
var OpCoreClose = Op[SessionCore, None]{Name: "core-close", Run: func(ctx context.Context, l *Local, req SessionCore) (None, error) {
	n := l.Node()
	if req.Session == "" || n == nil {
		return None{}, nil
	}
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return None{}, err
	}
	return None{}, n.cl.release(req.Session, c.Key())
}}

// WaitRequest names a core and bounds an operation that waits (0: the caller's context alone).
// A client passes a little less than its own deadline, so that the node's answer says why the
// wait failed (no peer found, say) before the client gives up.
type WaitRequest struct {
	Ref     string        `json:"ref"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// bound applies a wait's timeout to ctx.
func bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// OpCoreReady waits until the core has a signed length here: at once for a writable core or a
// replica that holds a signed tree, and otherwise once a peer's verified tree has arrived (it
// opens sessions with the core's peers to get one). It downloads no block.
var OpCoreReady = Op[WaitRequest, CoreInfo]{Name: "core-ready", Run: func(ctx context.Context, l *Local, req WaitRequest) (CoreInfo, error) {
	ctx, cancel := bound(ctx, req.Timeout)
	defer cancel()
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return CoreInfo{}, err
	}
	if err := waitReady(ctx, l.Node(), c); err != nil {
		return CoreInfo{}, err
	}
	return l.infoOf(c), nil
}}

// GetRequest asks for block Index of a core, waiting at most Timeout (see WaitRequest).
type GetRequest struct {
	Ref     string        `json:"ref"`
	Index   uint64        `json:"index"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// BlockResult is one block and the core's length when it was read.
type BlockResult struct {
	Index  uint64 `json:"index"`
	Data   []byte `json:"data"`
	Length uint64 `json:"length"`
}

// OpCoreGet returns one block, waiting for it: a block past the length waits for its append,
// and a block a replica does not hold is downloaded, alone and with its proof, from the peers that
// hold it. The caller bounds the wait with its context.
var OpCoreGet = Op[GetRequest, BlockResult]{Name: "core-get", Run: func(ctx context.Context, l *Local, req GetRequest) (BlockResult, error) {
	ctx, cancel := bound(ctx, req.Timeout)
	defer cancel()
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return BlockResult{}, err
	}
	b, err := getBlock(ctx, l.Node(), c, req.Index)
	if err != nil {
		return BlockResult{}, err
	}
	return BlockResult{Index: req.Index, Data: b, Length: c.Length()}, nil
}}

// ReadRequest selects blocks [Start, End) of a core. End 0 means the length when the read starts,
// or, when Live, no end: a live read goes on with every block appended later until the caller
// goes away.
type ReadRequest struct {
	Ref   string `json:"ref"`
	Start uint64 `json:"start"`
	End   uint64 `json:"end,omitempty"`
	Live  bool   `json:"live,omitempty"`
}

// OpCoreRead streams blocks [Start, End) in order, as Hypercore's createReadStream does: a
// replica downloads just those blocks. A non-live read past the length fails at once with
// corestore.ErrOutOfRange.
var OpCoreRead = StreamOp[ReadRequest, Block, None]{Name: "core-read",
	Run: func(ctx context.Context, l *Local, req ReadRequest, emit func(Block) error) (None, error) {
		c, err := l.Core(ctx, req.Ref)
		if err != nil {
			return None{}, err
		}
		return None{}, readRange(ctx, l.Node(), c, req.Start, req.End, req.Live, func(i uint64, b []byte) error {
			return emit(Block{Index: i, Data: b})
		})
	}}

// LengthEvent is a core's signed length and fork.
type LengthEvent struct {
	Length uint64 `json:"length"`
	Fork   uint64 `json:"fork"`
}

// OpCoreWatch streams the core's length now and after every change (an append here, or a
// replica's signed tree upgrade from a peer), until the caller goes away: Hypercore's
// on('append').
var OpCoreWatch = StreamOp[CoreRef, LengthEvent, None]{Name: "core-watch",
	Run: func(ctx context.Context, l *Local, req CoreRef, emit func(LengthEvent) error) (None, error) {
		c, err := l.Core(ctx, req.Ref)
		if err != nil {
			return None{}, err
		}
		return None{}, watchLength(ctx, l.Node(), c, emit)
	}}

// OpCorePull is OpPull on a datom core that a replica first completes: it downloads every block
// up to the replica's signed length, so that the entity is as the core's owner last signed it.
var OpCorePull = Op[PullRequest, PullResult]{Name: "core-pull", Run: func(ctx context.Context, l *Local, req PullRequest) (PullResult, error) {
	if err := completeRef(ctx, l, req.Ref); err != nil {
		return PullResult{}, err
	}
	return OpPull.Run(ctx, l, req)
}}

// OpCoreQuery is OpQuery over the cores Cores, each of which, when it is a replica, is first
// completed up to its signed length.
var OpCoreQuery = Op[QueryRequest, QueryResult]{Name: "core-query", Run: func(ctx context.Context, l *Local, req QueryRequest) (QueryResult, error) {
	for _, ref := range req.Cores {
		if err := completeRef(ctx, l, ref); err != nil {
			return QueryResult{}, err
		}
	}
	return OpQuery.Run(ctx, l, req)
}}

func completeRef(ctx context.Context, l *Local, ref string) error {
	c, err := l.Core(ctx, ref)
	if err != nil {
		return err
	}
	return completeReplica(ctx, l.Node(), c)
}
