package doip

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder is a Processor that answers every request as an empty service would and keeps
// the credentials it was sent.
type recorder struct {
	mu    sync.Mutex
	auths []json.RawMessage
	inner *Service
}

func (r *recorder) Process(ctx context.Context, req *Request, w ResponseWriter) error {
	r.mu.Lock()
	if len(req.Authentication) > 0 {
		r.auths = append(r.auths, append(json.RawMessage(nil), req.Authentication...))
	}
	r.mu.Unlock()
	return r.inner.Process(ctx, req, w)
}

// A service that forwards a search (to a joined service) or a retrieve (to a resolved one)
// sends no bearer credential the other side could replay: it is known by its TLS client
// certificate (or its libp2p peer) only. A key token it sent would let whoever joined, or
// whoever announced a prefix, act as the forwarding node's owner on its own service for ten
// minutes.
func TestForwardingSendsNoReplayableToken(t *testing.T) {
	ctx := testCtx(t)
	regNode := newNode(t, "reg", nil)
	evil := newNode(t, "evil", nil)
	evilSvc, err := NewService(evil.repo, evil.key, WithServiceLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{inner: evilSvc}
	srv, _ := NewServer(rec, WithServerLogger(quiet()))
	ln, err := ListenTLS("127.0.0.1:0", evil.key, evilSvc.ID())
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	evilURL := "doip://" + ln.Addr().String()

	_, regAddr, _ := regNode.serve(t, WithAuthorizer(OwnerOnly{Joiners: []string{"*"}}), WithDialer(&TLSDialer{Key: regNode.key}),
		WithResolver(resolverFunc(func(context.Context, string) ([]string, error) { return []string{evilURL}, nil })))
	owner := regNode.dial(t, regAddr, WithAuth(regNode.ownerAuth()))
	if _, err := owner.Create(ctx, &DigitalObject{ID: "reg/precious", Type: "T"}, nil); err != nil {
		t.Fatal(err)
	}
	// Anyone authenticated may join: the evil service does; a search goes to it, and a retrieve
	// of an id held elsewhere goes to what the resolver names.
	joiner := regNode.dial(t, regAddr, WithAuth(KeyAuth(newKey(t))))
	if err := joiner.Join(ctx, "evil/service", evilURL); err != nil {
		t.Fatal(err)
	}
	if _, err := joiner.Search(ctx, SearchRequest{Query: "*:*", PageSize: -1, IDsOnly: true}); err != nil {
		t.Fatal(err)
	}
	joiner.Retrieve(ctx, "evil/thing")
	rec.mu.Lock()
	auths := rec.auths
	rec.mu.Unlock()
	// Whatever it was sent, replayed on the registry, must not make it the owner.
	for _, a := range auths {
		var cred struct {
			Token string `json:"token"`
		}
		json.Unmarshal(a, &cred)
		c := regNode.dial(t, regAddr, WithAuth(TokenAuth(cred.Token)))
		if err := c.Delete(ctx, "reg/precious"); err == nil || !errors.Is(err, ErrUnauthenticated) && !errors.Is(err, ErrForbidden) {
			t.Fatalf("a credential the registry sent to a joined service deletes the registry's objects: %s (%v)", a, err)
		}
	}
	if len(auths) != 0 {
		t.Fatalf("forwarded requests carry credentials: %s", auths)
	}
}

type resolverFunc func(context.Context, string) ([]string, error)

func (f resolverFunc) Resolve(ctx context.Context, id string) ([]string, error) { return f(ctx, id) }

// A registry whose joined service cannot be reached asks a service the resolver finds for its
// prefix (in a node, one serving a replica of its repository), addressed by the joined id.
func TestFederationAsksElsewhere(t *testing.T) {
	ctx := testCtx(t)
	repoNode := newNode(t, "repo", nil)
	regNode := newNode(t, "reg", nil)
	// The joined URL answers nothing.
	gone, err := ListenTLS("127.0.0.1:0", repoNode.key, "x")
	if err != nil {
		t.Fatal(err)
	}
	goneURL := "doip://" + gone.Addr().String()
	gone.Close()
	// Another service answers for the repository: same objects, same service id.
	_, otherAddr, _ := repoNode.serve(t, WithServiceID("repo/service"))
	var asked atomic.Int32
	_, regAddr, _ := regNode.serve(t, WithDialer(&TLSDialer{Key: regNode.key}),
		WithResolver(resolverFunc(func(_ context.Context, id string) ([]string, error) {
			asked.Add(1)
			if PrefixOf(id) != "repo" {
				return nil, nil
			}
			return []string{"doip://" + otherAddr}, nil
		})))
	own := repoNode.dial(t, otherAddr, WithAuth(repoNode.ownerAuth()))
	created, err := own.Create(ctx, &DigitalObject{Type: "T", Attributes: json.RawMessage(`{"name":"kept elsewhere"}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := regNode.dial(t, regAddr, WithAuth(regNode.ownerAuth()))
	if err := reg.Join(ctx, "repo/service", goneURL); err != nil {
		t.Fatal(err)
	}
	res, err := reg.Search(ctx, SearchRequest{Query: "elsewhere", PageSize: -1})
	if err != nil || res.Size != 1 || res.Objects[0].ID != created.ID {
		t.Fatalf("registry search: %+v %v", res, err)
	}
	if asked.Load() == 0 {
		t.Fatal("the resolver was not asked")
	}
}
