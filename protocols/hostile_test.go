package protocols

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
)

// hostile is a deliberately malicious peer that speaks the wire protocol by hand. It knows the
// core key and holds a full copy, so it can build valid proofs, which it then spoils.
type hostile struct {
	t       testing.TB
	h       host.Host
	core    *corestore.Core
	mode    string
	claim   uint64 // the length it announces; 0: its real length
	once    sync.Once
	gotReq  chan struct{}
	release chan struct{}
	done    chan struct{}
}

func newHostile(t testing.TB, core *corestore.Core, mode string, claim uint64) *hostile {
	m := &hostile{t: t, h: newTestHost(t), core: core, mode: mode, claim: claim,
		gotReq: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
	m.h.SetStreamHandler(protocol.ID(ProtocolID), m.handle)
	t.Cleanup(func() { close(m.done) })
	return m
}

func (m *hostile) write(s network.Stream, msg Message) error {
	_, err := s.Write(AppendFrame(nil, msg))
	return err
}

func (m *hostile) signal() { m.once.Do(func() { close(m.gotReq) }) }

func (m *hostile) handle(s network.Stream) {
	defer s.Reset()
	br := bufio.NewReader(s)
	msg, err := ReadMessage(br, 1<<20)
	if err != nil {
		return
	}
	o, ok := msg.(*Open)
	if !ok {
		return
	}
	remote, local := s.Conn().RemotePeer(), m.h.ID()
	if m.write(s, &Open{DiscoveryKey: o.DiscoveryKey, Capability: Capability(m.core.Key(), remote, local, false)}) != nil {
		return
	}
	in := m.core.Info()
	claim := in.Length
	if m.claim != 0 {
		claim = m.claim
	}
	m.write(s, &Sync{Fork: in.Fork, Length: claim, Contiguous: claim, Signature: in.Signature})
	switch m.mode {
	case "flood":
		m.signal()
		<-m.release
		for i := uint64(1); i <= 10000; i++ {
			if m.write(s, &Request{ID: i, Start: 0, End: 1, HaveLength: in.Length}) != nil {
				break
			}
		}
		<-m.done
		return
	case "silent": // reads every request and never answers one
		for {
			msg, err := ReadMessage(br, DefaultMaxMessageSize)
			if err != nil {
				return
			}
			if _, ok := msg.(*Request); ok {
				m.signal()
			}
		}
	case "oversized":
		m.signal()
		<-m.release
		frame := binary.AppendUvarint(nil, 1<<30) // 1 GiB, far past the limit
		s.Write(append(frame, make([]byte, 1024)...))
		<-m.done
		return
	}
	for {
		msg, err := ReadMessage(br, DefaultMaxMessageSize)
		if err != nil {
			return
		}
		q, ok := msg.(*Request)
		if !ok {
			continue
		}
		m.signal()
		select {
		case <-m.release:
		case <-m.done:
			return
		}
		p, err := m.core.Prove(context.Background(), corestore.ProofRequest{Start: q.Start, End: q.End,
			Upgrade: q.Upgrade, HaveFork: q.Fork, HaveLength: q.HaveLength, NeedManifest: q.NeedManifest})
		if err != nil {
			m.write(s, &NoData{ID: q.ID})
			continue
		}
		switch m.mode {
		case "wrong-block":
			p.Blocks[len(p.Blocks)/2] = append([]byte("evil"), p.Blocks[len(p.Blocks)/2][4:]...)
		case "wrong-node":
			if len(p.Nodes) == 0 { // nothing to spoil in this one; refuse it and wait for the next
				m.write(s, &NoData{ID: q.ID})
				continue
			}
			p.Nodes[0].Hash[0] ^= 1
		case "forged-signature":
			if p.Upgrade == nil {
				m.t.Error("no upgrade to forge")
			} else {
				p.Upgrade.Signature[0] ^= 1
			}
		case "unprovable-upgrade":
			if p.Upgrade == nil {
				m.t.Error("no upgrade to stretch")
			} else {
				p.Upgrade.Length = m.claim
			}
		case "stall":
			f := AppendFrame(nil, dataOf(q.ID, p))
			s.Write(f[:len(f)/2])
			<-m.done
			return
		}
		m.write(s, dataOf(q.ID, p))
	}
}

// snapshot is the stored state of a replica that hostile data must not change.
type snapshot struct {
	Info corestore.Info
	Have []bool
}

func snap(c *corestore.Core, n uint64) snapshot {
	s := snapshot{Info: c.Info(), Have: make([]bool, n)}
	for i := range s.Have {
		s.Have[i] = c.Has(uint64(i))
	}
	return s
}

// presync gives replica the owner's tree and blocks [0, n) without the network.
func presync(t testing.TB, owner, replica *corestore.Core, n uint64) {
	t.Helper()
	ctx := context.Background()
	rt := replica.Tree()
	p, err := owner.Prove(ctx, corestore.ProofRequest{Start: 0, End: n, Upgrade: true, HaveFork: rt.Fork,
		HaveLength: rt.Length, NeedManifest: replica.Manifest() == nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func TestHostilePeers(t *testing.T) {
	const n, size = 1000, 16 << 10 // 16 KiB blocks: 256-block chunks
	owner := newNode(t, "")
	oc := makeOwner(t, owner, "hostile", n, size)
	evilStore := openTestStore(t, t.TempDir())
	t.Cleanup(func() { evilStore.Close() })
	ec, err := evilStore.Replica(context.Background(), oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	presync(t, oc, ec, n)
	// base keeps the tree of length n for readers to start from after the owner grows.
	baseStore := openTestStore(t, t.TempDir())
	t.Cleanup(func() { baseStore.Close() })
	bc, err := baseStore.Replica(context.Background(), oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	presync(t, oc, bc, n)
	lim := DefaultLimits()
	lim.RequestTimeout = time.Second

	tests := []struct {
		mode    string
		upgrade bool // the offence is in a tree upgrade: the owner first grows by 10 blocks
		claim   uint64
	}{
		{mode: "wrong-block"},
		{mode: "wrong-node"},
		{mode: "oversized"},
		{mode: "flood"},
		{mode: "stall"},
		{mode: "forged-signature", upgrade: true},
		{mode: "unprovable-upgrade", upgrade: true, claim: n + 1000},
	}
	grown := false
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			ctx := tctx(t, 30*time.Second)
			if tc.upgrade && !grown {
				grown = true
				var more [][]byte
				for i := n; i < n+10; i++ {
					more = append(more, blockData(i, size, "hostile"))
				}
				if _, err := oc.Append(ctx, more...); err != nil {
					t.Fatal(err)
				}
				presync(t, oc, ec, n+10)
			}
			reader := newNode(t, "", WithLimits(lim))
			rc := replicaOf(t, reader, oc.Key())
			presync(t, bc, rc, 256)
			total := oc.Length()
			evil := newHostile(t, ec, tc.mode, tc.claim)
			connect(t, reader.host, evil.h)
			connect(t, reader.host, owner.host)
			if !tc.upgrade {
				stop := reader.rep.Want(rc, 0, 0)
				defer stop()
			}
			if err := reader.rep.Replicate(ctx, rc, evil.h.ID()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-evil.gotReq:
			case <-ctx.Done():
				t.Fatal("the hostile peer was never asked anything")
			}
			before := snap(rc, total)
			close(evil.release)
			for reader.rep.Score(evil.h.ID()) >= 0 || len(reader.host.Network().ConnsToPeer(evil.h.ID())) > 0 {
				if ctx.Err() != nil {
					t.Fatalf("offender not disconnected: score %d, conns %d", reader.rep.Score(evil.h.ID()),
						len(reader.host.Network().ConnsToPeer(evil.h.ID())))
				}
				time.Sleep(5 * time.Millisecond)
			}
			if after := snap(rc, total); !reflect.DeepEqual(before, after) {
				t.Fatalf("hostile data changed the replica: before %+v after %+v", before.Info, after.Info)
			}
			if err := reader.rep.Replicate(ctx, rc, owner.host.ID()); err != nil {
				t.Fatal(err)
			}
			if err := reader.rep.Download(ctx, rc, 0, 0); err != nil {
				t.Fatalf("%v\n%s", err, dumpState(reader.rep, rc))
			}
			if rc.Info().TreeHash != oc.Info().TreeHash || rc.Contiguous() != total {
				t.Fatalf("download from the honest peer incomplete: %+v", rc.Info())
			}
			checkBlocks(t, rc, "hostile", size, 0, total)
			if err := rc.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("offender score %d", reader.rep.Score(evil.h.ID()))
		})
	}
}

// dumpState describes a replicator's view of a core, for failure messages.
func dumpState(r *Replicator, c *corestore.Core) string {
	r.mu.Lock()
	cs := r.cores[c.DiscoveryKey()]
	var ds []*driver
	for _, d := range cs.sessions {
		ds = append(ds, d)
	}
	r.mu.Unlock()
	cs.sched.mu.Lock()
	out := fmt.Sprintf("local %+v contiguous %d\nsched inflight %v upgrader %d upWant %v wants %v\n",
		c.Info(), c.Contiguous(), cs.sched.inflight, cs.sched.upgrader, cs.sched.upWant, cs.sched.wants)
	cs.sched.mu.Unlock()
	for _, d := range ds {
		d.snapMu.Lock()
		out += fmt.Sprintf("session %d peer %s remote known %v fork %d len %d upgradable %v\n", d.id, d.peer, d.remoteKnown, d.remoteFork, d.remoteLen, d.upgradable)
		if testing.Verbose() { // racy read, for debugging only
			out += fmt.Sprintf("  stats %+v remote %+v reqs %d\n", d.sess.stats, d.sess.remote, len(d.sess.reqs))
		}
		d.snapMu.Unlock()
	}
	return out
}
