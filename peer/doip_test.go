package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip"
	"github.com/ipfs/go-cid"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

// doipNodeT starts a node that serves DOIP over TLS and DOIP 2.1 on loopback.
func doipNodeT(t *testing.T, o DOIPOptions, opts ...NodeOption) (*Node, *Local, DOIPInfo) {
	t.Helper()
	o.TLS, o.TCP21 = "127.0.0.1:0", "127.0.0.1:0"
	n := newTestNode(t, append([]NodeOption{WithDOIP(o)}, opts...)...)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	info, ok := n.DOIP()
	if !ok || info.TLS == "" || info.TCP21 == "" {
		t.Fatalf("DOIP info %+v %v", info, ok)
	}
	return n, daemonLocal(n), info
}

func doipCall(t *testing.T, l *Local, req DOIPRequest) (DOIPReply, map[string][]byte) {
	t.Helper()
	rep, data, err := doipCallErr(l, req)
	if err != nil {
		t.Fatalf("%s via %q: %v", req.Op, req.Peer, err)
	}
	return rep, data
}

func doipCallErr(l *Local, req DOIPRequest) (DOIPReply, map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := map[string][]byte{}
	if req.PageSize == 0 && req.Op == DOIPSearch {
		req.PageSize = -1
	}
	rep, err := Stream(ctx, l, OpDOIP, req, func(ev DOIPEvent) error {
		data[ev.Element] = append(data[ev.Element], ev.Data...)
		return nil
	})
	return rep, data, err
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDOIPOnNodes runs the DOIP service on real nodes: the owner creates an object with an
// element on its own service; the same bytes come back over TLS, DOIP 2.1 and the tunnel; a
// registry that the repository joined finds it; a node that follows the repository core
// serves it read-only, element bytes included, once the owner is gone; resolving the prefix
// through the DHT finds that replica.
func TestDOIPOnNodes(t *testing.T) {
	reg, regL, regInfo := doipNodeT(t, DOIPOptions{Prefix: "reg", Joiners: []string{"*"}})
	boot := WithBootstrapAddrs(reg.Addrs()[0])
	own, ownL, ownInfo := doipNodeT(t, DOIPOptions{}, boot)
	rep, repL, _ := doipNodeT(t, DOIPOptions{Prefix: "rep"}, boot)
	if ownInfo.Prefix != own.ID().String() || ownInfo.ServiceID != own.ID().String()+"/service" {
		t.Fatalf("default prefix: %+v", ownInfo)
	}
	if own.Repo.Config.DOIP.Prefix != ownInfo.Prefix {
		t.Fatalf("the prefix was not saved in the config: %+v", own.Repo.Config)
	}

	data := bytes.Repeat([]byte("element bytes\x00\n#\n"), 70000) // over 1 MiB, with framing characters
	created, _ := doipCall(t, ownL, DOIPRequest{Op: DOIPCreate, Object: &doip.DigitalObject{Type: "Document",
		Attributes: json.RawMessage(`{"name":"Hello World","topic":"federation"}`), Elements: []doip.Element{{ID: "file", Type: "text/plain"}}},
		Data: map[string][]byte{"file": data}})
	id := created.Object.ID
	if doip.PrefixOf(id) != ownInfo.Prefix || created.Via != "node" {
		t.Fatalf("created %+v", created)
	}

	// Element bytes are the repo's blobs, under Kubo's CIDs: 1 MiB of zeros is Kubo's
	// bafybeiggzq4... (DESIGN.md, Blobs).
	doipCall(t, ownL, DOIPRequest{Op: DOIPCreate, Object: &doip.DigitalObject{Type: "Zeros", Elements: []doip.Element{{ID: "z"}}},
		Data: map[string][]byte{"z": make([]byte, 1<<20)}})
	zeros, _ := cid.Decode("bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla")
	bs, err := own.Repo.Blobs()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := bs.Complete(context.Background(), zeros); !ok || err != nil {
		t.Fatalf("1 MiB of zeros is not the blob %s: %v", zeros, err)
	}

	// The same bytes over TLS (anonymous: a Local without a repo), DOIP 2.1 and the tunnel.
	anon := EphemeralBackend(quietLog())
	defer anon.Close()
	for _, via := range []struct {
		l    *Local
		peer string
	}{{anon, ownInfo.TLS}, {anon, ownInfo.TCP21}, {repL, own.Addrs()[0]}, {ownL, ""}} {
		r, got := doipCall(t, via.l, DOIPRequest{Op: DOIPRetrieve, Peer: via.peer, ID: id, Element: "file"})
		if sha(got["file"]) != sha(data) || r.Elements[0].SHA256 != sha(data) || r.Elements[0].Bytes != int64(len(data)) {
			t.Fatalf("retrieve via %s (%s): %d bytes, %+v", via.peer, r.Via, len(got["file"]), r.Elements)
		}
	}
	// Anonymous clients may read but not write.
	if _, _, err := doipCallErr(anon, DOIPRequest{Op: DOIPDelete, Peer: ownInfo.TLS, ID: id}); !errors.Is(err, doip.ErrUnauthenticated) && !errors.Is(err, doip.ErrForbidden) {
		t.Fatalf("anonymous delete: %v", err)
	}

	// The repository joins the registry (as itself, over the tunnel); the registry's search
	// finds the object; after quit it does not.
	if _, _, err := doipCallErr(ownL, DOIPRequest{Op: DOIPJoin, Peer: reg.Addrs()[0]}); err != nil {
		t.Fatal(err)
	}
	found, _ := doipCall(t, anon, DOIPRequest{Op: DOIPSearch, Peer: regInfo.TLS, Query: "federation", IDsOnly: true})
	if found.Search.Size != 1 || found.Search.IDs[0] != id {
		t.Fatalf("registry search: %+v", found.Search)
	}

	// A replica of the repository core serves it, and fetches the element's bytes.
	key, err := corestore.ParseKey(ownInfo.Repository)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Follow(key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica to serve the repository", time.Minute, func() bool {
		in, _ := rep.DOIP()
		return len(in.Replicas) == 1 && in.Replicas[0].Prefix == ownInfo.Prefix
	})
	repInfo, _ := rep.DOIP()
	waitFor(t, "the replica to hold the element", time.Minute, func() bool {
		_, got, err := doipCallErr(anon, DOIPRequest{Op: DOIPRetrieve, Peer: repInfo.TLS, ID: id, Element: "file"})
		return err == nil && bytes.Equal(got["file"], data)
	})
	own.Close()
	r, got := doipCall(t, anon, DOIPRequest{Op: DOIPRetrieve, Peer: repInfo.TLS, ID: id, WithData: true})
	if r.Object.ID != id || !strings.Contains(string(r.Object.Attributes), "Hello World") || sha(got["file"]) != sha(data) {
		t.Fatalf("replica retrieve with the owner gone: %+v", r.Object)
	}
	s, _ := doipCall(t, anon, DOIPRequest{Op: DOIPSearch, Peer: repInfo.TLS, Service: ownInfo.Prefix + "/service", Query: "hello", IDsOnly: true})
	if s.Search.Size != 1 || s.Search.IDs[0] != id {
		t.Fatalf("replica search: %+v", s.Search)
	}
	if _, _, err := doipCallErr(repL, DOIPRequest{Op: DOIPDelete, ID: id, Peer: repInfo.TLS}); !errors.Is(err, doip.ErrDeclined) {
		t.Fatalf("delete on the replica: %v", err)
	}
	// The registry's search reaches the replica in the owner's stead; after Quit, nothing.
	found, _ = doipCall(t, anon, DOIPRequest{Op: DOIPSearch, Peer: regInfo.TLS, Query: "federation"})
	if found.Search.Size != 1 || found.Search.Objects[0].ID != id || len(found.Search.Unreachable) != 0 {
		t.Fatalf("registry search with the owner gone: %+v", found.Search)
	}
	doipCall(t, regL, DOIPRequest{Op: DOIPQuit, ID: ownInfo.ServiceID})
	if found, _ := doipCall(t, anon, DOIPRequest{Op: DOIPSearch, Peer: regInfo.TLS, Query: "federation", IDsOnly: true}); found.Search.Size != 0 {
		t.Fatalf("registry search after quit: %+v", found.Search)
	}

	// Resolving the prefix through the registry's DHT finds the replica, with its service info,
	// and the owner's provider record, which outlives it, with the reason it does not answer.
	res, err := Call(context.Background(), regL, OpDOIPResolve, DOIPResolveRequest{ID: id, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var answered []DOIPResolved
	for _, s := range res.Services {
		switch {
		case s.Error == "":
			answered = append(answered, s)
		case s.Peer != own.ID().String():
			t.Errorf("resolve: peer %s failed: %s", s.Peer, s.Error)
		}
	}
	if len(answered) != 1 || answered[0].Peer != rep.ID().String() {
		t.Fatalf("resolve: %+v", res)
	}
	si, err := doip.ParseServiceInfo(answered[0].Service)
	if err != nil || si.Prefix != ownInfo.Prefix || si.PeerID != rep.ID().String() || si.ID != ownInfo.ServiceID {
		t.Fatalf("resolved service info %+v %v", si, err)
	}
}

// TestDOIPOpsWithoutService: without a DOIP service running, OpDOIP serves the node's own
// repository from the repo, in a daemon and without one; the repository core starts with the
// marker naming the prefix, which the config keeps; DOIP errors keep their identity across the
// API.
func TestDOIPOpsWithoutService(t *testing.T) {
	n, _, _ := newTestAPI(t) // a daemon without DOIP
	ctx := context.Background()
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	path := filepath.Join(t.TempDir(), "repo")
	r, err := InitRepo(ctx, path, WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	local := NewLocal(path, quietLog())
	defer local.Close()
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, []byte("from a file"), 0o600)

	for _, b := range []Backend{c, local} {
		req := DOIPRequest{Op: DOIPCreate, Object: &doip.DigitalObject{Type: "Note", Attributes: json.RawMessage(`{"title":"offline"}`),
			Elements: []doip.Element{{ID: "e"}}}}
		if b.Daemon() {
			req.Data = map[string][]byte{"e": []byte("from a file")}
		} else {
			req.Files = map[string]string{"e": file}
		}
		created, err := Stream(ctx, b, OpDOIP, req, nil)
		if err != nil {
			t.Fatalf("create (daemon %v): %v", b.Daemon(), err)
		}
		var got []byte
		if _, err := Stream(ctx, b, OpDOIP, DOIPRequest{Op: DOIPRetrieve, ID: created.Object.ID, Element: "e"}, func(ev DOIPEvent) error {
			got = append(got, ev.Data...)
			return nil
		}); err != nil || string(got) != "from a file" {
			t.Fatalf("retrieve (daemon %v): %q %v", b.Daemon(), got, err)
		}
		s, err := Stream(ctx, b, OpDOIP, DOIPRequest{Op: DOIPSearch, Query: "title:offline", PageSize: -1, IDsOnly: true}, nil)
		if err != nil || s.Search.Size != 1 {
			t.Fatalf("search (daemon %v): %+v %v", b.Daemon(), s.Search, err)
		}
		cases := []struct {
			name string
			req  DOIPRequest
			want error
		}{
			{"no such object", DOIPRequest{Op: DOIPRetrieve, ID: "x/y"}, doip.ErrNotFound},
			{"bad query", DOIPRequest{Op: DOIPSearch, Query: "a AND (", PageSize: -1}, doip.ErrInvalid},
			{"unknown op", DOIPRequest{Op: "frob"}, ErrBadRequest},
			{"no such element", DOIPRequest{Op: DOIPRetrieve, ID: created.Object.ID, Element: "nope"}, doip.ErrNotFound},
			{"bad url", DOIPRequest{Op: DOIPHello, Peer: "http://x"}, ErrBadRequest},
			{"join with no service running", DOIPRequest{Op: DOIPJoin, Peer: "doip://127.0.0.1:1"}, ErrNotRunning},
			{"anonymous write", DOIPRequest{Op: DOIPDelete, ID: created.Object.ID, Anonymous: true}, doip.ErrUnauthenticated},
		}
		if b.Daemon() {
			cases = append(cases, struct {
				name string
				req  DOIPRequest
				want error
			}{"files through a daemon", DOIPRequest{Op: DOIPCreate, Object: &doip.DigitalObject{}, Files: map[string]string{"e": file}}, ErrBadRequest})
		}
		for _, tc := range cases {
			if _, err := Stream(ctx, b, OpDOIP, tc.req, nil); !errors.Is(err, tc.want) {
				t.Errorf("%s (daemon %v): %v is not %v", tc.name, b.Daemon(), err, tc.want)
			}
		}
		if _, err := Call(ctx, b, OpDOIPToken, DOIPTokenRequest{TTL: 365 * 24 * time.Hour}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("a year-long token (daemon %v): %v", b.Daemon(), err)
		}
		tok, err := Call(ctx, b, OpDOIPToken, DOIPTokenRequest{})
		if err != nil || strings.Count(tok.Token, ".") != 2 {
			t.Fatalf("token (daemon %v): %+v %v", b.Daemon(), tok, err)
		}
		// The token authenticates as the owner where the node key does not reach.
		if _, err := Stream(ctx, b, OpDOIP, DOIPRequest{Op: DOIPDelete, ID: created.Object.ID, Anonymous: false, Token: tok.Token}, nil); err != nil {
			t.Fatalf("delete with the owner token (daemon %v): %v", b.Daemon(), err)
		}
	}
	if _, err := Call(ctx, c, OpDOIPResolve, DOIPResolveRequest{ID: "nobody/x", Timeout: time.Second}); !errors.Is(err, ErrNoDOIPProviders) {
		t.Errorf("resolve of a prefix nobody serves: %v", err)
	}

	// The repository core's block 0 is the marker with the prefix the config keeps.
	r, err = local.Repo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	core, err := r.Store.Get(ctx, r.Store.KeyForName(DOIPCoreName))
	if err != nil {
		t.Fatal(err)
	}
	b0, err := core.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := LoadIdentity(path)
	pid, _ := lpeer.IDFromPrivateKey(id)
	if p, ok := repoMarker(b0); !ok || p != pid.String() || r.Config.DOIP.Prefix != p {
		t.Fatalf("marker %q %v, config %+v, peer %s", p, ok, r.Config.DOIP, pid)
	}
	if b1, _ := core.Get(ctx, 1); func() bool { _, ok := repoMarker(b1); return ok }() {
		t.Fatal("block 1 reads as a marker too: repoMarker cannot fail")
	}
}

// TestCheckDOIPPrefix: the prefixes the node accepts are the ones doip.WithPrefix accepts.
func TestCheckDOIPPrefix(t *testing.T) {
	for _, p := range []string{"20.500.123", "12D3KooWEm1RG5WE3DpsqLLVDw6vUrsJa9ZFkeSHqF2cjaYhtVtf", "a", strings.Repeat("x", 128),
		"", "a/b", "a b", "a\tb", "a\nb", strings.Repeat("x", 129)} {
		_, libErr := doip.NewRepository(&datom.DB{}, corestore.Key{}, doip.NewMemBlobs(), doip.WithPrefix(p))
		libOK := libErr == nil || !strings.Contains(libErr.Error(), "prefix")
		if ours := CheckDOIPPrefix(p) == nil; ours != libOK {
			t.Errorf("prefix %q: node accepts %v, doip accepts %v", p, ours, libOK)
		}
	}
}

// hostile is a DOIP service that answers every Retrieve of an element with its bytes.
type hostile struct{ bytes string }

func (h hostile) Process(ctx context.Context, req *doip.Request, w doip.ResponseWriter) error {
	_, err := w.WriteBytes(strings.NewReader(h.bytes))
	return err
}

// TestDOIPReplicaChecksBytes: a replica keeps only element bytes whose CID its replicated datoms
// name: a peer serving the prefix that sends other bytes (the same length, or more) gets
// nothing into the blob store and leaves no file behind; the right bytes are kept.
func TestDOIPReplicaChecksBytes(t *testing.T) {
	n, _, _ := doipNodeT(t, DOIPOptions{Prefix: "rep"})
	d := n.doipService()
	ctx := context.Background()
	real := "the real bytes"
	want, err := d.blobs.(*doip.UnixFSBlobs).CIDOf(ctx, strings.NewReader(real))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(send string) error {
		srv, err := doip.NewServer(hostile{send}, doip.WithServerLogger(quietLog()))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		a, b := net.Pipe()
		go srv.ServeConn(ctx, a, doip.ConnInfo{})
		c, err := doip.NewClient(b, doip.WithTarget("own/service"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return d.fetchElement(ctx, c, missingElement{object: "own/x", element: "e", cid: want.String(), length: int64(len(real))})
	}
	for _, send := range []string{"THE REAL BYTES", "the real bytes and more", "short"} {
		if err := fetch(send); err == nil {
			t.Fatalf("%q was taken for %q", send, real)
		}
		if _, _, err := d.blobs.Open(ctx, want); !errors.Is(err, doip.ErrBlobNotFound) {
			t.Fatalf("after %q: %v", send, err)
		}
	}
	bs, _ := n.Repo.Blobs()
	if roots, _ := bs.Roots(ctx); len(roots) != 0 {
		t.Fatalf("hostile bytes were stored: %v", roots)
	}
	if ents, _ := os.ReadDir(filepath.Join(n.Repo.Path, doipIncomingDir)); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
	if err := fetch(real); err != nil {
		t.Fatal(err)
	}
	rc, _, err := d.blobs.Open(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != real {
		t.Fatalf("kept %q", got)
	}
}

// TestDOIPReplicaDeleted: a replica repository that is deleted is no longer served.
func TestDOIPReplicaDeleted(t *testing.T) {
	own, ownL, ownInfo := doipNodeT(t, DOIPOptions{Prefix: "own"})
	rep, _, repInfo := doipNodeT(t, DOIPOptions{Prefix: "rep"}, WithDirectPeers(own.Addrs()[0]))
	doipCall(t, ownL, DOIPRequest{Op: DOIPCreate, Object: &doip.DigitalObject{Type: "T"}})
	key, _ := corestore.ParseKey(ownInfo.Repository)
	if err := rep.Follow(key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica to be served", time.Minute, func() bool { in, _ := rep.DOIP(); return len(in.Replicas) == 1 })
	anon := EphemeralBackend(quietLog())
	defer anon.Close()
	if h, _ := doipCall(t, anon, DOIPRequest{Op: DOIPHello, Peer: repInfo.TLS, Service: "own/service"}); h.Object.ID != "own/service" {
		t.Fatalf("the replica does not answer for its prefix: %s", h.Object.ID)
	}
	if err := rep.deleteCore(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted replica to be dropped", time.Minute, func() bool { in, _ := rep.DOIP(); return len(in.Replicas) == 0 })
	// The node answers for the prefix's service as itself now.
	if h, _ := doipCall(t, anon, DOIPRequest{Op: DOIPHello, Peer: repInfo.TLS, Service: "own/service"}); h.Object.ID != "rep/service" {
		t.Fatalf("a deleted replica still answers Hello: %s", h.Object.ID)
	}
}
