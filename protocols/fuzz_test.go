package protocols

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(EncodeMessage(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		enc := EncodeMessage(m)
		m2, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
		if enc2 := EncodeMessage(m2); !bytes.Equal(enc, enc2) {
			t.Fatalf("%T: encoding not stable", m)
		}
	})
}

// fuzzSeeds returns message sequences, as concatenated frames, that drive a session through
// its states: a sync, requests, data for its requests, and hostile variants.
func fuzzSeeds() [][]byte {
	frames := func(ms ...Message) []byte {
		var b []byte
		for _, m := range ms {
			b = AppendFrame(b, m)
		}
		return b
	}
	data := &Data{ID: 1, Start: 50, Blocks: [][]byte{[]byte("x")}, Nodes: []corestore.Node{{Index: 100, Size: 1}}}
	return [][]byte{
		frames(&Sync{Length: 100, Contiguous: 100}),
		frames(&Sync{Length: 100, Contiguous: 100}, data, &NoData{ID: 2}),
		frames(&Sync{Fork: 1, Length: 200, Contiguous: 10}, &Data{ID: 1, Upgrade: &corestore.Upgrade{Fork: 1, Length: 200}}),
		frames(&Request{ID: 1, Start: 0, End: 10, HaveLength: 100}, &Request{ID: 2, Start: 0, End: 60, Upgrade: true}, &Cancel{ID: 2}),
		frames(&Want{Start: 3}, &Range{Start: 60, Length: 10}, &Bitfield{Start: 64, Bits: []byte{0xf0}}, &Unwant{Start: 3}),
		frames(&Open{}, &Sync{Length: 5, Contiguous: 6}),
		frames(&Sync{Length: 100, Contiguous: 100}, &NoData{ID: 1, Reason: NoDataTooLarge}, &NoData{ID: 2, Reason: 7}),
	}
}

// openSeeds are first frames of a stream: a valid Open, an Open of the wrong kind, a length over
// the limit, a truncated frame and a length that is not a varint.
func openSeeds() [][]byte {
	dk := bytes.Repeat([]byte{7}, 32)
	return [][]byte{
		AppendFrame(nil, &Open{DiscoveryKey: dk, Capability: bytes.Repeat([]byte{9}, 32)}),
		AppendFrame(nil, &Sync{Length: 3}),
		binary.AppendUvarint(nil, maxOpenMessage+1),
		AppendFrame(nil, &Open{DiscoveryKey: dk})[:10],
		bytes.Repeat([]byte{0xff}, 11),
	}
}

// FuzzReadOpen: reading the first frame of a stream a peer opened, without a read buffer, never
// panics and never reads past the frame, and a message it returns re-encodes to one that decodes.
func FuzzReadOpen(f *testing.F) {
	for _, s := range openSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		m, err := readOpen(r)
		if err != nil {
			return
		}
		n, _ := binary.Uvarint(b)
		if read := int(r.Size()) - r.Len(); uint64(read) != n+uint64(len(binary.AppendUvarint(nil, n))) {
			t.Fatalf("read %d bytes of a %d-byte frame", read, n)
		}
		if _, err := DecodeMessage(EncodeMessage(m)); err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
	})
}

func FuzzSession(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	// One owner with 100 blocks and one replica holding the tree and blocks [0, 50), shared by
	// every input; no input can change them (it would need the owner's key).
	ctx := context.Background()
	ostore := openTestStore(f, f.TempDir())
	f.Cleanup(func() { ostore.Close() })
	rs := openTestStore(f, f.TempDir())
	f.Cleanup(func() { rs.Close() })
	oc, err := ostore.Create(ctx, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	var bs [][]byte
	for i := 0; i < 100; i++ {
		bs = append(bs, blockData(i, 40, "fuzz"))
	}
	if _, err := oc.Append(ctx, bs...); err != nil {
		f.Fatal(err)
	}
	rc, err := rs.Replica(ctx, oc.Key())
	if err != nil {
		f.Fatal(err)
	}
	presync(f, oc, rc, 50)
	want := rc.Info()

	f.Fuzz(func(t *testing.T, b []byte) {
		sched := NewScheduler()
		sched.addWant(0, 0)
		lim := DefaultLimits()
		lim.MaxServing, lim.RequestBurst = 8, 8
		sessions := []*endpoint{
			{s: NewSession(1, rc, sched, lim), core: rc},
			{s: NewSession(2, oc, NewScheduler(), lim), core: oc},
		}
		now := time.Unix(1e9, 0)
		for _, e := range sessions {
			e.s.Start(now)
		}
		br := bufio.NewReader(bytes.NewReader(b))
		for step := 0; ; step++ {
			m, err := ReadMessage(br, 1<<16)
			if err != nil {
				break
			}
			now = now.Add(time.Duration(step%7) * time.Second)
			for _, e := range sessions {
				serr := e.s.Step(now, m)
				if serr == nil {
					serr = e.s.Tick(now)
				}
				if serr == nil {
					_, serr = e.run(t, now)
				}
				if serr != nil && e.s.Err() == nil {
					t.Fatalf("fatal error %v not kept by the session", serr)
				}
			}
		}
		for _, e := range sessions {
			e.s.Close()
		}
		if got := rc.Info(); got.TreeHash != want.TreeHash || got.Length != want.Length || rc.Contiguous() != 50 {
			t.Fatalf("fuzzed messages changed the replica: %+v", got)
		}
	})
}

// TestWriteFuzzCorpus writes the seeds above as files under testdata/fuzz when
// SYNC_WRITE_CORPUS is set; the committed corpus was made with it.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SYNC_WRITE_CORPUS") == "" {
		t.Skip("set SYNC_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(name string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, "seed-"+strconv.Itoa(i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var dm [][]byte
	for _, m := range sampleMessages() {
		dm = append(dm, EncodeMessage(m))
	}
	write("FuzzDecodeMessage", dm)
	write("FuzzSession", fuzzSeeds())
	write("FuzzReadOpen", openSeeds())
}
