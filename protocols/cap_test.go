package protocols

import (
	"bufio"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
)

// TestCapabilityRequired opens raw streams to a node and checks that only a peer that proves it
// knows the core key, for this pair of peers, gets an answer, and that no request ever makes the
// node create a core.
func TestCapabilityRequired(t *testing.T) {
	owner := newNode(t, "")
	oc := makeOwner(t, owner, "cap", 10, 10)
	attacker := newTestHost(t)
	connect(t, attacker, owner.host)
	ctx := tctx(t, 20*time.Second)
	var randomKey corestore.Key
	rand.Read(randomKey[:])
	dk := oc.DiscoveryKey()
	unknownDK := corestore.DiscoveryKey(randomKey)
	a, o := attacker.ID(), owner.host.ID()
	tests := []struct {
		name string
		open *Open
		ok   bool
	}{
		{"right key", &Open{DiscoveryKey: dk[:], Capability: Capability(oc.Key(), a, o, true)}, true},
		{"discovery key only", &Open{DiscoveryKey: dk[:], Capability: make([]byte, 32)}, false},
		{"capability keyed with the discovery key", &Open{DiscoveryKey: dk[:], Capability: Capability(dk, a, o, true)}, false},
		{"capability for other peers", &Open{DiscoveryKey: dk[:], Capability: Capability(oc.Key(), o, a, true)}, false},
		{"responder capability replayed", &Open{DiscoveryKey: dk[:], Capability: Capability(oc.Key(), a, o, false)}, false},
		{"core not held", &Open{DiscoveryKey: unknownDK[:], Capability: Capability(randomKey, a, o, true)}, false},
		{"short discovery key", &Open{DiscoveryKey: dk[:5], Capability: Capability(oc.Key(), a, o, true)}, false},
	}
	keysBefore, _ := owner.store.Keys(ctx)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := attacker.NewStream(ctx, o, protocol.ID(ProtocolID))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Reset()
			s.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := s.Write(AppendFrame(nil, tc.open)); err != nil {
				t.Fatal(err)
			}
			m, err := ReadMessage(bufio.NewReader(s), 1<<20)
			if !tc.ok {
				if err == nil {
					t.Fatalf("got %T without a valid capability", m)
				}
				return
			}
			ro, ok := m.(*Open)
			if err != nil || !ok || !checkCapability(ro.Capability, oc.Key(), a, o, false) {
				t.Fatalf("no valid answer: %v %T", err, m)
			}
		})
	}
	keysAfter, _ := owner.store.Keys(context.Background())
	if len(keysAfter) != len(keysBefore) {
		t.Fatalf("remote streams made the node create cores: %d → %d", len(keysBefore), len(keysAfter))
	}
	if sc := owner.rep.Score(a); sc >= 0 {
		t.Fatalf("bad capabilities did not lower the score: %d", sc)
	}
}
