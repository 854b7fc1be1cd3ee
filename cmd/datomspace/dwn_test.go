package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/peer"
)

// dwnStatus is what `serve --json` says of its DWN.
type dwnStatus struct {
	DID      string `json:"did"`
	HTTP     string `json:"http"`
	Protocol string `json:"protocol"`
	Open     bool   `json:"open"`
}

// keyFile writes p's private key as a DWN key file (a private JWK) and returns its path.
func keyFile(t *testing.T, p *dwntest.Persona) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(p.Key.Public().(ed25519.PublicKey)), "d": b64(p.Key.Seed())}
	b, _ := json.Marshal(jwk)
	path := filepath.Join(t.TempDir(), "key.jwk")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sendDWN sends msg (and data, when not nil) to the DWN of repo's daemon (or repo) with
// `dwn process ... --json`, plus extra flags, and returns the reply's code and what it printed.
func sendDWN(t *testing.T, repo, target string, msg *jsv.Object, data []byte, extra ...string) (int, map[string]json.RawMessage) {
	t.Helper()
	dir := t.TempDir()
	mf := filepath.Join(dir, "message.json")
	os.WriteFile(mf, []byte(jsv.Stringify(msg)), 0o600)
	args := append([]string{"dwn", "process", target, mf, "--json"}, extra...)
	if data != nil {
		df := filepath.Join(dir, "data")
		os.WriteFile(df, data, 0o600)
		args = append(args, "--data", df)
	}
	r := ds(t, repo, "", args...)
	var out map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("dwn process: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Status struct{ Code int } `json:"status"`
	}
	json.Unmarshal(out["reply"], &rep)
	if (rep.Status.Code >= 400) != (r.code == 1) {
		t.Fatalf("dwn process: status %d but exit %d: %s", rep.Status.Code, r.code, r.stderr)
	}
	return rep.Status.Code, out
}

// mustProcess is dwnProcess that wants the status code want.
func mustProcess(t *testing.T, repo, target string, msg *jsv.Object, data []byte, want int, extra ...string) {
	t.Helper()
	if code, out := sendDWN(t, repo, target, msg, data, extra...); code != want {
		t.Fatalf("dwn process: %d, want %d: %s", code, want, out["reply"])
	}
}

// records returns the entries of a RecordsQuery by schema on repo's daemon, signed with key, as
// the CLI prints them with --json.
func records(t *testing.T, repo, tenant, key, schema string) string {
	t.Helper()
	r := ds(t, repo, "", "dwn", "query", tenant, "--schema", schema, "--key", key, "--json")
	if r.code != 0 {
		t.Fatalf("dwn query on %s: exit %d: %s", filepath.Base(repo), r.code, r.stderr)
	}
	var rep struct {
		Entries json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("dwn query --json: %q", r.stdout)
	}
	return string(rep.Entries)
}

// dataOf returns recordId -> data of the entries of a RecordsQuery reply.
func dataOf(t *testing.T, entries string) map[string]string {
	t.Helper()
	var es []struct {
		RecordID    string `json:"recordId"`
		EncodedData string `json:"encodedData"`
	}
	if entries != "" {
		if err := json.Unmarshal([]byte(entries), &es); err != nil {
			t.Fatalf("entries %s: %v", entries, err)
		}
	}
	out := map[string]string{}
	for _, e := range es {
		b, _ := base64.RawURLEncoding.DecodeString(e.EncodedData)
		out[e.RecordID] = string(b)
	}
	return out
}

func recordID(m *jsv.Object) string {
	v, _ := m.Get("recordId")
	s, _ := v.(string)
	return s
}

// at returns the clock whose next timestamp is sec seconds into 2025.
func clockAt(sec int) *dwntest.Clock {
	return dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, sec, 0, time.UTC).Add(-time.Millisecond))
}

// TestCLIDWNSync is the sync story with real processes: a bootstrap peer; two nodes of tenant A
// and one of tenant B; writes to either of A's nodes appear on both; a partition (each node
// stopped in turn while the other takes writes, updates of the same records and a delete) heals
// to identical query results with newest-wins applied the same on both; a node that joins late
// catches up; a delete on one node removes the record everywhere; B's node holds nothing of A's,
// and A's nodes nothing of B's.
func TestCLIDWNSync(t *testing.T) {
	const schema = "https://example.com/note"
	const wait = 90 * time.Second
	alice, bob := dwntest.NewPersona(1), dwntest.NewPersona(2)
	A, B := alice.DID, bob.DID
	akey := keyFile(t, alice)
	hubRepo, r1, r2, r3, r4 := newRepo(t, "hub"), newRepo(t, "node1"), newRepo(t, "node2"), newRepo(t, "bob"), newRepo(t, "late")
	hub := serveDOIP(t, hubRepo)
	boot := hub.Addrs[0]
	// Alice authorizes her nodes: node 1 with her key at hand, node 2 with an authorization she
	// signed elsewhere for its peer ID, the late node for an hour.
	okDS(t, r1, "dwn", "tenant", "add", A, "--key", akey)
	var id2 struct {
		PeerID string `json:"peerID"`
	}
	json.Unmarshal([]byte(okDS(t, r2, "id", "--json")), &id2)
	authFile := filepath.Join(t.TempDir(), "node2.auth")
	okDS(t, "", "dwn", "authorize", A, id2.PeerID, "--key", akey, "--out", authFile)
	if out := okDS(t, r2, "dwn", "tenant", "add", A, "--authorization", authFile, "--json"); !strings.Contains(out, `"authorized":true`) {
		t.Fatalf("dwn tenant add --authorization: %s", out)
	}
	if r := ds(t, r3, "", "dwn", "tenant", "add", A, "--authorization", authFile); r.code == 0 || !strings.Contains(r.stderr, "names node "+id2.PeerID) {
		t.Fatalf("another node's authorization: %+v", r)
	}
	if r := ds(t, r3, "", "dwn", "tenant", "add", B, "--key", akey); r.code != 2 || !strings.Contains(r.stderr, "not "+B) {
		t.Fatalf("another tenant's key: %+v", r)
	}
	okDS(t, r4, "dwn", "tenant", "add", A, "--key", akey, "--expires", "1h")
	// An intruder holds Alice as a tenant without her authorization: it gets none of her messages.
	intruderRepo := newRepo(t, "intruder")
	intruder := serveDOIP(t, intruderRepo, "--dwn-tenant", A, "--bootstrap", boot)
	n1 := serveDOIP(t, r1, "--dwn", "127.0.0.1:0", "--dwn-tenant", A, "--bootstrap", boot)
	if n1.DWN.HTTP == "" || n1.DWN.Protocol != "/datomspace/dwn/1.0.0" || n1.DWN.Open {
		t.Fatalf("serve's DWN: %+v", n1.DWN)
	}
	if cfg, _ := os.ReadFile(filepath.Join(r1, "config.json")); !strings.Contains(string(cfg), A) {
		t.Fatalf("the tenant is not in the config: %s", cfg)
	}
	n2 := serveDOIP(t, r2, "--dwn-tenant", A, "--bootstrap", boot)
	n3 := serveDOIP(t, r3, "--dwn-tenant", B, "--bootstrap", boot)
	ctx := context.Background()

	note := func(sec int, text string) *jsv.Object {
		return alice.RecordsWrite(clockAt(sec), dwntest.Write{Data: []byte(text), Schema: schema, DataFormat: "text/plain"})
	}
	update := func(of *jsv.Object, sec int, text string) *jsv.Object {
		return alice.RecordsWrite(clockAt(sec), dwntest.Write{Data: []byte(text), DataFormat: "text/plain", Of: of})
	}
	same := func(what string, want map[string]string, repos ...string) {
		t.Helper()
		eventually(t, what, wait, func() bool {
			first := records(t, repos[0], A, akey, schema)
			if !mapsEqual(dataOf(t, first), want) {
				return false
			}
			for _, r := range repos[1:] {
				if records(t, r, A, akey, schema) != first {
					return false
				}
			}
			return true
		})
	}

	// Writes to either node appear on both: one over dwn-server's HTTP JSON-RPC on node 1, one
	// through node 2's daemon with the CLI.
	w1, w2 := note(1, "one"), note(2, "two")
	cl := &jsonrpc.Client{URL: n1.DWN.HTTP}
	cr, err := cl.Process(ctx, A, []byte(jsv.Stringify(w1)), strings.NewReader("one"))
	if err != nil {
		t.Fatal(err)
	}
	if code, detail := cr.Status(); code != 202 {
		t.Fatalf("write over HTTP: %d %s", code, detail)
	}
	mustProcess(t, r2, A, w2, []byte("two"), 202)
	same("both writes on both nodes", map[string]string{recordID(w1): "one", recordID(w2): "two"}, r1, r2)

	// Bob's node: his own record, and none of Alice's messages accepted.
	bobNote := bob.RecordsWrite(clockAt(3), dwntest.Write{Data: []byte("bob's"), Schema: schema, DataFormat: "text/plain"})
	mustProcess(t, r3, B, bobNote, []byte("bob's"), 202)
	if code, out := sendDWN(t, r3, A, note(4, "to the wrong node"), []byte("to the wrong node")); code != 401 || !strings.Contains(string(out["reply"]), "not an active tenant") {
		t.Fatalf("a write for A on B's node: %d %s", code, out["reply"])
	}

	// Partition: node 2 is down while node 1 takes a new record and updates of both records;
	// then node 1 is down while node 2 takes another record, a newer update of the first and a
	// delete of the second that is older than node 1's update of it.
	n2.stop(t)
	w3 := note(5, "three")
	mustProcess(t, r1, A, w3, []byte("three"), 202)
	mustProcess(t, r1, A, update(w1, 10, "one, as node 1 saw it"), []byte("one, as node 1 saw it"), 202)
	mustProcess(t, r1, A, update(w2, 30, "two, updated on node 1"), []byte("two, updated on node 1"), 202)
	n1.stop(t)
	n2 = serveDOIP(t, r2, "--bootstrap", boot) // the tenant is held from the config
	w4 := note(6, "four")
	mustProcess(t, r2, A, w4, []byte("four"), 202)
	mustProcess(t, r2, A, update(w1, 20, "one, as node 2 saw it"), []byte("one, as node 2 saw it"), 202)
	mustProcess(t, r2, A, alice.RecordsDelete(clockAt(25), recordID(w2), false), nil, 202)
	if got := dataOf(t, records(t, r2, A, akey, schema)); !mapsEqual(got, map[string]string{recordID(w1): "one, as node 2 saw it", recordID(w4): "four"}) {
		t.Fatalf("node 2 during the partition: %v", got)
	}

	// Healed: the same records on both, newest wins: node 2's update of the first record, node
	// 1's update of the second (newer than node 2's delete of it).
	n1 = serveDOIP(t, r1, "--dwn", "127.0.0.1:0", "--bootstrap", boot)
	healed := map[string]string{recordID(w1): "one, as node 2 saw it", recordID(w2): "two, updated on node 1",
		recordID(w3): "three", recordID(w4): "four"}
	same("the partition heals", healed, r1, r2)

	// A node that joins late catches up, and is given what it is written.
	n4 := serveDOIP(t, r4, "--dwn-tenant", A, "--bootstrap", boot)
	same("the late node catches up", healed, r4, r1, r2)
	w5 := note(7, "five, on the late node")
	// (sent from the bootstrap peer's CLI, whose daemon dials the late node over the libp2p protocol)
	mustProcess(t, hubRepo, A, w5, []byte("five, on the late node"), 202, "--peer", n4.Addrs[0])
	healed[recordID(w5)] = "five, on the late node"
	same("a write on the late node reaches the others", healed, r1, r2, r4)

	// Large record data (over the 30,000 bytes kept inline) is a blob, which the other nodes
	// fetch from the node that took it; a GC keeps it while the record refers to it.
	big := make([]byte, 700<<10+13)
	rand.Read(big)
	bigFile := filepath.Join(t.TempDir(), "scan.bin")
	os.WriteFile(bigFile, big, 0o600)
	bigID := strings.TrimSpace(okDS(t, r1, "dwn", "write", A, "--key", akey, "--data", bigFile,
		"--schema", "https://example.com/scan", "--data-format", "application/octet-stream"))
	for _, repo := range []string{r2, r4} {
		eventually(t, "the large record reaches "+filepath.Base(repo), wait, func() bool {
			r := ds(t, repo, "", "dwn", "read", A, bigID, "--key", akey)
			return r.code == 0 && r.stdout == string(big)
		})
	}
	okDS(t, r2, "gc")
	if r := ds(t, r2, "", "dwn", "read", A, bigID, "--key", akey); r.stdout != string(big) {
		t.Fatalf("after gc, the large record reads %d bytes: %s", len(r.stdout), r.stderr)
	}

	// A delete on one node removes the record on every node.
	if r := ds(t, r2, "", "dwn", "delete", A, recordID(w3), "--key", akey); r.code != 0 || !strings.Contains(r.stdout, "202") {
		t.Fatalf("dwn delete: %+v", r)
	}
	delete(healed, recordID(w3))
	same("the delete reaches every node", healed, r1, r2, r4)
	okDS(t, r1, "dwn", "delete", A, bigID, "--key", akey)
	eventually(t, "the large record's delete reaches node 2", wait, func() bool {
		return ds(t, r2, "", "dwn", "read", A, bigID, "--key", akey).code == 1
	})
	if out := okDS(t, r2, "gc", "--json"); !strings.Contains(out, `"blobs":["`) {
		t.Errorf("gc after the delete kept the large record's data: %s", out)
	}

	// dwn nodes lists A's nodes, each with its core, and not Bob's.
	out := okDS(t, r1, "dwn", "nodes", A, "--json", "--timeout", "5s")
	for _, n := range []*servedNode{n1, n2, n4} {
		if !strings.Contains(out, n.PeerID) {
			t.Errorf("dwn nodes misses %s: %s", n.PeerID, out)
		}
	}
	if strings.Contains(out, n3.PeerID) {
		t.Errorf("dwn nodes lists Bob's node: %s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var nd peer.DWNNode
		json.Unmarshal([]byte(line), &nd)
		if got, want := nd.Error != "", nd.Peer == intruder.PeerID; got != want {
			t.Errorf("dwn nodes: %s (the intruder is %s)", line, intruder.PeerID)
		}
	}
	// Without a daemon, from a repo that holds nothing: a node of its own for the lookup, which
	// finds Alice's nodes but is shown none of their cores; and a query of a node over the libp2p
	// protocol.
	client := newRepo(t, "client")
	if out := okDS(t, client, "dwn", "nodes", A, "--bootstrap", boot, "--timeout", "5s"); strings.Count(out, "core ") != 0 ||
		!strings.Contains(out, n1.PeerID) || !strings.Contains(out, "authorization") {
		t.Errorf("dwn nodes from a node Alice did not authorize: %s", out)
	}
	if r := ds(t, intruderRepo, "", "dwn", "query", A, "--schema", schema, "--key", akey, "--json"); r.code != 0 || strings.Contains(r.stdout, recordID(w1)) {
		t.Errorf("the intruder holds Alice's records: %+v", r)
	}
	if out := okDS(t, intruderRepo, "dwn", "tenant", "ls"); !strings.Contains(out, "not authorized") {
		t.Errorf("dwn tenant ls on the intruder: %s", out)
	}
	r := ds(t, client, "", "dwn", "query", A, "--schema", schema, "--key", akey, "--peer", n2.Addrs[0], "--json")
	if want := records(t, r2, A, akey, schema); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("a query over the libp2p protocol without a daemon: %+v", r)
	}

	// Bob's node holds nothing of Alice's: no core of hers, no replica of her nodes' cores; and
	// hers nothing of Bob's.
	aliceCores := map[string]bool{}
	for _, repo := range []string{r1, r2, r4} {
		var tenants []struct {
			DID, Core string
			Nodes     []struct{ Core string }
		}
		for _, line := range strings.Split(strings.TrimSpace(okDS(t, repo, "dwn", "tenant", "ls", "--json")), "\n") {
			var x struct {
				DID, Core string
				Nodes     []struct{ Core string }
			}
			json.Unmarshal([]byte(line), &x)
			tenants = append(tenants, x)
		}
		if len(tenants) != 1 || tenants[0].DID != A {
			t.Fatalf("tenants of %s: %+v", filepath.Base(repo), tenants)
		}
		aliceCores[tenants[0].Core] = true
		if cores := okDS(t, repo, "cores", "--json"); strings.Contains(cores, B) {
			t.Errorf("%s holds a core of Bob's: %s", filepath.Base(repo), cores)
		}
	}
	if len(aliceCores) != 3 {
		t.Fatalf("alice's nodes' cores: %v", aliceCores)
	}
	bobCores := okDS(t, r3, "cores", "--json")
	for k := range aliceCores {
		if strings.Contains(bobCores, k) {
			t.Errorf("Bob's node holds Alice's core %s", k)
		}
	}
	if strings.Contains(bobCores, A) {
		t.Errorf("Bob's node holds a core of Alice's: %s", bobCores)
	}
	if got := dataOf(t, records(t, r3, B, keyFile(t, bob), schema)); !mapsEqual(got, map[string]string{recordID(bobNote): "bob's"}) {
		t.Errorf("Bob's records: %v", got)
	}
	for _, n := range []*servedNode{n1, n2, n3, n4, hub} {
		n.stop(t)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// checkVectorReply compares a reply (and its data) with the step's expectation and the detail
// dwn-sdk-js gave.
func checkVectorReply(t *testing.T, how string, st dwntest.VectorStep, ref dwntest.ReferenceReply, reply []byte, data []byte) {
	t.Helper()
	var r struct {
		Status struct {
			Code   int    `json:"code"`
			Detail string `json:"detail"`
		} `json:"status"`
		Entries []json.RawMessage `json:"entries"` // records, or message CIDs (MessagesQuery)
		Entry   json.RawMessage   `json:"entry"`
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		t.Errorf("%s %s: reply %s: %v", how, st.Step, reply, err)
		return
	}
	if r.Status.Code != st.Expect.Code || r.Status.Detail != ref.Detail {
		t.Errorf("%s %s: %d %q, want %d %q", how, st.Step, r.Status.Code, r.Status.Detail, st.Expect.Code, ref.Detail)
	}
	if st.Expect.Entries != nil && len(r.Entries) != *st.Expect.Entries {
		t.Errorf("%s %s: %d entries, want %d", how, st.Step, len(r.Entries), *st.Expect.Entries)
	}
	if st.Expect.RecordIDs != nil {
		var got []string
		for _, e := range r.Entries {
			var en struct {
				RecordID string `json:"recordId"`
			}
			json.Unmarshal(e, &en)
			got = append(got, en.RecordID)
		}
		want := slices.Clone(st.Expect.RecordIDs)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: record ids %v, want %v", how, st.Step, got, want)
		}
	}
	if st.Expect.Entry && len(r.Entry) == 0 {
		t.Errorf("%s %s: no entry", how, st.Step)
	}
	if st.Expect.DataB64 != nil {
		want, _ := base64.RawURLEncoding.DecodeString(*st.Expect.DataB64)
		if !bytes.Equal(data, want) {
			t.Errorf("%s %s: data %q, want %q", how, st.Step, data, want)
		}
	}
}

// TestCLIDWNVectors replays the 32 steps dwn-sdk-js 0.5.2 generated against `serve --dwn` of a
// real process over dwn-server's JSON-RPC (HTTP, record data in the body), and again against a
// second fresh node through the CLI (`dwn process` through its daemon): every step gets the
// reference's code and detail, entry count, record ids and data.
func TestCLIDWNVectors(t *testing.T) {
	steps, refs := dwntest.Vectors(t)
	if len(steps) != 32 || len(refs) != 32 {
		t.Fatalf("%d steps, %d replies", len(steps), len(refs))
	}
	node := serveDOIP(t, newRepo(t, "dwn"), "--dwn", "127.0.0.1:0")
	if !node.DWN.Open || node.DWN.HTTP == "" {
		t.Fatalf("serve's DWN: %+v", node.DWN)
	}
	ctx := context.Background()
	cl := &jsonrpc.Client{URL: node.DWN.HTTP}
	for i, st := range steps {
		var data io.Reader
		if st.Data != nil {
			b, _ := base64.RawURLEncoding.DecodeString(*st.Data)
			data = bytes.NewReader(b)
		}
		r, err := cl.Process(ctx, st.Tenant, st.Message, data)
		if err != nil || r.Error != nil {
			t.Fatalf("%s: %v %v", st.Step, err, r)
		}
		var got []byte
		if r.Data != nil {
			got, _ = io.ReadAll(r.Data)
			r.Data.Close()
		}
		checkVectorReply(t, "http", st, refs[i], []byte(jsv.Stringify(r.Reply)), got)
	}
	node.stop(t)

	repo := newRepo(t, "dwn-cli")
	cliNode := serveDOIP(t, repo, "--dwn", "127.0.0.1:0")
	for i, st := range steps {
		msg, err := jsv.Parse(st.Message)
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		if st.Data != nil {
			data, _ = base64.RawURLEncoding.DecodeString(*st.Data)
		}
		_, out := sendDWN(t, repo, st.Tenant, msg.(*jsv.Object), data)
		var got []byte
		if d, ok := out["data"]; ok {
			var s string
			json.Unmarshal(d, &s)
			got, _ = base64.RawURLEncoding.DecodeString(s)
		}
		checkVectorReply(t, "cli", st, refs[i], out["reply"], got)
	}
	cliNode.stop(t)
}

// TestCLIDWNCommands: the commands a user types, without and with a daemon: a key file, a write
// signed by it, a query, a read to standard output, bad input with clear errors.
func TestCLIDWNCommands(t *testing.T) {
	repo := newRepo(t, "dwn")
	dir := t.TempDir()
	key := filepath.Join(dir, "alice.jwk")
	did := strings.TrimSpace(okDS(t, repo, "dwn", "key", "--new", key))
	if !strings.HasPrefix(did, "did:key:z6Mk") {
		t.Fatalf("dwn key --new: %q", did)
	}
	if got := strings.TrimSpace(okDS(t, repo, "dwn", "key", "--file", key)); got != did {
		t.Fatalf("dwn key --file: %q, want %q", got, did)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	nodeDID := strings.TrimSpace(okDS(t, repo, "dwn", "key"))
	if !strings.HasPrefix(nodeDID, "did:key:") || nodeDID == did {
		t.Fatalf("dwn key: %q", nodeDID)
	}
	// Without a daemon: the repo's DWN, open to any tenant.
	id := strings.TrimSpace(okDS(t, repo, "dwn", "write", did, "--key", key, "--text", "hello", "--schema", "https://example.com/note", "--published"))
	if !strings.HasPrefix(id, "bafyrei") {
		t.Fatalf("dwn write: %q", id)
	}
	if out := okDS(t, repo, "dwn", "query", did, "--schema", "https://example.com/note"); !strings.Contains(out, id) || !strings.Contains(out, "hello") {
		t.Fatalf("dwn query: %q", out)
	}
	// Held, with a daemon: the same record, read anonymously (it is published) to stdout.
	okDS(t, repo, "dwn", "tenant", "add", did)
	node := serveDOIP(t, repo, "--dwn", "127.0.0.1:0")
	if node.DWN.Open {
		t.Fatal("a node holding a tenant is open")
	}
	if out := okDS(t, repo, "dwn", "read", did, id); out != "hello" {
		t.Fatalf("dwn read: %q", out)
	}
	private := filepath.Join(dir, "private.txt")
	os.WriteFile(private, []byte(`{"secret":true}`), 0o600)
	pid := strings.TrimSpace(okDS(t, repo, "dwn", "write", did, "--key", key, "--data", private, "--schema", "https://example.com/note"))
	if out := okDS(t, repo, "dwn", "query", did, "--schema", "https://example.com/note", "--url", node.DWN.HTTP); strings.Contains(out, pid) {
		t.Fatalf("an anonymous query shows an unpublished record: %q", out)
	}
	if out := okDS(t, repo, "dwn", "query", did, "--schema", "https://example.com/note", "--key", key, "--peer", node.Addrs[0]); !strings.Contains(out, pid) {
		t.Fatalf("the owner's query over the libp2p protocol: %q", out)
	}
	out := filepath.Join(dir, "out.json")
	okDS(t, repo, "dwn", "read", did, pid, "--key", key, "--out", out)
	if b, _ := os.ReadFile(out); string(b) != `{"secret":true}` {
		t.Fatalf("dwn read --out: %q", b)
	}
	if tl := okDS(t, repo, "dwn", "tenant", "ls"); !strings.Contains(tl, did+"  held") || !strings.Contains(tl, "synced") {
		t.Fatalf("dwn tenant ls: %q", tl)
	}

	bad := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"not a DID", []string{"dwn", "query", "alice", "--schema", "s"}, 1, "not a DID"},
		{"no filter", []string{"dwn", "query", did}, 2, "at least one filter"},
		{"unsigned write", []string{"dwn", "write", did, "--text", "x"}, 2, "must be signed"},
		{"stranger", []string{"dwn", "query", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "--schema", "https://example.com/note"}, 1, "401"},
		{"write for another tenant", []string{"dwn", "write", nodeDID, "--node-key", "--text", "x"}, 1, "not an active tenant"},
		{"missing key file", []string{"dwn", "write", did, "--key", filepath.Join(dir, "nope"), "--text", "x"}, 1, "bad DWN key file"},
		{"key file twice", []string{"dwn", "key", "--new", key}, 1, "never overwritten"},
		{"not a message", []string{"dwn", "process", did, private + "x"}, 1, "no such file"},
		{"peer and url", []string{"dwn", "query", did, "--schema", "s", "--peer", node.Addrs[0], "--url", node.DWN.HTTP}, 2, "do not go together"},
		{"bad tenant", []string{"serve", "--dwn-tenant", "nobody"}, 2, "not a DID"},
		{"unknown subcommand", []string{"dwn", "frob"}, 2, "unknown dwn subcommand"},
	}
	for _, tc := range bad {
		r := ds(t, repo, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || strings.Contains(r.stderr, "panic") {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q)", tc.name, r.code, tc.code, r.stderr, tc.says)
		}
		if tc.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: not one line: %q", tc.name, r.stderr)
		}
	}
	// A message that is not JSON is refused with the file named.
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte("{nope"), 0o600)
	if r := ds(t, repo, "", "dwn", "process", did, junk); r.code != 1 || !strings.Contains(r.stderr, "not a JSON message") {
		t.Errorf("junk message: %+v", r)
	}
	node.stop(t)
}

// TestCLIDWNSubscribeAcrossNodes: a client subscribed over a WebSocket to one node of a tenant,
// as dwn-server's clients subscribe, is told of a record written on the tenant's other node.
func TestCLIDWNSubscribeAcrossNodes(t *testing.T) {
	alice := dwntest.NewPersona(1)
	akey := keyFile(t, alice)
	r1, r2 := newRepo(t, "one"), newRepo(t, "two")
	for _, r := range []string{r1, r2} {
		okDS(t, r, "dwn", "tenant", "add", alice.DID, "--key", akey)
	}
	n1 := serveDOIP(t, r1, "--dwn", "127.0.0.1:0", "--dwn-tenant", alice.DID)
	n2 := serveDOIP(t, r2, "--dwn", "127.0.0.1:0", "--dwn-tenant", alice.DID, "--bootstrap", n1.Addrs[0])
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n2.DWN.HTTP, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	clock := clockAt(1)
	sub := alice.RecordsSubscribe(clock, dwntest.Obj("schema", "https://example.com/chat"))
	req := map[string]any{"jsonrpc": "2.0", "id": "s", "method": "rpc.subscribe.dwn.processMessage",
		"params": map[string]any{"target": alice.DID, "message": json.RawMessage(jsv.Stringify(sub))}, "subscription": map[string]any{"id": "sub-1"}}
	if err := ws.WriteJSON(req); err != nil {
		t.Fatal(err)
	}
	read := func() map[string]any {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		var v map[string]any
		if err := ws.ReadJSON(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if r := read(); r["id"] != "s" || r["error"] != nil {
		t.Fatalf("subscribe: %v", r)
	}
	w := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("hi"), Schema: "https://example.com/chat", DataFormat: "text/plain"})
	cr, err := (&jsonrpc.Client{URL: n1.DWN.HTTP}).Process(context.Background(), alice.DID, []byte(jsv.Stringify(w)), strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if code, detail := cr.Status(); code != 202 {
		t.Fatalf("write on node 1: %d %s", code, detail)
	}
	ev := read()
	res, _ := ev["result"].(map[string]any)
	e, _ := res["event"].(map[string]any)
	m, _ := e["message"].(map[string]any)
	if ev["id"] != "sub-1" || m["recordId"] != recordID(w) {
		t.Fatalf("event on node 2: %v", ev)
	}
}
