package peer

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
)

// Names of the events a node reports to WithEvents.
const (
	// EventClientOpen: a local client opened its session (OpClient), or a remote peer now has a
	// replication session with the node (its first one).
	EventClientOpen = "client-open"
	// EventClientClose: a local client's session ended, or a remote peer's last replication
	// session with the node ended.
	EventClientClose = "client-close"
)

// Event is something that happened to a running node: a client came or went.
//
// A local client is a program that holds a session open on the local API for as long as it runs
// (the SDK's Client does; one-shot calls such as the CLI's are not clients). A remote client is a
// peer with at least one replication session with the node, whichever side opened it: the node
// reports a peer once, when its first session opens, and again when its last one ends, however
// many cores the two replicate.
type Event struct {
	// Name is EventClientOpen or EventClientClose.
	Name string `json:"name"`
	// Remote is false for a local client of the API and true for a remote peer.
	Remote bool `json:"remote"`
	// Peer is the remote peer's ID, when Remote.
	Peer string `json:"peer,omitempty"`
	// Client is the local client's session ID, when not Remote.
	Client string `json:"client,omitempty"`
}

// WithEvents sets a function the node calls with each Event, in the order they happen. It is
// called synchronously from the goroutine where the event happened (a replication session, an
// API request), so it must return quickly: queue the event and handle it elsewhere.
func WithEvents(fn func(Event)) NodeOption { return func(o *nodeOptions) { o.onEvent = fn } }

// clients is what a node knows of who uses it: the remote peers it has replication sessions
// with, the local clients holding a session open, and the cores those clients hold open.
type clients struct {
	n *Node

	mu      sync.Mutex
	remote  map[peer.ID]int                  // open replication sessions per remote peer
	local   map[string]*localClient          // by client session ID
	keepers map[corestore.Key]*sessionKeeper // replicas some client holds open
}

func newClients(n *Node) *clients {
	return &clients{n: n, remote: map[peer.ID]int{}, local: map[string]*localClient{},
		keepers: map[corestore.Key]*sessionKeeper{}}
}

// emitLocked reports ev; call with cl.mu held, so that events are reported in order.
func (cl *clients) emitLocked(ev Event) {
	if f := cl.n.o.onEvent; f != nil {
		f(ev)
	}
}

// sessionObserved counts the replication sessions of each remote peer (the replicator's session
// observer): a peer's first session opens it as a client, its last one's end closes it.
func (cl *clients) sessionObserved(_ corestore.Key, p peer.ID, opened bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if opened {
		cl.remote[p]++
		if cl.remote[p] == 1 {
			cl.emitLocked(Event{Name: EventClientOpen, Remote: true, Peer: p.String()})
		}
		return
	}
	if cl.remote[p] == 0 {
		return // not counted: cannot happen, since every end follows its open
	}
	cl.remote[p]--
	if cl.remote[p] == 0 {
		delete(cl.remote, p)
		cl.emitLocked(Event{Name: EventClientClose, Remote: true, Peer: p.String()})
	}
}

// localClient is a local client's session.
type localClient struct {
	cores map[corestore.Key]int // the cores it holds, with counts
	done  chan struct{}         // closed when the session ends
}

// openClient registers a local client session and reports it. done is closed when the session
// ends.
func (cl *clients) openClient() (id string, done <-chan struct{}) {
	var b [12]byte
	rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	lc := &localClient{cores: map[corestore.Key]int{}, done: make(chan struct{})}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.local[id] = lc
	cl.emitLocked(Event{Name: EventClientOpen, Client: id})
	return id, lc.done
}

// closeClient ends a local client session: it lets go of every core the client held and
// reports the end.
func (cl *clients) closeClient(id string) {
	cl.mu.Lock()
	lc, ok := cl.local[id]
	if !ok {
		cl.mu.Unlock()
		return
	}
	close(lc.done)
	var drop []*corestore.Core
	for k, count := range lc.cores {
		for range count {
			if c := cl.releaseLocked(k); c != nil {
				drop = append(drop, c)
			}
		}
	}
	delete(cl.local, id)
	cl.emitLocked(Event{Name: EventClientClose, Client: id})
	cl.mu.Unlock()
	for _, c := range drop {
		cl.n.dropIfEmpty(c)
	}
}
