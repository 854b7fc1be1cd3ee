package dwncore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsv"
)

func timeAfterVectors() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }

// replicate makes (or updates) a replica of owner in cs, through signed proofs as the
// replication protocol moves them.
func replicate(t testing.TB, owner *corestore.Core, cs *corestore.Store) *corestore.Core {
	t.Helper()
	ctx := context.Background()
	rep, err := cs.Replica(ctx, owner.Key())
	if err != nil {
		t.Fatal(err)
	}
	rt := rep.Tree()
	if rt.Length >= owner.Length() {
		return rep
	}
	p, err := owner.Prove(ctx, corestore.ProofRequest{Start: rt.Length, End: owner.Length(), Upgrade: true,
		HaveFork: rt.Fork, HaveLength: rt.Length, NeedManifest: rep.Manifest() == nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
	return rep
}

// node is one DWN node of a test.
type node struct {
	name string
	s    *dwncore.Store
	cs   *corestore.Store
}

// newNode opens a node whose ingest fetches large data from the nodes in peers (as bitswap
// would fetch it from them).
func newNode(t *testing.T, name string, peers *[]*node) *node {
	fetch := func(ctx context.Context, cid string) (io.ReadCloser, error) {
		for _, p := range *peers {
			if rc, err := p.s.DataStore().(*dwncore.BlockDataStore).Fetch(ctx, cid); err == nil {
				return rc, nil
			}
		}
		return nil, dwn.ErrNotFound
	}
	s, cs := newStore(t, dwncore.WithDataFetcher(fetch))
	n := &node{name: name, s: s, cs: cs}
	*peers = append(*peers, n)
	return n
}

// heal replicates every node's tenant core to every other node and ingests, until nothing new
// is accepted anywhere.
func heal(t *testing.T, tenant string, nodes ...*node) {
	t.Helper()
	ctx := context.Background()
	for round := 0; ; round++ {
		if round > 20 {
			t.Fatal("no fixpoint after 20 rounds")
		}
		progress := 0
		for _, to := range nodes {
			for _, from := range nodes {
				if from == to {
					continue
				}
				own, err := from.s.TenantCore(ctx, tenant)
				if err != nil {
					t.Fatal(err)
				}
				rep := replicate(t, own, to.cs)
				st, err := to.s.Ingest(ctx, tenant, rep)
				if err != nil {
					t.Fatal(err)
				}
				progress += st.Accepted + st.Retried
			}
		}
		if progress == 0 {
			return
		}
	}
}

// state is what a tenant's owner sees: every record (newest write or delete, with its data) and
// the set of messages in the event log.
func state(t *testing.T, n *dwn.Node, tenant string, owner *dwntest.Persona) string {
	t.Helper()
	ctx := context.Background()
	c := dwntest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	var lines []string
	for _, f := range []*jsv.Object{dwntest.Obj("dataFormat", "application/json"), dwntest.Obj("dataFormat", "text/plain")} {
		r, err := n.Process(ctx, tenant, owner.RecordsQuery(c, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Entries {
			lines = append(lines, "record "+jsv.Stringify(e))
		}
	}
	mq, err := n.Process(ctx, tenant, owner.MessagesQuery(c, []any{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range mq.Entries {
		events = append(events, "event "+e.(string))
	}
	sort.Strings(events)
	return strings.Join(append(lines, events...), "\n")
}

func process(t *testing.T, n *node, tenant string, m *jsv.Object, data []byte, want int) {
	t.Helper()
	var opts []dwn.ProcessOption
	if data != nil {
		opts = append(opts, dwn.WithData(bytes.NewReader(data)))
	}
	r, err := n.s.Node().Process(context.Background(), tenant, m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status.Code != want {
		t.Fatalf("%s: %d %s, want %d", n.name, r.Status.Code, r.Status.Detail, want)
	}
}

const threads = `{"protocol":"https://example.com/threads","published":true,
"types":{"thread":{"dataFormats":["application/json"]},"reply":{"dataFormats":["text/plain"]}},
"structure":{"thread":{"$actions":[{"who":"anyone","can":["create"]}],
"reply":{"$actions":[{"who":"anyone","can":["create"]}]}}}}`

// TestPartitionConverges lets two nodes of one tenant take different writes while partitioned,
// including updates of the same record, a delete against a newer write, children of a record
// deleted on the other side, and large data, and checks that after healing both hold the same
// records, data and messages, with newest-wins applied alike; a node that joins late catches up
// from either; and a delete on one node removes the record on both.
func TestPartitionConverges(t *testing.T) {
	ctx := context.Background()
	alice := dwntest.NewPersona(1)
	bob := dwntest.NewPersona(2)
	c := dwntest.NewClock(timeAfterVectors())
	var peers []*node
	a, b := newNode(t, "a", &peers), newNode(t, "b", &peers)
	tenant := alice.DID

	// common history, written on a and synced
	process(t, a, tenant, alice.ProtocolsConfigure(c, threads), nil, 202)
	note := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"v":0}`), Schema: "https://example.com/note"})
	process(t, a, tenant, note, []byte(`{"v":0}`), 202)
	thread := bob.RecordsWrite(c, dwntest.Write{Data: []byte(`{"t":1}`), Protocol: "https://example.com/threads", ProtocolPath: "thread"})
	process(t, a, tenant, thread, []byte(`{"t":1}`), 202)
	doomed := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"d":1}`), Schema: "https://example.com/note"})
	process(t, a, tenant, doomed, []byte(`{"d":1}`), 202)
	heal(t, tenant, a, b)
	if sa, sb := state(t, a.s.Node(), tenant, alice), state(t, b.s.Node(), tenant, alice); sa != sb {
		t.Fatalf("states differ before the partition:\n%s\n---\n%s", sa, sb)
	}

	// partition: a and b take writes nobody else sees
	upA := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"v":"a"}`), Of: note})
	upB := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"v":"b"}`), Of: note}) // newer: wins
	process(t, a, tenant, upA, []byte(`{"v":"a"}`), 202)
	process(t, b, tenant, upB, []byte(`{"v":"b"}`), 202)
	delThread := alice.RecordsDelete(c, str(thread, "recordId"), false)
	process(t, a, tenant, delThread, nil, 202)
	reply := bob.RecordsWrite(c, dwntest.Write{Data: []byte("re"), DataFormat: "text/plain", Protocol: "https://example.com/threads", ProtocolPath: "thread/reply", ParentContext: str(thread, "contextId")})
	process(t, b, tenant, reply, []byte("re"), 202)
	delDoomed := alice.RecordsDelete(c, str(doomed, "recordId"), false)
	process(t, b, tenant, delDoomed, nil, 202)
	lateWrite := alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"d":2}`), Of: doomed}) // newer than the delete on b
	process(t, a, tenant, lateWrite, []byte(`{"d":2}`), 202)
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	blob := alice.RecordsWrite(c, dwntest.Write{Data: big, DataFormat: "application/json", Schema: "https://example.com/blob"})
	process(t, b, tenant, blob, big, 202)
	for i := 0; i < 5; i++ {
		d := []byte(`{"i":` + string(rune('0'+i)) + `}`)
		process(t, a, tenant, alice.RecordsWrite(c, dwntest.Write{Data: d, Schema: "https://example.com/a"}), d, 202)
		process(t, b, tenant, alice.RecordsWrite(c, dwntest.Write{Data: d, Schema: "https://example.com/b"}), d, 202)
	}
	if sa, sb := state(t, a.s.Node(), tenant, alice), state(t, b.s.Node(), tenant, alice); sa == sb {
		t.Fatal("the partition made no difference")
	}

	heal(t, tenant, a, b)
	sa, sb := state(t, a.s.Node(), tenant, alice), state(t, b.s.Node(), tenant, alice)
	if sa != sb {
		t.Fatalf("states differ after healing:\n%s\n---\n%s", sa, sb)
	}
	// newest wins, the same way on both
	for _, n := range []*node{a, b} {
		rd := readData(t, n.s.Node(), tenant, alice, str(note, "recordId"))
		if rd != `{"v":"b"}` {
			t.Errorf("%s: note is %q, want the newer update", n.name, rd)
		}
		if got := readData(t, n.s.Node(), tenant, alice, str(doomed, "recordId")); got != `{"d":2}` {
			t.Errorf("%s: a write newer than the delete should win, got %q", n.name, got)
		}
		if got := readData(t, n.s.Node(), tenant, alice, str(reply, "recordId")); got != "re" {
			t.Errorf("%s: the reply to a thread deleted elsewhere: %q", n.name, got)
		}
		if got := readData(t, n.s.Node(), tenant, alice, str(blob, "recordId")); got != string(big) {
			t.Errorf("%s: large data: %d bytes", n.name, len(got))
		}
	}

	// a node that joins late catches up from one of them
	late := newNode(t, "late", &peers)
	heal(t, tenant, a, late)
	if sl := state(t, late.s.Node(), tenant, alice); sl != sa {
		t.Fatalf("late joiner differs:\n%s\n---\n%s", sl, sa)
	}

	// a delete on one node removes the record everywhere
	process(t, late, tenant, alice.RecordsDelete(c, str(note, "recordId"), true), nil, 202)
	heal(t, tenant, a, b, late)
	for _, n := range []*node{a, b, late} {
		r, _ := n.s.Node().Process(ctx, tenant, alice.RecordsRead(c, str(note, "recordId")))
		if r.Status.Code != 404 {
			t.Errorf("%s: read after delete: %d", n.name, r.Status.Code)
		}
	}
	if s1, s2, s3 := state(t, a.s.Node(), tenant, alice), state(t, b.s.Node(), tenant, alice), state(t, late.s.Node(), tenant, alice); s1 != s2 || s2 != s3 {
		t.Fatal("states differ after the delete")
	}
}

func str(m *jsv.Object, k string) string {
	v, _ := m.Get(k)
	s, _ := v.(string)
	return s
}

func readData(t *testing.T, n *dwn.Node, tenant string, who *dwntest.Persona, recordID string) string {
	t.Helper()
	c := dwntest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := n.Process(context.Background(), tenant, who.RecordsRead(c, recordID))
	if err != nil {
		t.Fatal(err)
	}
	if r.Data == nil {
		return "<" + r.Status.Detail + ">"
	}
	defer r.Data.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Data)
	return b.String()
}

// TestIngestOrderDoesNotMatter is a property test: the messages of a history, ingested by fresh
// nodes in random orders (with refused ones retried until nothing changes), give one state.
func TestIngestOrderDoesNotMatter(t *testing.T) {
	ctx := context.Background()
	alice := dwntest.NewPersona(1)
	bob := dwntest.NewPersona(2)
	c := dwntest.NewClock(timeAfterVectors())
	type msg struct {
		m    *jsv.Object
		data []byte
	}
	var history []msg
	add := func(m *jsv.Object, data []byte) *jsv.Object {
		history = append(history, msg{m, data})
		return m
	}
	add(alice.ProtocolsConfigure(c, threads), nil)
	var notes []*jsv.Object
	for i := 0; i < 4; i++ {
		notes = append(notes, add(alice.RecordsWrite(c, dwntest.Write{Data: []byte(`{"n":0}`), Schema: "https://example.com/note"}), []byte(`{"n":0}`)))
	}
	for i := 0; i < 3; i++ {
		for j, n := range notes {
			d := []byte(`{"n":` + string(rune('1'+i)) + `,"j":` + string(rune('0'+j)) + `}`)
			add(alice.RecordsWrite(c, dwntest.Write{Data: d, Of: n}), d)
		}
	}
	add(alice.RecordsDelete(c, str(notes[0], "recordId"), false), nil)
	add(alice.RecordsDelete(c, str(notes[1], "recordId"), true), nil)
	th := add(bob.RecordsWrite(c, dwntest.Write{Data: []byte(`{}`), Protocol: "https://example.com/threads", ProtocolPath: "thread"}), []byte(`{}`))
	for i := 0; i < 3; i++ {
		add(bob.RecordsWrite(c, dwntest.Write{Data: []byte("r"), DataFormat: "text/plain", Protocol: "https://example.com/threads", ProtocolPath: "thread/reply", ParentContext: str(th, "contextId")}), []byte("r"))
	}
	add(alice.RecordsDelete(c, str(th, "recordId"), false), nil)

	var want string
	for trial := 0; trial < 6; trial++ {
		s, _ := newStore(t)
		order := rand.New(rand.NewPCG(uint64(trial), 99)).Perm(len(history))
		if trial == 0 {
			for i := range order {
				order[i] = i
			}
		}
		pending := order
		for round := 0; len(pending) > 0; round++ {
			if round > len(history) {
				break
			}
			var next []int
			for _, i := range pending {
				h := history[i]
				var data *bytes.Reader
				if h.data != nil {
					data = bytes.NewReader(h.data)
				}
				var r *dwn.Reply
				var err error
				if data != nil {
					r, err = s.Node().Ingest(ctx, alice.DID, h.m, data)
				} else {
					r, err = s.Node().Ingest(ctx, alice.DID, h.m, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Status.Code != 202 && r.Status.Code != 204 && r.Status.Code != 409 {
					next = append(next, i)
				}
			}
			if len(next) == len(pending) {
				break
			}
			pending = next
		}
		got := state(t, s.Node(), alice.DID, alice)
		if trial == 0 {
			want = got
			continue
		}
		if got != want {
			t.Fatalf("order %v gives another state:\n%s\n---\n%s", order, got, want)
		}
	}
}

var _ = errors.New
