package doip

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/doip/wire"
)

func TestServiceInfo(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "info", nil)
	_, addr, _ := n.serve(t, WithPeerInfo(func() PeerInfo {
		return PeerInfo{PeerID: "12D3KooWx", Multiaddrs: []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx"}}
	}),
		WithServiceName("test repository", "for tests"))
	c := n.dial(t, addr)
	do, err := c.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	si, err := ParseServiceInfo(do)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if si.ID != "info/service" || si.Type != "0.TYPE/DOIPService" || si.IPAddress != host || si.Protocol != "TCP" || si.ProtocolVersion != "2.0" ||
		!si.PublicKey.Equal(n.key.Public().(ed25519.PublicKey)) || si.PeerID != "12D3KooWx" || si.Prefix != "info" || si.Name != "test repository" {
		t.Fatalf("service info %+v", si)
	}
	if urls := si.URLs(); !slices.Equal(urls, []string{"doip://" + host + ":" + port, "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx"}) {
		t.Fatalf("urls %v", urls)
	}
	ops, err := c.ListOperations(ctx, "")
	if err != nil || !slices.Contains(ops, OpJoin) || !slices.Contains(ops, OpSearch) {
		t.Fatalf("service operations %v %v", ops, err)
	}
	if _, err := c.ListOperations(ctx, "info/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("operations of a missing object: %v", err)
	}
	if PrefixOf("20.500.123/abc") != "20.500.123" || PrefixOf("abc") != "" {
		t.Fatal("PrefixOf")
	}
	if PrefixDiscoveryKey("a") == PrefixDiscoveryKey("b") || PrefixDiscoveryKey("a") != PrefixDiscoveryKey("a") {
		t.Fatal("PrefixDiscoveryKey")
	}
}

// failing is a Processor that fails as a broken backend would.
type failing struct{ panics bool }

func (f failing) Process(ctx context.Context, req *Request, w ResponseWriter) error {
	if f.panics {
		panic("boom")
	}
	return errors.New("disk on fire at /secret/path")
}

// An unexpected error is answered 500 with Cordra's message, never its text, and a panic too.
func TestStatus500(t *testing.T) {
	for _, panics := range []bool{false, true} {
		srv, _ := NewServer(failing{panics}, WithServerLogger(quiet()))
		a, b := net.Pipe()
		go srv.ServeConn(context.Background(), a, ConnInfo{})
		c, _ := NewClient(b)
		resp, err := c.Do(testCtx(t), Call{TargetID: "x", OperationID: OpRetrieve})
		if err != nil {
			t.Fatal(err)
		}
		var se *ErrStatus
		if !errors.As(resp.Err(), &se) || se.Status != wire.StatusOther || se.Message != unexpected || strings.Contains(se.Message, "secret") {
			t.Fatalf("panics=%v: %v", panics, resp.Err())
		}
		resp.Close()
		c.Close()
		srv.Close()
	}
}
