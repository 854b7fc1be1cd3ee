package protocols

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/datomspace/datomspace/corestore"
)

// sessionLog records what a session observer is told.
type sessionLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *sessionLog) observe(core corestore.Key, p peer.ID, opened bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, fmt.Sprintf("%s %s %v", core, p, opened))
}

func (l *sessionLog) waitFor(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		got := slices.Clone(l.evs)
		l.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionObserver: both sides are told when a session opens and when it ends, once each and
// in that order, and a refused capability opens nothing.
func TestSessionObserver(t *testing.T) {
	var ol, rl sessionLog
	owner := newNode(t, "", WithSessionObserver(ol.observe))
	reader := newNode(t, "", WithSessionObserver(rl.observe))
	oc := makeOwner(t, owner, "observed", 3, 64)
	connect(t, reader.host, owner.host)
	ctx := tctx(t, 30*time.Second)

	// A reader that does not know the key gets no session, and nothing is observed.
	stranger := replicaOf(t, reader, corestore.Key{1})
	if err := reader.rep.Replicate(ctx, stranger, owner.host.ID()); err == nil {
		t.Fatal("a session opened for a core the owner does not hold")
	}

	rc := replicaOf(t, reader, oc.Key())
	replicateAndDownload(t, ctx, reader, rc, owner, 0, 3)
	ol.waitFor(t, []string{fmt.Sprintf("%s %s true", oc.Key(), reader.host.ID())})
	rl.waitFor(t, []string{fmt.Sprintf("%s %s true", oc.Key(), owner.host.ID())})

	reader.close()
	ol.waitFor(t, []string{fmt.Sprintf("%s %s true", oc.Key(), reader.host.ID()), fmt.Sprintf("%s %s false", oc.Key(), reader.host.ID())})
	rl.waitFor(t, []string{fmt.Sprintf("%s %s true", oc.Key(), owner.host.ID()), fmt.Sprintf("%s %s false", oc.Key(), owner.host.ID())})
}
