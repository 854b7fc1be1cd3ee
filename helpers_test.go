package datomspace

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newServer starts a server on a fresh repo, with a TCP host on loopback unless host is given,
// and waits until it is ready. t.Cleanup closes it.
func newServer(t testing.TB, host string, bootstrap ...string) *Server {
	t.Helper()
	if host == "" {
		host = "127.0.0.1:0"
	}
	s, err := NewServer(ServerOptions{Storage: filepath.Join(t.TempDir(), "repo"), Host: host,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: bootstrap, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Ready(tctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return s
}

func newClient(t testing.TB, s *Server) *Client {
	t.Helper()
	c, err := NewClient(ClientOptions{Host: s.Host()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openCore(t testing.TB, c *Client, opts CoreOptions) *Core {
	t.Helper()
	core, err := c.Corestore().Get(tctx(t, 30*time.Second), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	return core
}

func tctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func isErr(err, target error) bool { return errors.Is(err, target) }
