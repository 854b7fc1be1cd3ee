package protocols

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// endpoint is one side of an in-memory session pair.
type endpoint struct {
	s    *Session
	core *corestore.Core
}

// run executes the session's actions synchronously against its core and returns the messages it
// wants sent, encoded and decoded again as the wire would.
func (e *endpoint) run(t testing.TB, now time.Time) ([]Message, error) {
	t.Helper()
	var out []Message
	for {
		msgs, acts := e.s.Ready()
		for _, m := range msgs {
			dm, err := DecodeMessage(EncodeMessage(m))
			if err != nil {
				t.Fatalf("session sent a message that does not decode: %T: %v", m, err)
			}
			out = append(out, dm)
		}
		if len(acts) == 0 {
			return out, nil
		}
		for _, a := range acts {
			switch a := a.(type) {
			case *ServeAction:
				p, err := e.core.Prove(context.Background(), a.Req)
				e.s.Served(a.ID, p, err)
			case *ApplyAction:
				res, err := e.core.ApplyProof(context.Background(), a.Proof)
				if ferr := e.s.Applied(now, a.ID, res, err); ferr != nil {
					return out, ferr
				}
			}
		}
	}
}

// pump moves messages between a and b until neither has anything to say.
func pump(t testing.TB, a, b *endpoint) error {
	t.Helper()
	now := time.Now()
	for round := 0; round < 10000; round++ {
		am, err := a.run(t, now)
		if err != nil {
			return err
		}
		bm, err := b.run(t, now)
		if err != nil {
			return err
		}
		if len(am) == 0 && len(bm) == 0 {
			return nil
		}
		for _, m := range am {
			if err := b.s.Step(now, m); err != nil {
				return err
			}
		}
		for _, m := range bm {
			if err := a.s.Step(now, m); err != nil {
				return err
			}
		}
		a.s.LocalChanged(now)
		b.s.LocalChanged(now)
	}
	t.Fatal("sessions never went quiet")
	return nil
}

func sessionPair(t testing.TB, blocks int) (owner, replica *endpoint, sched *Scheduler) {
	t.Helper()
	ostore := openTestStore(t, t.TempDir())
	t.Cleanup(func() { ostore.Close() })
	rs := openTestStore(t, t.TempDir())
	t.Cleanup(func() { rs.Close() })
	ctx := context.Background()
	oc, err := ostore.Create(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	var bs [][]byte
	for i := 0; i < blocks; i++ {
		bs = append(bs, blockData(i, 50, "m"))
	}
	if _, err := oc.Append(ctx, bs...); err != nil {
		t.Fatal(err)
	}
	rc, err := rs.Replica(ctx, oc.Key())
	if err != nil {
		t.Fatal(err)
	}
	sched = NewScheduler()
	owner = &endpoint{s: NewSession(1, oc, NewScheduler(), DefaultLimits()), core: oc}
	replica = &endpoint{s: NewSession(2, rc, sched, DefaultLimits()), core: rc}
	return owner, replica, sched
}

func TestSessionSyncWithoutNetwork(t *testing.T) {
	tests := []struct {
		name       string
		blocks     int
		start, end uint64 // want; end 0 = open
		wantHeld   int
	}{
		{"tree only", 300, 0, 0, -1},
		{"everything", 3000, 0, 0, 3000},
		{"one range", 3000, 1500, 1600, 100},
		{"one block", 3000, 2999, 3000, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, r, sched := sessionPair(t, tc.blocks)
			if tc.wantHeld >= 0 {
				sched.addWant(tc.start, tc.end)
			}
			now := time.Now()
			o.s.Start(now)
			r.s.Start(now)
			if err := pump(t, o, r); err != nil {
				t.Fatal(err)
			}
			if r.core.Info().TreeHash != o.core.Info().TreeHash {
				t.Fatal("replica did not upgrade to the owner's tree")
			}
			held := 0
			for i := uint64(0); i < uint64(tc.blocks); i++ {
				if r.core.Has(i) {
					held++
				}
			}
			if want := max(tc.wantHeld, 0); held != want {
				t.Fatalf("replica holds %d blocks, want %d", held, want)
			}
		})
	}
}

func TestSessionLiveAppend(t *testing.T) {
	o, r, sched := sessionPair(t, 5)
	sched.addWant(0, 0)
	now := time.Now()
	o.s.Start(now)
	r.s.Start(now)
	if err := pump(t, o, r); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 20; i++ {
		if _, err := o.core.Append(context.Background(), blockData(i, 50, "m")); err != nil {
			t.Fatal(err)
		}
		o.s.LocalChanged(now)
		if err := pump(t, o, r); err != nil {
			t.Fatal(err)
		}
		if !r.core.Has(uint64(i)) {
			t.Fatalf("block %d not pulled after the append", i)
		}
	}
}

func TestSessionViolations(t *testing.T) {
	tests := []struct {
		name string
		msgs []Message
		want error
	}{
		{"second open", []Message{&Open{}}, ErrProtocol},
		{"unsolicited data", []Message{&Data{ID: 99, Blocks: [][]byte{{1}}}}, ErrProtocol},
		{"contiguous past length", []Message{&Sync{Length: 5, Contiguous: 6}}, ErrProtocol},
		{"range overflow", []Message{&Range{Start: ^uint64(0), Length: 2}}, ErrProtocol},
		{"bitfield overflow", []Message{&Bitfield{Start: ^uint64(0) - 3, Bits: []byte{1}}}, ErrProtocol},
		{"inverted request", []Message{&Request{ID: 1, Start: 5, End: 1}}, ErrProtocol},
		{"request id reuse", []Message{&Request{ID: 1, End: 1}, &Request{ID: 1, End: 1}}, ErrProtocol},
		{"harmless", []Message{&NoData{ID: 5}, &Cancel{ID: 3}, &Want{Start: 1}, &Unwant{Start: 1}, &Range{Drop: true, Length: 4}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r, _ := sessionPair(t, 3)
			now := time.Now()
			r.s.Start(now)
			var err error
			for _, m := range tc.msgs {
				if err = r.s.Step(now, m); err != nil {
					break
				}
			}
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSessionFloodAndRate(t *testing.T) {
	tests := []struct {
		name    string
		lim     func(*Limits)
		n       int
		wantErr bool
		noData  int
	}{
		{"over the serving limit", func(l *Limits) { l.MaxServing = 8 }, 9, true, 0},
		{"over the rate", func(l *Limits) { l.RequestBurst, l.RequestRate = 4, 0.001 }, 6, false, 2},
		{"far over the rate", func(l *Limits) { l.RequestBurst, l.RequestRate = 4, 0.001 }, 20, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, _, _ := sessionPair(t, 3)
			lim := DefaultLimits()
			tc.lim(&lim)
			s := NewSession(7, o.core, NewScheduler(), lim)
			now := time.Now()
			s.Start(now)
			s.Ready()
			var err error
			for i := 1; i <= tc.n && err == nil; i++ {
				err = s.Step(now, &Request{ID: uint64(i), End: 1, HaveLength: 3})
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, ErrProtocol) {
				t.Fatalf("err %v is not a protocol violation", err)
			}
			msgs, _ := s.Ready()
			nd := 0
			for _, m := range msgs {
				if _, ok := m.(*NoData); ok {
					nd++
				}
			}
			if !tc.wantErr && nd != tc.noData {
				t.Fatalf("%d NoData, want %d", nd, tc.noData)
			}
		})
	}
}

func TestSessionResponseClipped(t *testing.T) {
	o, _, _ := sessionPair(t, 100)
	lim := DefaultLimits()
	lim.MaxBlocksPerResponse = 10
	s := NewSession(7, o.core, NewScheduler(), lim)
	now := time.Now()
	s.Start(now)
	if err := s.Step(now, &Request{ID: 1, Start: 5, End: 100, HaveLength: 100}); err != nil {
		t.Fatal(err)
	}
	_, acts := s.Ready()
	if len(acts) != 1 {
		t.Fatalf("%d actions", len(acts))
	}
	if a := acts[0].(*ServeAction); a.Req.Start != 5 || a.Req.End != 15 {
		t.Fatalf("served [%d, %d), want [5, 15)", a.Req.Start, a.Req.End)
	}
}

func TestSessionStallAndBadProof(t *testing.T) {
	o, r, sched := sessionPair(t, 2000)
	sched.addWant(0, 0)
	now := time.Now()
	o.s.Start(now)
	r.s.Start(now)
	// Let the replica take the tree and send its first block requests.
	om, _ := o.run(t, now)
	for _, m := range om {
		if err := r.s.Step(now, m); err != nil {
			t.Fatal(err)
		}
	}
	rm, _ := r.run(t, now)
	for _, m := range rm {
		o.s.Step(now, m)
	}
	om, _ = o.run(t, now)
	var upgrade *Data
	for _, m := range om {
		if d, ok := m.(*Data); ok && d.Upgrade != nil {
			upgrade = d
		}
	}
	if upgrade == nil {
		t.Fatal("owner sent no upgrade")
	}
	// A spoiled signature is the peer's fault.
	bad := *upgrade
	bad.Upgrade = &corestore.Upgrade{}
	*bad.Upgrade = *upgrade.Upgrade
	bad.Upgrade.Signature = append([]byte(nil), upgrade.Upgrade.Signature...)
	bad.Upgrade.Signature[3] ^= 0xff
	if err := r.s.Step(now, &bad); err != nil {
		t.Fatal(err)
	}
	_, err := r.run(t, now)
	if !errors.Is(err, ErrBadPeer) {
		t.Fatalf("forged signature: %v", err)
	}
	if r.core.Length() != 0 {
		t.Fatal("forged upgrade was stored")
	}

	// A request left unanswered past the timeout stalls the session.
	_, r2, sched2 := sessionPair(t, 10)
	sched2.addWant(0, 0)
	r2.s.Start(now)
	if err := r2.s.Step(now, &Sync{Length: 10, Contiguous: 10}); err != nil {
		t.Fatal(err)
	}
	if err := r2.s.Tick(now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r2.s.Tick(now.Add(DefaultLimits().RequestTimeout + time.Second)); !errors.Is(err, ErrStalled) {
		t.Fatalf("want ErrStalled, got %v", err)
	}
}

func TestSessionHaveAnnouncements(t *testing.T) {
	tests := []struct {
		name string
		msgs []Message
		has  []uint64
		not  []uint64
	}{
		{"sync contiguous", []Message{&Sync{Length: 100, Contiguous: 10}}, []uint64{0, 9}, []uint64{10, 50}},
		{"range", []Message{&Sync{Length: 100}, &Range{Start: 40, Length: 5}}, []uint64{40, 44}, []uint64{39, 45}},
		{"range dropped", []Message{&Sync{Length: 100}, &Range{Start: 40, Length: 5}, &Range{Drop: true, Start: 42, Length: 1}}, []uint64{41, 43}, []uint64{42}},
		{"bitfield", []Message{&Sync{Length: 100}, &Bitfield{Start: 16, Bits: []byte{0b0000_0110, 0x80}}}, []uint64{17, 18, 31}, []uint64{16, 19, 30}},
		{"new fork forgets", []Message{&Sync{Length: 100}, &Range{Start: 40, Length: 5}, &Sync{Fork: 1, Length: 50}}, nil, []uint64{40}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r, _ := sessionPair(t, 3)
			now := time.Now()
			r.s.Start(now)
			for _, m := range tc.msgs {
				if err := r.s.Step(now, m); err != nil {
					t.Fatal(err)
				}
			}
			for _, i := range tc.has {
				if r.s.runFrom(i) <= i {
					t.Errorf("block %d not known as held", i)
				}
			}
			for _, i := range tc.not {
				if r.s.runFrom(i) > i {
					t.Errorf("block %d known as held", i)
				}
			}
		})
	}
}

// fakeRemote is a peer that holds [0, n).
type fakeRemote uint64

func (f fakeRemote) runFrom(i uint64) uint64 {
	if i < uint64(f) {
		return uint64(f)
	}
	return i
}

func (f fakeRemote) nextFrom(i uint64) (uint64, bool) { return i, i < uint64(f) }

func TestSchedulerSplitsChunks(t *testing.T) {
	o, r, sched := sessionPair(t, 8192)
	presync(t, o.core, r.core, 0)
	sched.addWant(0, 0)
	in := r.core.Info()
	seen := map[uint64]uint64{}
	var got [2]int
	for {
		progress := false
		for sid := uint64(1); sid <= 2; sid++ {
			start, end, c, ok := sched.next(sid, r.core, in.Length, in.ByteLength, fakeRemote(in.Length))
			if !ok {
				continue
			}
			progress = true
			if prev, dup := seen[c]; dup {
				t.Fatalf("chunk %d given to sessions %d and %d", c, prev, sid)
			}
			seen[c] = sid
			got[sid-1] += int(end - start)
		}
		if !progress {
			break
		}
	}
	if got[0]+got[1] != 8192 || got[0] == 0 || got[1] == 0 {
		t.Fatalf("blocks assigned: %v", got)
	}
	// A session that goes away frees its chunks for the others.
	sched.dropSession(1)
	if _, _, _, ok := sched.next(2, r.core, in.Length, in.ByteLength, fakeRemote(in.Length)); !ok {
		t.Fatal("chunks of a dropped session were not freed")
	}
	// While a session waits to upgrade, no chunk is handed out.
	sched.dropSession(2)
	sched.wantUpgrade(3, true)
	if _, _, _, ok := sched.next(2, r.core, in.Length, in.ByteLength, fakeRemote(in.Length)); ok {
		t.Fatal("chunk handed out while an upgrade waits")
	}
	if !sched.tryUpgrade(3) {
		t.Fatal("upgrade refused with nothing in flight")
	}
}

func TestSessionUpgradeRefusals(t *testing.T) {
	_, r, _ := sessionPair(t, 3)
	now := time.Now()
	r.s.Start(now)
	var err error
	for n := uint64(10); n < 20 && err == nil; n++ {
		if err = r.s.Step(now, &Sync{Length: n, Contiguous: n}); err != nil {
			break
		}
		msgs, _ := r.s.Ready()
		for _, m := range msgs {
			if q, ok := m.(*Request); ok && q.Upgrade {
				err = r.s.Step(now, &NoData{ID: q.ID})
			}
		}
	}
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("a peer that never proves its announced trees: %v", err)
	}
}

func TestSessionStallDespiteChatter(t *testing.T) {
	_, r, sched := sessionPair(t, 3)
	sched.addWant(0, 0)
	now := time.Now()
	r.s.Start(now)
	if err := r.s.Step(now, &Sync{Length: 10, Contiguous: 10}); err != nil {
		t.Fatal(err)
	}
	timeout := DefaultLimits().RequestTimeout
	var err error
	for dt := time.Duration(0); dt <= 2*timeout && err == nil; dt += time.Second {
		if err = r.s.Step(now.Add(dt), &Want{Start: 1, Length: 1}); err == nil {
			err = r.s.Tick(now.Add(dt))
		}
	}
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("a peer that chats but never answers: %v", err)
	}
}

// TestSessionSparseReplicaFollowsFork: a sparse replica does not hold the tree nodes where the
// owner's new fork diverges, so it cannot check an upgrade from there; it asks for one from the
// greatest earlier length whose roots it holds, reaches the new fork, and keeps what it held below
// that length.
func TestSessionSparseReplicaFollowsFork(t *testing.T) {
	ctx := context.Background()
	o, r, sched := sessionPair(t, 1000)
	cancelLow, cancelHigh := sched.Want(100, 110), sched.Want(900, 950)
	now := time.Now()
	o.s.Start(now)
	r.s.Start(now)
	if err := pump(t, o, r); err != nil {
		t.Fatal(err)
	}
	if !r.core.Has(920) || !r.core.Has(105) || r.core.Has(300) {
		t.Fatal("the replica is not the sparse copy the test needs")
	}
	cancelLow()
	cancelHigh()
	if err := o.core.Truncate(ctx, 300); err != nil {
		t.Fatal(err)
	}
	var bs [][]byte
	for i := 300; i < 500; i++ {
		bs = append(bs, blockData(i, 50, "fork"))
	}
	if _, err := o.core.Append(ctx, bs...); err != nil {
		t.Fatal(err)
	}
	sched.Want(400, 410)
	o.s.LocalChanged(now)
	if err := pump(t, o, r); err != nil {
		t.Fatal(err)
	}
	if r.core.Info().TreeHash != o.core.Info().TreeHash {
		t.Fatalf("replica at fork %d length %d; the owner is at fork %d length %d",
			r.core.Info().Fork, r.core.Length(), o.core.Info().Fork, o.core.Length())
	}
	for i := uint64(400); i < 410; i++ {
		b, err := r.core.Get(ctx, i)
		if err != nil || string(b) != string(bs[i-300]) {
			t.Fatalf("block %d of the new fork: %v", i, err)
		}
	}
	// Blocks below the fork point that the replica could prove it shares were kept.
	for i := uint64(100); i < 110; i++ {
		if _, err := r.core.Get(ctx, i); err != nil {
			t.Fatalf("block %d, below the fork, was dropped: %v", i, err)
		}
	}
}

// TestSessionBacksOffOnDiskFull: a proof the local store refuses for lack of disk space is not
// the peer's fault, and the session asks for nothing more until DiskFullBackoff has passed.
func TestSessionBacksOffOnDiskFull(t *testing.T) {
	o, r, sched := sessionPair(t, 200)
	sched.addWant(0, 0)
	now := time.Now()
	o.s.Start(now)
	r.s.Start(now)
	requests := func(msgs []Message) int {
		n := 0
		for _, m := range msgs {
			if q, ok := m.(*Request); ok && q.End > q.Start {
				n++
			}
		}
		return n
	}
	// Exchange until the replica has the tree and asks for blocks; answer one request with a
	// proof, and refuse to store it as a full disk would.
	var asked []Message
	for round := 0; round < 20 && requests(asked) == 0; round++ {
		om, _ := o.run(t, now)
		for _, m := range om {
			if err := r.s.Step(now, m); err != nil {
				t.Fatal(err)
			}
		}
		asked, _ = r.run(t, now)
		for _, m := range asked {
			if requests([]Message{m}) == 0 {
				o.s.Step(now, m)
			}
		}
	}
	if requests(asked) == 0 {
		t.Fatal("the replica never asked for blocks")
	}
	var failed bool
	for _, m := range asked {
		q, ok := m.(*Request)
		if !ok || q.End <= q.Start {
			continue
		}
		o.s.Step(now, m)
		om, _ := o.run(t, now)
		for _, m := range om {
			r.s.Step(now, m)
		}
		_, acts := r.s.Ready()
		for _, a := range acts {
			if ap, ok := a.(*ApplyAction); ok {
				if err := r.s.Applied(now, ap.ID, corestore.ApplyResult{}, fmt.Errorf("store: %w", corestore.ErrDiskFull)); err != nil {
					t.Fatalf("a full disk failed the session: %v", err)
				}
				failed = true
			}
		}
	}
	if !failed {
		t.Fatal("no proof reached the replica")
	}
	if err := r.s.Tick(now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs, _ := r.s.Ready()
	if n := requests(msgs); n != 0 {
		t.Fatalf("%d requests sent while the disk is full", n)
	}
	if err := r.s.Tick(now.Add(DiskFullBackoff + time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs, _ = r.s.Ready()
	if requests(msgs) == 0 {
		t.Fatal("no request after the backoff")
	}
}
