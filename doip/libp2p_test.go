package doip_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

const protoDOIP = "/datomspace/doip/2.0.0"

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHost(t *testing.T) (host.Host, ed25519.PrivateKey) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	key, err := doip.Ed25519FromLibp2p(k)
	if err != nil {
		t.Fatal(err)
	}
	return h, key
}

func newService(t *testing.T, prefix string, key ed25519.PrivateKey, opts ...doip.ServiceOption) *doip.Service {
	t.Helper()
	ctx := context.Background()
	s, err := corestore.Open(ctx, t.TempDir(), corestore.WithLogger(quietLog()), corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := datom.Open(ctx, s, datom.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	core, err := s.Create(ctx, "doip")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := doip.NewRepository(db, core.Key(), doip.NewMemBlobs(), doip.WithPrefix(prefix), doip.WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := doip.NewService(repo, key, append(opts, doip.WithServiceLogger(quietLog()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// serveStreams serves DOIP 2.0 on the host's /datomspace/doip/2.0.0 streams, with the remote
// peer, authenticated by libp2p, as the connection's client.
func serveStreams(t *testing.T, h host.Host, srv *doip.Server) {
	h.SetStreamHandler(protoDOIP, func(s network.Stream) {
		info := doip.ConnInfo{ClientID: s.Conn().RemotePeer().String()}
		if pk := s.Conn().RemotePublicKey(); pk != nil && pk.Type() == crypto.Ed25519 {
			raw, _ := pk.Raw()
			info.PublicKey = raw
		}
		srv.ServeConn(context.Background(), s, info)
	})
}

// dialer opens /datomspace/doip/2.0.0 streams to multiaddrs, and TLS for doip:// URLs.
func dialer(h host.Host, key ed25519.PrivateKey) doip.Dialer {
	return &doip.TLSDialer{Key: key, Multiaddr: doip.DialerFunc(func(ctx context.Context, url string) (io.ReadWriteCloser, error) {
		addr, err := ma.NewMultiaddr(url)
		if err != nil {
			return nil, err
		}
		ai, err := peer.AddrInfoFromP2pAddr(addr)
		if err != nil {
			return nil, err
		}
		if err := h.Connect(ctx, *ai); err != nil {
			return nil, err
		}
		return h.NewStream(ctx, ai.ID, protoDOIP)
	})}
}

// The DOIP service over libp2p streams: a client on another host talks to it through the
// tunnel, authenticated as its peer, and a registry reached over TLS forwards its searches to a
// repository joined with a libp2p multiaddr.
func TestOverLibp2p(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ha, ka := newHost(t)
	hb, kb := newHost(t)
	repo := newService(t, "p2p", ka, doip.WithAuthorizer(doip.OwnerOnly{Creators: []string{hb.ID().String()}}),
		doip.WithPeerInfo(func() doip.PeerInfo {
			var addrs []string
			for _, a := range ha.Addrs() {
				addrs = append(addrs, a.String()+"/p2p/"+ha.ID().String())
			}
			return doip.PeerInfo{PeerID: ha.ID().String(), Multiaddrs: addrs}
		}))
	srvA, _ := doip.NewServer(repo, doip.WithServerLogger(quietLog()))
	defer srvA.Close()
	serveStreams(t, ha, srvA)

	hb.Peerstore().AddAddrs(ha.ID(), ha.Addrs(), time.Hour)
	s, err := hb.NewStream(ctx, ha.ID(), protoDOIP)
	if err != nil {
		t.Fatal(err)
	}
	c, err := doip.NewClient(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hello, err := c.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hello.Attributes), `"peerId":"`+ha.ID().String()+`"`) || !strings.Contains(string(hello.Attributes), "/p2p/") {
		t.Fatalf("hello over libp2p: %s", hello.Attributes)
	}
	if pub := c.PublicKey(); !pub.Equal(ka.Public().(ed25519.PublicKey)) {
		t.Fatal("Hello's key is not host A's")
	}
	// Host B's peer is a creator here, known by the stream alone: no token.
	created, err := c.Create(ctx, &doip.DigitalObject{Type: "Note", Attributes: json.RawMessage(`{"title":"through the tunnel"}`),
		Elements: []doip.Element{{ID: "e"}}}, map[string]io.Reader{"e": strings.NewReader("tunnelled bytes")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(created.Attributes), hb.ID().String()) {
		t.Fatalf("createdBy is not host B: %s", created.Attributes)
	}

	// A registry on host B, reached over TLS, with host A's repository joined by multiaddr.
	reg := newService(t, "regp", kb, doip.WithDialer(dialer(hb, kb)))
	srvB, _ := doip.NewServer(reg, doip.WithServerLogger(quietLog()))
	defer srvB.Close()
	ln, err := doip.ListenTLS("127.0.0.1:0", kb, reg.ID())
	if err != nil {
		t.Fatal(err)
	}
	go srvB.Serve(ln)
	own, err := doip.Dial(ctx, ln.Addr().String(), nil, doip.WithAuth(doip.KeyAuth(kb)), doip.WithPin(kb.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	url := ha.Addrs()[0].String() + "/p2p/" + ha.ID().String()
	if err := own.Join(ctx, repo.ID(), url); err != nil {
		t.Fatal(err)
	}
	res, err := own.Search(ctx, doip.SearchRequest{Query: "tunnel", PageSize: -1, IDsOnly: true})
	if err != nil || res.Size != 1 || res.IDs[0] != created.ID {
		t.Fatalf("search through the registry: %+v %v", res, err)
	}
	rc, err := own.RetrieveElement(ctx, created.ID, "e")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "tunnelled bytes" {
		t.Fatalf("element through the registry %q", b)
	}
}
