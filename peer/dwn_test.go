package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/memstore"
	"github.com/datomspace/datomspace/protocols"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// dwnNodeT starts a node that holds tenants and serves the DWN, bootstrapped from boot.
func dwnNodeT(t *testing.T, boot string, tenants ...string) *Node {
	t.Helper()
	opts := []NodeOption{WithDWN(DWNOptions{HTTP: "127.0.0.1:0", Tenants: tenants}), WithListen("/ip4/127.0.0.1/tcp/0")}
	if boot != "" {
		opts = append(opts, WithBootstrapAddrs(boot))
	}
	n := newTestNode(t, opts...)
	for _, did := range tenants {
		authorizeNode(t, n, did)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// authorizeNode gives n the tenant did's authorization of it, signed with the key of the test
// persona whose DID did is.
func authorizeNode(t testing.TB, n *Node, did string) {
	t.Helper()
	raw, err := AuthorizeDWNNode(tenantSigner(t, did), n.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Repo.setDWNAuthorization(context.Background(), did, raw); err != nil {
		t.Fatal(err)
	}
}

// tenantSigner returns the signer of the test persona (seeds 1 to 32) whose DID is did.
func tenantSigner(t testing.TB, did string) *dwn.Signer {
	t.Helper()
	for seed := byte(1); seed <= 32; seed++ {
		if _, s := persona(seed); s.DID == did {
			return s
		}
	}
	t.Fatalf("no test persona has DID %s", did)
	return nil
}

// send processes msg (with data, when not nil) on the DWN of l's node and returns the reply.
func send(t *testing.T, l *Local, target string, msg *jsv.Object, data []byte) (DWNReply, []byte) {
	t.Helper()
	req := DWNRequest{Target: target, Message: json.RawMessage(jsv.Stringify(msg))}
	if data != nil {
		req.Data, req.HasData = data, true
	}
	var got []byte
	rep, err := Stream(actx(t), l, OpDWN, req, func(ev DWNEvent) error { got = append(got, ev.Data...); return nil })
	if err != nil {
		t.Fatalf("OpDWN: %v", err)
	}
	return rep, got
}

func wantCode(t *testing.T, rep DWNReply, want int) {
	t.Helper()
	if code, detail := rep.Status(); code != want {
		t.Fatalf("status %d %s, want %d", code, detail, want)
	}
}

// recordIDs returns the record ids of a RecordsQuery reply, sorted.
func recordIDs(t *testing.T, rep DWNReply) []string {
	t.Helper()
	var r struct {
		Entries []struct {
			RecordID string `json:"recordId"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(rep.Reply, &r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.RecordID)
	}
	slices.Sort(out)
	return out
}

func persona(seed byte) (*dwntest.Persona, *dwn.Signer) {
	p := dwntest.NewPersona(seed)
	return p, dwn.NewSigner(p.Key)
}

// TestDWNBuiltMessages: the messages the CLI builds are the ones dwn-sdk-js builds (the same
// bytes as dwntest's, which reproduce dwn-sdk-js's vectors), and a node accepts them: a write, a
// protocol record and its child, a query, a read and a delete.
func TestDWNBuiltMessages(t *testing.T) {
	alice, signer := persona(1)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := dwntest.NewClock(now.Add(-time.Millisecond))
	data := []byte(`{"note":"hello"}`)
	cid, size, err := dwn.DataCID(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	w, err := BuildRecordsWrite(DWNWrite{DataCID: cid, DataSize: size, Schema: "example.com/note", Published: true}, signer, now)
	if err != nil {
		t.Fatal(err)
	}
	ref := alice.RecordsWrite(clock, dwntest.Write{Data: data, Schema: "http://example.com/note", Published: true})
	if jsv.Stringify(w) != jsv.Stringify(ref) {
		t.Fatalf("RecordsWrite\n got %s\nwant %s", jsv.Stringify(w), jsv.Stringify(ref))
	}
	filter := dwntest.Obj("schema", "http://example.com/note", "published", true)
	q, err := BuildRecordsQuery(DWNFilter{Schema: "example.com/note/", Published: ptrTrue()}, DWNQueryOptions{}, signer, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := alice.RecordsQuery(dwntest.NewClock(now.Add(-time.Millisecond)), filter); jsv.Stringify(q) != jsv.Stringify(want) {
		t.Fatalf("RecordsQuery\n got %s\nwant %s", jsv.Stringify(q), jsv.Stringify(want))
	}

	st := memstore.New()
	node, err := dwn.New(st.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	ctx := context.Background()
	process := func(m *jsv.Object, data []byte, want int) *dwn.Reply {
		t.Helper()
		var opts []dwn.ProcessOption
		if data != nil {
			opts = append(opts, dwn.WithData(bytes.NewReader(data)))
		}
		r, err := node.Process(ctx, alice.DID, m, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Code != want {
			t.Fatalf("%s: %d %s, want %d", jsv.Stringify(m)[:80], r.Status.Code, r.Status.Detail, want)
		}
		return r
	}
	process(w, data, 202)
	if r := process(q, nil, 200); len(r.Entries) != 1 {
		t.Fatalf("query: %d entries", len(r.Entries))
	}
	anon, _ := BuildRecordsRead(recordID(w), nil, now.Add(time.Second))
	if r := process(anon, nil, 200); r.Data == nil {
		t.Fatal("read: no data")
	}
	// A protocol record and its child.
	proto := `{"protocol":"https://example.com/chat","published":true,"types":{"thread":{"dataFormats":["text/plain"]},"message":{"dataFormats":["text/plain"]}},"structure":{"thread":{"message":{}}}}`
	process(alice.ProtocolsConfigure(dwntest.NewClock(now), proto), nil, 202)
	tdata := []byte("a thread")
	tc, ts, _ := dwn.DataCID(bytes.NewReader(tdata))
	thread, err := BuildRecordsWrite(DWNWrite{DataCID: tc, DataSize: ts, DataFormat: "text/plain", Protocol: "https://example.com/chat", ProtocolPath: "thread"}, signer, now.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	process(thread, tdata, 202)
	ctxID, _ := thread.Get("contextId")
	child, err := BuildRecordsWrite(DWNWrite{DataCID: tc, DataSize: ts, DataFormat: "text/plain", Protocol: "https://example.com/chat",
		ProtocolPath: "thread/message", ParentContextID: ctxID.(string)}, signer, now.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	process(child, tdata, 202)
	if c, _ := child.Get("contextId"); c != ctxID.(string)+"/"+recordID(child) {
		t.Fatalf("child context %v", c)
	}
	children, _ := BuildRecordsQuery(DWNFilter{ParentID: recordID(thread)}, DWNQueryOptions{Limit: 5, DateSort: "createdDescending"}, signer, now.Add(4*time.Second))
	if r := process(children, nil, 200); len(r.Entries) != 1 {
		t.Fatalf("children: %d", len(r.Entries))
	}
	del, _ := BuildRecordsDelete(recordID(w), false, signer, now.Add(5*time.Second))
	process(del, nil, 202)
	process(q, nil, 200)

	bad := []struct {
		name string
		err  error
	}{
		{"no filter", func() error { _, err := BuildRecordsQuery(DWNFilter{}, DWNQueryOptions{}, nil, now); return err }()},
		{"bad sort", func() error {
			_, err := BuildRecordsQuery(DWNFilter{Schema: "s"}, DWNQueryOptions{DateSort: "random"}, nil, now)
			return err
		}()},
		{"bad cursor", func() error {
			_, err := BuildRecordsQuery(DWNFilter{Schema: "s"}, DWNQueryOptions{Cursor: "{"}, nil, now)
			return err
		}()},
		{"unsigned write", func() error { _, err := BuildRecordsWrite(DWNWrite{DataCID: cid}, nil, now); return err }()},
		{"path without protocol", func() error {
			_, err := BuildRecordsWrite(DWNWrite{DataCID: cid, ProtocolPath: "a"}, signer, now)
			return err
		}()},
		{"unsigned delete", func() error { _, err := BuildRecordsDelete("x", false, nil, now); return err }()},
	}
	for _, b := range bad {
		if !errors.Is(b.err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", b.name, b.err)
		}
	}
}

func recordID(m *jsv.Object) string {
	v, _ := m.Get("recordId")
	s, _ := v.(string)
	return s
}

// TestDWNKeyFiles: a key file made here reads back as the same did:key; a web5 PortableDid with
// the same key reads too; damaged files are refused with ErrDWNKey, and no file is overwritten.
func TestDWNKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.jwk")
	s, err := NewDWNKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := LoadDWNKey(path); err != nil || got.DID != s.DID || !got.Key.Equal(s.Key) {
		t.Fatalf("LoadDWNKey: %v %v", got, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if _, err := NewDWNKeyFile(path); !errors.Is(err, ErrDWNKey) {
		t.Fatalf("overwrite: %v", err)
	}
	p := dwntest.NewPersona(7)
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := `{"kty":"OKP","crv":"Ed25519","x":"` + b64(p.Key.Public().(ed25519.PublicKey)) + `","d":"` + b64(p.Key.Seed()) + `"}`
	portable := `{"uri":"` + p.DID + `","document":{},"metadata":{},"privateKeys":[` + jwk + `]}`
	for _, text := range []string{jwk, portable} {
		if s, err := ParseDWNKey([]byte(text)); err != nil || s.DID != p.DID {
			t.Fatalf("ParseDWNKey(%s): %v %v", text, s, err)
		}
	}
	other := dwntest.NewPersona(8)
	bad := []string{
		``, `[]`, `{"kty":"EC","crv":"secp256k1","d":"AA"}`,
		`{"kty":"OKP","crv":"Ed25519","d":"short"}`,
		`{"kty":"OKP","crv":"Ed25519","d":"` + b64(p.Key.Seed()) + `","x":"` + b64(other.Key.Public().(ed25519.PublicKey)) + `"}`,
		`{"uri":"` + other.DID + `","privateKeys":[` + jwk + `]}`,
	}
	for _, text := range bad {
		if _, err := ParseDWNKey([]byte(text)); !errors.Is(err, ErrDWNKey) {
			t.Errorf("ParseDWNKey(%q): %v, want ErrDWNKey", text, err)
		}
	}
	huge := filepath.Join(dir, "huge")
	os.WriteFile(huge, bytes.Repeat([]byte(" "), maxKeyFile+1), 0o600)
	if _, err := LoadDWNKey(huge); !errors.Is(err, ErrDWNKey) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("huge key file: %v", err)
	}
}

// FuzzParseDWNKey: a key file never panics, and one that parses names the did:key of its key.
func FuzzParseDWNKey(f *testing.F) {
	p := dwntest.NewPersona(3)
	b64 := base64.RawURLEncoding.EncodeToString
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + b64(p.Key.Public().(ed25519.PublicKey)) + `","d":"` + b64(p.Key.Seed()) + `"}`))
	f.Add([]byte(`{"uri":"did:key:z6Mk","privateKeys":[{"kty":"OKP","crv":"Ed25519","d":"AAAA"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseDWNKey(b)
		if err != nil {
			if !errors.Is(err, ErrDWNKey) {
				t.Fatalf("an error that is not ErrDWNKey: %v", err)
			}
			return
		}
		if s.DID != dwn.DIDKeyFromEd25519(s.Key.Public().(ed25519.PublicKey)) {
			t.Fatalf("did %s does not match the key", s.DID)
		}
	})
}

func TestCheckDID(t *testing.T) {
	good := []string{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "did:web:example.com", "did:dht:abc:def", "did:example:a%20b"}
	bad := []string{"", "did:", "did:key", "did:key:", "did:KEY:x", "alice", "did:key:a b", "did:key:\x00", "did:key:é", "did:" + strings.Repeat("a", 2048) + ":x"}
	for _, d := range good {
		if err := CheckDID(d); err != nil {
			t.Errorf("CheckDID(%q): %v", d, err)
		}
	}
	for _, d := range bad {
		if err := CheckDID(d); !errors.Is(err, ErrBadDID) {
			t.Errorf("CheckDID(%q): %v, want ErrBadDID", d, err)
		}
	}
}

// TestDWNNodesSync runs two nodes of a tenant on real libp2p hosts: they find each other
// through the DHT, each write reaches the other, OpDWNNodes and OpDWNInfo describe them, and a
// node that does not hold the tenant refuses its messages. Close stops every goroutine.
func TestDWNNodesSync(t *testing.T) {
	before := runtime.NumGoroutine()
	alice, _ := persona(1)
	bob, _ := persona(2)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	n1 := dwnNodeT(t, "", alice.DID)
	n2 := dwnNodeT(t, n1.Addrs()[0], alice.DID)
	l1, l2 := daemonLocal(n1), daemonLocal(n2)
	schema := "https://example.com/s"
	w1 := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("1"), Schema: schema})
	w2 := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("2"), Schema: schema})
	wantCode(t, first(send(t, l1, alice.DID, w1, []byte("1"))), 202)
	wantCode(t, first(send(t, l2, alice.DID, w2, []byte("2"))), 202)
	want := []string{recordID(w1), recordID(w2)}
	slices.Sort(want)
	for _, l := range []*Local{l1, l2} {
		waitFor(t, "both records on both nodes", time.Minute, func() bool {
			rep, _ := send(t, l, alice.DID, alice.RecordsQuery(clock, dwntest.Obj("schema", schema)), nil)
			return slices.Equal(recordIDs(t, rep), want)
		})
	}
	in, err := Call(actx(t), l1, OpDWNInfo, None{})
	if err != nil || len(in.Tenants) != 1 || !in.Tenants[0].Synced || len(in.Tenants[0].Nodes) != 1 || in.Tenants[0].Nodes[0].Peer != n2.ID().String() || in.HTTP == "" {
		t.Fatalf("OpDWNInfo: %+v %v", in, err)
	}
	nodes, err := Call(actx(t), l2, OpDWNNodes, DWNNodesRequest{DID: alice.DID, Timeout: 5 * time.Second})
	if err != nil || len(nodes.Nodes) != 2 {
		t.Fatalf("OpDWNNodes: %+v %v", nodes, err)
	}
	for _, nd := range nodes.Nodes {
		if nd.Core == "" || nd.Length != 2 || nd.Error != "" {
			t.Errorf("node %+v", nd)
		}
	}
	if _, err := Call(actx(t), l2, OpDWNNodes, DWNNodesRequest{DID: bob.DID, Timeout: 2 * time.Second}); !errors.Is(err, ErrNoDWNNodes) {
		t.Errorf("nodes of a tenant nobody holds: %v", err)
	}
	// A node that does not hold Bob refuses his messages, and keeps no core of his.
	rep, _ := send(t, l1, bob.DID, bob.RecordsWrite(clock, dwntest.Write{Data: []byte("b"), Schema: schema}), []byte("b"))
	if code, detail := rep.Status(); code != 401 || !strings.Contains(detail, "not an active tenant") {
		t.Fatalf("a write for a tenant the node does not hold: %d %s", code, detail)
	}
	if _, err := n1.Repo.Store.Get(actx(t), n1.Repo.Store.KeyForName(dwncore.CoreName(bob.DID))); !errors.Is(err, corestore.ErrNotFound) {
		t.Fatalf("a core for a tenant the node does not hold: %v", err)
	}
	n2.Close()
	n1.Close()
	waitFor(t, "the nodes' goroutines to end", time.Minute, func() bool { return runtime.NumGoroutine() <= before+5 })
}

func ptrTrue() *bool { b := true; return &b }

func mustValue[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// expiredAuthorization is the authorization of node by the test persona did, which expired an
// hour ago.
func expiredAuthorization(t *testing.T, did string, node lpeer.ID) []byte {
	t.Helper()
	raw, err := dwn.AuthorizeNode(tenantSigner(t, did), node.String(), time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func first[A, B any](a A, _ B) A { return a }

// TestDWNTenantLive: a running node without a DWN service starts one when it is told to hold a
// tenant, syncs it with the tenant's other node, and stops when it is told to let it go; the
// config says so each time.
func TestDWNTenantLive(t *testing.T) {
	alice, _ := persona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	n1 := dwnNodeT(t, "", alice.DID)
	w := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("x"), Schema: "https://example.com/s"})
	wantCode(t, first(send(t, daemonLocal(n1), alice.DID, w, []byte("x"))), 202)
	n2 := newTestNode(t, WithBootstrapAddrs(n1.Addrs()[0]), WithListen("/ip4/127.0.0.1/tcp/0"))
	if err := n2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l2 := daemonLocal(n2)
	if _, err := Stream(actx(t), l2, OpDWN, DWNRequest{Target: alice.DID, Message: json.RawMessage(jsv.Stringify(w))}, nil); !errors.Is(err, ErrNoDWN) {
		t.Fatalf("a node without a DWN: %v", err)
	}
	// An authorization of another node, or by another key, is refused, through the API too.
	for name, raw := range map[string][]byte{
		"of another node": mustValue(AuthorizeDWNNode(tenantSigner(t, alice.DID), n1.ID(), 0)),
		"by another key":  mustValue(AuthorizeDWNNode(tenantSigner(t, first(persona(2)).DID), n2.ID(), 0)),
		"expired":         expiredAuthorization(t, alice.DID, n2.ID()),
	} {
		if _, err := Call(actx(t), l2, OpDWNTenant, DWNTenantRequest{DID: alice.DID, Authorization: raw}); !errors.Is(err, dwn.ErrNodeAuthorization) {
			t.Fatalf("an authorization %s: %v", name, err)
		}
	}
	auth := mustValue(AuthorizeDWNNode(tenantSigner(t, alice.DID), n2.ID(), time.Hour))
	in, err := Call(actx(t), l2, OpDWNTenant, DWNTenantRequest{DID: alice.DID, Authorization: auth})
	if err != nil || !in.Running || in.Open || len(in.Tenants) != 1 || !in.Tenants[0].Held || !in.Tenants[0].Authorized || in.Tenants[0].AuthorizedUntil == "" {
		t.Fatalf("OpDWNTenant add: %+v %v", in, err)
	}
	waitFor(t, "the record reaches the node that took the tenant on", time.Minute, func() bool {
		rep, _ := send(t, l2, alice.DID, alice.RecordsRead(clock, recordID(w)), nil)
		code, _ := rep.Status()
		return code == 200
	})
	if !slices.Contains(n2.Repo.Config.DWN.Tenants, alice.DID) {
		t.Fatalf("config %+v", n2.Repo.Config.DWN)
	}
	in, err = Call(actx(t), l2, OpDWNTenant, DWNTenantRequest{DID: alice.DID, Remove: true})
	if err != nil || !in.Open || len(n2.Repo.Config.DWN.Tenants) != 0 {
		t.Fatalf("OpDWNTenant rm: %+v %v", in, err)
	}
	for _, tn := range in.Tenants {
		if tn.Held {
			t.Errorf("still held: %+v", tn)
		}
	}
	if _, err := Call(actx(t), l2, OpDWNTenant, DWNTenantRequest{DID: alice.DID, Remove: true}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("removing a tenant not held: %v", err)
	}
	if _, err := Call(actx(t), l2, OpDWNTenant, DWNTenantRequest{DID: "nobody"}); !errors.Is(err, ErrBadDID) {
		t.Errorf("adding a non-DID: %v", err)
	}
}

// hostileDWN serves DWNProtocol on n the way a hostile peer would: it claims every tenant with
// the core key coreFor returns, presenting auth (nil: none) whoever asks, and answers everything
// else from an empty node.
func hostileDWN(t *testing.T, n *Node, coreFor func(tenant string) []byte, auth []byte) {
	t.Helper()
	st := memstore.New()
	node, err := dwn.New(st.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := jsonrpc.New(node, jsonrpc.WithTenantCores(func(_ context.Context, req jsonrpc.TenantCoreRequest) (jsonrpc.TenantCoreReply, error) {
		return jsonrpc.TenantCoreReply{Key: coreFor(req.Tenant), Length: 1, Authorization: auth}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); node.Close() })
	n.Host().SetStreamHandler(DWNProtocol, func(s network.Stream) {
		defer s.Close()
		srv.ServeStream(context.Background(), s)
	})
}

// TestDWNHostilePeers: peers that announce a tenant and name, as their core of it, the victim's
// own core or a key nobody holds, without the tenant's authorization, are not followed; a node
// the tenant did authorize that turns hostile and names a core of junk (blocks that are no
// journal entries, messages signed by a stranger, forged and tampered messages, a replay) is
// followed but changes nothing on the victim. None stops it syncing with the tenant's real node.
func TestDWNHostilePeers(t *testing.T) {
	alice, _ := persona(1)
	stranger, _ := persona(9)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	victim := dwnNodeT(t, "", alice.DID)
	boot := victim.Addrs()[0]
	schema := "https://example.com/s"
	legit := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("legit"), Schema: schema})
	wantCode(t, first(send(t, daemonLocal(victim), alice.DID, legit, []byte("legit"))), 202)
	ownKey, ownLen, _ := victim.DWNStore().CoreKey(alice.DID)

	// The junk core, written by the hostile peer.
	evil := newTestNode(t, WithBootstrapAddrs(boot), WithListen("/ip4/127.0.0.1/tcp/0"))
	if err := evil.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	junk, err := evil.Repo.Store.Create(actx(t), "junk")
	if err != nil {
		t.Fatal(err)
	}
	entry := func(m *jsv.Object, data []byte) []byte {
		b, err := dwncore.EncodeEntry(dwncore.Entry{Message: m, Data: data, WithData: data != nil})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tampered := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("t"), Schema: schema})
	d, _ := tampered.Get("descriptor")
	d.(*jsv.Object).Set("schema", "https://example.com/other")
	wrongData := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("right"), Schema: schema})
	blocks := [][]byte{
		[]byte("not an entry"), {0xa1, 0x61, 0x76, 0x02},
		entry(stranger.RecordsWrite(clock, dwntest.Write{Data: []byte("s"), Schema: schema}), []byte("s")),
		entry(tampered, []byte("t")),
		entry(wrongData, []byte("wrong")),
		entry(legit, []byte("legit")),
		entry(alice.RecordsDelete(clock, "bafyreiabc", false), nil),
	}
	if _, err := junk.Append(actx(t), blocks...); err != nil {
		t.Fatal(err)
	}
	var nobody corestore.Key
	nobody[0] = 7
	claim := func(n *Node, key []byte, auth []byte) {
		hostileDWN(t, n, func(string) []byte { return key }, auth)
		// it announces the tenant and opens a stream, so the victim asks it at once
		n.announceKey(actx(t), dwncore.DiscoveryKey(alice.DID), "dwn tenant", alice.DID)
		if s, err := n.dialDWN(actx(t), victimInfo(victim)); err == nil {
			s.Close()
		}
	}
	evilAuth, err := AuthorizeDWNNode(tenantSigner(t, alice.DID), evil.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	claim(evil, junk.Key().Bytes(), evilAuth)
	for _, key := range [][]byte{ownKey[:], nobody[:], junk.Key().Bytes()} {
		other := newTestNode(t, WithBootstrapAddrs(boot), WithListen("/ip4/127.0.0.1/tcp/0"))
		if err := other.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		// evil's authorization names evil, not other
		claim(other, key, evilAuth)
	}
	waitFor(t, "the victim to follow the junk core", time.Minute, func() bool {
		c, err := victim.Repo.Store.Get(actx(t), junk.Key())
		return err == nil && c.Contiguous() == uint64(len(blocks))
	})
	time.Sleep(500 * time.Millisecond) // its ingest runs
	// A real node of the tenant still syncs.
	real := dwnNodeT(t, boot, alice.DID)
	w2 := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("second"), Schema: schema})
	wantCode(t, first(send(t, daemonLocal(real), alice.DID, w2, []byte("second"))), 202)
	want := []string{recordID(legit), recordID(w2)}
	slices.Sort(want)
	waitFor(t, "the real node's write on the victim", time.Minute, func() bool {
		rep, _ := send(t, daemonLocal(victim), alice.DID, alice.RecordsQuery(clock, dwntest.Obj("schema", schema)), nil)
		return slices.Equal(recordIDs(t, rep), want)
	})
	if _, err := victim.Repo.Store.Get(actx(t), nobody); !errors.Is(err, corestore.ErrNotFound) {
		t.Fatalf("the victim followed a core an unauthorized peer named: %v", err)
	}
	// Nothing of the junk was accepted: the victim's core holds its own write and the real
	// node's, no more.
	if _, n, _ := victim.DWNStore().CoreKey(alice.DID); n != ownLen+1 {
		t.Fatalf("the victim's core grew from %d to %d", ownLen, n)
	}
	for _, m := range []*jsv.Object{tampered, wrongData} {
		rep, _ := send(t, daemonLocal(victim), alice.DID, alice.RecordsRead(clock, recordID(m)), nil)
		if code, _ := rep.Status(); code != 404 {
			t.Errorf("a junk record reads %d", code)
		}
	}
}

func victimInfo(n *Node) lpeer.AddrInfo { return lpeer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()} }

// TestDWNOpenNode: a node that holds no tenant accepts messages for any, syncs none, announces
// none, and names the core of none to peers that ask.
func TestDWNOpenNode(t *testing.T) {
	alice, _ := persona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	open := dwnNodeT(t, "")
	w := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("x"), Schema: "https://example.com/s"})
	wantCode(t, first(send(t, daemonLocal(open), alice.DID, w, []byte("x"))), 202)
	in, err := Call(actx(t), daemonLocal(open), OpDWNInfo, None{})
	if err != nil || !in.Open || len(in.Tenants) != 1 || in.Tenants[0].Held || in.Tenants[0].Synced || in.Tenants[0].Length != 1 {
		t.Fatalf("OpDWNInfo: %+v %v", in, err)
	}
	if dids, _ := open.dwnService().synced(); len(dids) != 0 {
		t.Fatalf("an open node syncs %v", dids)
	}
	if _, ok := open.disc.Announced()[dwncore.DiscoveryKey(alice.DID)]; ok {
		t.Fatal("an open node announces a tenant")
	}
	other := newTestNode(t, WithListen("/ip4/127.0.0.1/tcp/0"))
	var rpcErr *jsonrpc.Error
	if _, _, err := tenantCoreOf(actx(t), other, victimInfo(open), alice.DID); !errors.As(err, &rpcErr) {
		t.Fatalf("an open node named its core of a tenant: %v", err)
	}
}

// TestDWNUnauthorizedNodes: a node names its core of a tenant only to a peer presenting the
// tenant's valid authorization of that very peer: not to a stranger, not to one replaying
// another node's authorization (which every node shows to the nodes it syncs with), not to one
// whose authorization expired; and a node that holds the tenant without an authorization gets
// none of its messages.
func TestDWNUnauthorizedNodes(t *testing.T) {
	alice, _ := persona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	n1 := dwnNodeT(t, "", alice.DID)
	w := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("private"), Schema: "https://example.com/s"})
	wantCode(t, first(send(t, daemonLocal(n1), alice.DID, w, []byte("private"))), 202)
	n1Auth, _ := n1.Repo.dwnAuthorization(alice.DID)
	if n1Auth == nil {
		t.Fatal("the node has no authorization")
	}

	// The intruder holds the tenant but the tenant never authorized it.
	intruder := newTestNode(t, WithDWN(DWNOptions{Tenants: []string{alice.DID}}), WithBootstrapAddrs(n1.Addrs()[0]), WithListen("/ip4/127.0.0.1/tcp/0"))
	if err := intruder.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stranger := newTestNode(t, WithListen("/ip4/127.0.0.1/tcp/0"))
	ask := func(auth []byte) error {
		s, err := stranger.dialDWN(actx(t), victimInfo(n1))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = jsonrpc.NewStreamClient(s).TenantCore(actx(t), alice.DID, auth)
		return err
	}
	for name, auth := range map[string][]byte{
		"no authorization":            nil,
		"another node's":              n1Auth,
		"its own, expired":            expiredAuthorization(t, alice.DID, stranger.ID()),
		"its own, by another tenant":  mustValue(AuthorizeDWNNode(tenantSigner(t, first(persona(2)).DID), stranger.ID(), 0)),
		"its own, for another tenant": mustValue(dwn.AuthorizeNode(tenantSigner(t, first(persona(2)).DID), stranger.ID().String(), time.Now(), time.Time{})),
	} {
		var rpcErr *jsonrpc.Error
		if err := ask(auth); !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc.CodeUnauthorized {
			t.Errorf("a stranger presenting %s: %v", name, err)
		}
	}
	if err := ask(mustValue(AuthorizeDWNNode(tenantSigner(t, alice.DID), stranger.ID(), time.Minute))); err != nil {
		t.Fatalf("a stranger the tenant authorized: %v", err)
	}
	if _, _, err := tenantCoreOf(actx(t), stranger, victimInfo(n1), alice.DID); err == nil {
		t.Fatal("tenantCoreOf named the core to a node without an authorization")
	}

	// A peer that knows the key of n1's core anyway is refused it by the replication protocol.
	key, _, _ := n1.DWNStore().CoreKey(alice.DID)
	rc, err := stranger.Repo.Store.Replica(actx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.repl.Replicate(actx(t), rc, n1.ID()); !errors.Is(err, protocols.ErrRefused) || !strings.Contains(err.Error(), "not a node of the tenant") {
		t.Fatalf("replicating the tenant's core without an authorization: %v", err)
	}

	// Give the intruder time to try: it never learns n1's core, nor n1 its own.
	time.Sleep(4 * time.Second)
	rep, _ := send(t, daemonLocal(intruder), alice.DID, alice.RecordsRead(clock, recordID(w)), nil)
	if code, _ := rep.Status(); code != 404 {
		t.Fatalf("the intruder reads the private record: %d", code)
	}
	if _, err := intruder.Repo.Store.Get(actx(t), key); !errors.Is(err, corestore.ErrNotFound) {
		t.Fatalf("the intruder holds a replica of the node's tenant core: %v", err)
	}
	in, err := Call(actx(t), daemonLocal(intruder), OpDWNInfo, None{})
	if err != nil || len(in.Tenants) != 1 || in.Tenants[0].Authorized || len(in.Tenants[0].Nodes) != 0 {
		t.Fatalf("the intruder's DWN: %+v %v", in, err)
	}
	in, err = Call(actx(t), daemonLocal(n1), OpDWNInfo, None{})
	if err != nil || len(in.Tenants) != 1 || !in.Tenants[0].Authorized || len(in.Tenants[0].Nodes) != 0 {
		t.Fatalf("the node's DWN: %+v %v", in, err)
	}
}

// TestDWNAuthorizationExpires: once a node's authorization expires, the tenant's other nodes
// serve it their cores no more, though it synced before: their next ruling on its sessions
// (every dwnReauthorizeEvery; here called at once) refuses it.
func TestDWNAuthorizationExpires(t *testing.T) {
	alice, _ := persona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	schema := "https://example.com/s"
	n1 := dwnNodeT(t, "", alice.DID)
	n2 := newTestNode(t, WithDWN(DWNOptions{Tenants: []string{alice.DID}}), WithBootstrapAddrs(n1.Addrs()[0]), WithListen("/ip4/127.0.0.1/tcp/0"))
	const ttl = 5 * time.Second
	if err := n2.Repo.setDWNAuthorization(actx(t), alice.DID, mustValue(AuthorizeDWNNode(tenantSigner(t, alice.DID), n2.ID(), ttl))); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(ttl)
	if err := n2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	has := func(n *Node, w *jsv.Object) bool {
		rep, _ := send(t, daemonLocal(n), alice.DID, alice.RecordsRead(clock, recordID(w)), nil)
		code, _ := rep.Status()
		return code == 200
	}
	w1 := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("before"), Schema: schema})
	wantCode(t, first(send(t, daemonLocal(n1), alice.DID, w1, []byte("before"))), 202)
	waitFor(t, "the record reaches the node while it is authorized", time.Minute, func() bool { return has(n2, w1) })
	if time.Now().After(expires) {
		t.Skip("the machine is too slow for this test's 5 s authorization")
	}
	time.Sleep(time.Until(expires) + 100*time.Millisecond)
	n1.dwnService().reauthorize(actx(t))
	w2 := alice.RecordsWrite(clock, dwntest.Write{Data: []byte("after"), Schema: schema})
	wantCode(t, first(send(t, daemonLocal(n1), alice.DID, w2, []byte("after"))), 202)
	time.Sleep(3 * time.Second)
	if has(n2, w2) {
		t.Fatal("a record written after the node's authorization expired reached it")
	}
	in, err := Call(actx(t), daemonLocal(n2), OpDWNInfo, None{})
	if err != nil || in.Tenants[0].Authorized {
		t.Fatalf("the expired node's DWN: %+v %v", in, err)
	}
}

// TestDWNDataNotAnnounced: the data of a large record is a blob that neither the node that took
// it nor the node that synced it announces in the DHT, where its CID would reach the DHT's peers;
// a blob added as a user adds one is announced.
func TestDWNDataNotAnnounced(t *testing.T) {
	alice, _ := persona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	n1 := dwnNodeT(t, "", alice.DID)
	n2 := dwnNodeT(t, n1.Addrs()[0], alice.DID)
	data := bytes.Repeat([]byte("large and private "), 4000) // over the 30,000 bytes kept inline
	w := alice.RecordsWrite(clock, dwntest.Write{Data: data, Schema: "https://example.com/s"})
	wantCode(t, first(send(t, daemonLocal(n1), alice.DID, w, data)), 202)
	dataCID, _, err := dwn.DataCID(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	root, err := cid.Decode(dataCID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the record's data on the second node", time.Minute, func() bool {
		_, got := send(t, daemonLocal(n2), alice.DID, alice.RecordsRead(clock, recordID(w)), nil)
		return bytes.Equal(got, data)
	})
	public, err := n1.Blobs().Add(actx(t), bytes.NewReader([]byte("a public blob")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the public blob announced", time.Minute, func() bool {
		_, ok := n1.disc.AnnouncedBlobs()[public.CID]
		return ok
	})
	for i, n := range []*Node{n1, n2} {
		if has, _ := n.Blobs().Has(actx(t), root); !has {
			t.Fatalf("node %d does not hold the record's data", i+1)
		}
		if _, ok := n.disc.AnnouncedBlobs()[root]; ok {
			t.Fatalf("node %d announces the record's data", i+1)
		}
	}
}
