package doip

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// node is one test node: a store, its datom database, a repository core, blobs and a key.
type node struct {
	store *corestore.Store
	db    *datom.DB
	key   ed25519.PrivateKey
	repo  *Repository
	dir   string
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newNode opens a store in a temporary directory with a repository of the given prefix.
func newNode(t testing.TB, prefix string, blobs BlobStore) *node {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet()), corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := datom.Open(ctx, s, datom.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := s.Create(ctx, "doip")
	if err != nil {
		t.Fatal(err)
	}
	if blobs == nil {
		fb, err := NewFileBlobs(dir + "/blobs")
		if err != nil {
			t.Fatal(err)
		}
		blobs = fb
	}
	repo, err := NewRepository(db, c.Key(), blobs, WithPrefix(prefix), WithRepoLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	return &node{store: s, db: db, key: newKey(t), repo: repo, dir: dir}
}

// serve runs a service of n over TLS (DOIP 2.0) and TCP (DOIP 2.1) on 127.0.0.1 and returns
// the service and both addresses.
func (n *node) serve(t testing.TB, opts ...ServiceOption) (*Service, string, string) {
	t.Helper()
	svc, err := NewService(n.repo, n.key, append([]ServiceOption{WithServiceLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv, err := NewServer(svc, WithServerLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenTLS("127.0.0.1:0", n.key, svc.ID())
	if err != nil {
		t.Fatal(err)
	}
	ln21, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	go srv.Serve21(ln21)
	t.Cleanup(func() { srv.Close() })
	return svc, ln.Addr().String(), ln21.Addr().String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client over TLS, pinned to the node's key.
func (n *node) dial(t testing.TB, addr string, opts ...ClientOption) *Client {
	t.Helper()
	c, err := Dial(testCtx(t), addr, nil, append([]ClientOption{WithPin(n.key.Public().(ed25519.PublicKey))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (n *node) ownerAuth() Auth { return KeyAuth(n.key) }
