package datomspace

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datomspace/datomspace/peer"
)

// sentinels are the errors a user tells apart; each case below must match the same ones through
// a client as inside the server.
var sentinels = map[string]error{
	"ErrNotFound": ErrNotFound, "ErrNotAvailable": ErrNotAvailable, "ErrOutOfRange": ErrOutOfRange,
	"ErrReadOnly": ErrReadOnly, "ErrFrozen": ErrFrozen, "ErrClosed": ErrClosed, "ErrBadKey": ErrBadKey,
	"ErrLocked": ErrLocked, "ErrNoProviders": ErrNoProviders, "ErrRejected": ErrRejected,
	"ErrBadJSON": ErrBadJSON, "ErrRawCore": ErrRawCore, "ErrBadRequest": ErrBadRequest,
	"ErrUnauthorized": ErrUnauthorized, "ErrSocketInUse": ErrSocketInUse,
	"ErrRequestTooLarge": ErrRequestTooLarge, "peer.ErrNoSuchName": peer.ErrNoSuchName,
	"peer.ErrNoSession": peer.ErrNoSession, "context.DeadlineExceeded": context.DeadlineExceeded,
}

// TestErrorsKeepTheirIdentity runs failing operations on the server's own Local and through a
// client of its API: errors.Is answers the same for every sentinel, and the expected one matches.
func TestErrorsKeepTheirIdentity(t *testing.T) {
	alice := newServer(t, "")
	ac := newClient(t, alice)
	ctx := tctx(t, time.Minute)
	own := openCore(t, ac, CoreOptions{Name: "raw"})
	if _, err := own.Append(ctx, []byte("not a transaction")); err != nil {
		t.Fatal(err)
	}
	replica := openCore(t, ac, CoreOptions{Key: make([]byte, 32)}) // nobody holds it
	local := alice.node.Local()
	remote := ac.api
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second) // the server answers at 90%: leave the margin a loaded machine needs
		t.Cleanup(cancel)
		return c
	}
	cases := []struct {
		name string
		want error
		run  func(ctx context.Context, b peer.Backend) error
	}{
		{"unknown name", peer.ErrNoSuchName, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpInfo, peer.CoreRef{Ref: "no-such-core"})
			return err
		}},
		{"append to a replica", ErrReadOnly, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpAppend, peer.AppendRequest{Ref: replica.ref, Blocks: [][]byte{{1}}})
			return err
		}},
		{"bad key", ErrBadKey, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpCoreOpen, peer.OpenRequest{Key: "abc"})
			return err
		}},
		{"read past the end", ErrOutOfRange, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Stream(ctx, b, peer.OpCoreRead, peer.ReadRequest{Ref: own.ref, End: 5}, nil)
			return err
		}},
		{"transact on a raw core", ErrRawCore, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpTransact, peer.TransactRequest{Ref: own.ref, Tx: `[{"db/id":"a/1","a/b":1}]`})
			return err
		}},
		{"malformed transaction", ErrBadJSON, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpTransact, peer.TransactRequest{Ref: "people", Tx: `[{`})
			return err
		}},
		{"unknown client session", peer.ErrNoSession, func(ctx context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpCoreOpen, peer.OpenRequest{Session: "nope", Name: "x"})
			return err
		}},
		{"no peer holds the core", ErrNoProviders, func(_ context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpCoreReady, peer.WaitRequest{Ref: replica.ref, Timeout: 300 * time.Millisecond})
			return err
		}},
		{"a block nobody has", context.DeadlineExceeded, func(_ context.Context, b peer.Backend) error {
			_, err := peer.Call(ctx, b, peer.OpCoreGet, peer.GetRequest{Ref: replica.ref, Index: 3, Timeout: 300 * time.Millisecond})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.run(short(), local)
			out := tc.run(short(), remote)
			if !errors.Is(in, tc.want) || !errors.Is(out, tc.want) {
				t.Fatalf("inside: %v\nthrough the API: %v\nboth must match %v", in, out, tc.want)
			}
			for name, s := range sentinels {
				if errors.Is(in, s) != errors.Is(out, s) {
					t.Errorf("errors.Is(err, %s): %v inside, %v through the API (%v / %v)", name, errors.Is(in, s), errors.Is(out, s), in, out)
				}
			}
		})
	}

	// And through the SDK's own calls.
	if _, err := replica.Append(ctx, []byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append on a Key core: %v", err)
	}
	if err := replica.Ready(short()); !errors.Is(err, ErrNoProviders) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ready of a core nobody holds: %v", err)
	}
	var s string
	if err := own.Get(ctx, 0, &s); err != nil || s != "not a transaction" {
		t.Fatalf("Get into *string: %q, %v", s, err)
	}
	var n int
	if err := own.Get(ctx, 0, &n); !errors.Is(err, ErrEncoding) {
		t.Fatalf("Get of a binary block into *int: %v", err)
	}
	if _, err := own.Transact(ctx, `[{"db/id":"a/1","a/b":1}]`); !errors.Is(err, ErrRawCore) {
		t.Fatalf("Transact on a raw core: %v", err)
	}
	if _, err := ac.Corestore().Get(ctx, CoreOptions{Key: []byte{1, 2}}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("Get with a short key: %v", err)
	}
	if _, err := ac.Corestore().Get(ctx, CoreOptions{Name: "x", ValueEncoding: "yaml"}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("Get with an unknown encoding: %v", err)
	}
	ac.Close()
	if _, err := own.Append(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after the client's Close: %v", err)
	}
}

// TestTCPHostNeedsTheToken: a TCP client without the token is refused with ErrUnauthorized, and
// one of the same user finds the token the server wrote.
func TestTCPHostNeedsTheToken(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	s := newServer(t, "127.0.0.1:0")
	if _, err := NewClient(ClientOptions{Host: s.Host(), Token: "0123456789abcdef0123456789abcdef"}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a wrong token: %v", err)
	}
	c, err := NewClient(ClientOptions{Host: s.Host()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	if _, err := NewClient(ClientOptions{Host: s.Host()}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after the server closed, its token file should be gone: %v", err)
	}
}
