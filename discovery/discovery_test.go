package discovery

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHost returns a libp2p host that listens on loopback only.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func addrInfo(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// network starts n DHT nodes; node 0 is the bootstrap peer every other node knows.
func network(t testing.TB, n int) ([]host.Host, []*Discovery) {
	t.Helper()
	ctx := context.Background()
	var hosts []host.Host
	var dhts []*Discovery
	for i := 0; i < n; i++ {
		h := newHost(t)
		var opts []Option
		if i > 0 {
			opts = append(opts, WithBootstrap(addrInfo(hosts[0])))
		}
		d, err := New(ctx, h, append(opts, WithLogger(quiet()))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		hosts, dhts = append(hosts, h), append(dhts, d)
	}
	for _, d := range dhts[1:] {
		if err := d.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return hosts, dhts
}

func TestProviderKey(t *testing.T) {
	// CIDv1, raw codec (0x55), sha2-256 of the discovery key.
	k := ProviderKey(corestore.Key{1})
	if k.Version() != 1 || k.Type() != 0x55 || k.Prefix().MhType != 0x12 {
		t.Fatalf("provider key %s: version %d codec %#x hash %#x", k, k.Version(), k.Type(), k.Prefix().MhType)
	}
	if ProviderKey(corestore.Key{1}) == ProviderKey(corestore.Key{2}) {
		t.Fatal("different keys, same provider key")
	}
}

// TestFindThroughDHT: a reader that knows only the bootstrap peer finds the owner by a DHT
// lookup of the discovery key.
func TestFindThroughDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hosts, dhts := network(t, 8)
	dk := corestore.DiscoveryKey(corestore.Key{42})
	owner, reader := 3, 7
	if err := dhts[owner].Announce(ctx, dk); err != nil {
		t.Fatal(err)
	}
	var found []peer.ID
	for p := range dhts[reader].FindProviders(ctx, dk, 5) {
		found = append(found, p.ID)
	}
	if !slices.Contains(found, hosts[owner].ID()) {
		t.Fatalf("reader found %v, not the owner %s", found, hosts[owner].ID())
	}
	if _, ok := dhts[owner].Announced()[dk]; !ok {
		t.Fatal("announce not recorded")
	}
	// An unannounced key finds nobody.
	none := 0
	nctx, ncancel := context.WithTimeout(ctx, 3*time.Second)
	defer ncancel()
	for range dhts[reader].FindProviders(nctx, corestore.DiscoveryKey(corestore.Key{43}), 5) {
		none++
	}
	if none != 0 {
		t.Fatalf("found %d providers of an unannounced key", none)
	}
}

func TestBootstrapUnreachable(t *testing.T) {
	h := newHost(t)
	dead := newHost(t)
	info := addrInfo(dead)
	dead.Close()
	d, err := New(context.Background(), h, WithBootstrap(info), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := d.Bootstrap(ctx); err == nil {
		t.Fatal("bootstrap to a dead peer succeeded")
	}
}

// TestRoutingPeersSurviveRestart: the routing table's peers are saved in the datastore, and a
// node restarted with no bootstrap config reconnects to them.
func TestRoutingPeersSurviveRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hosts, _ := network(t, 3)
	store := dssync.MutexWrap(ds.NewMapDatastore())
	h := newHost(t)
	d, err := New(ctx, h, WithBootstrap(addrInfo(hosts[0])), WithDatastore(store), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if len(d.DHT().RoutingTable().ListPeers()) == 0 {
		t.Fatal("empty routing table after bootstrap")
	}
	d.Close()
	h.Close()

	h2 := newHost(t)
	d2, err := New(ctx, h2, WithDatastore(store), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if err := d2.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h2.Network().Peers()) == 0 {
		t.Fatal("restarted node reconnected to no saved peer")
	}
}

func TestParseNetwork(t *testing.T) {
	for in, want := range map[string]Network{"": Private, "private": Private, "amino": Amino} {
		if got, err := ParseNetwork(in); err != nil || got != want {
			t.Errorf("ParseNetwork(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseNetwork("ipfs"); err == nil {
		t.Error("accepted an unknown network")
	}
}

// BenchmarkFindProviders: 20 in-process peers on loopback; the median time for a peer that did
// not announce to find the provider of a key through the DHT.
func BenchmarkFindProviders(b *testing.B) {
	ctx := context.Background()
	hosts, dhts := network(b, 20)
	_ = hosts
	var lat []time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for k := 0; k < 10; k++ {
			dk := corestore.DiscoveryKey(corestore.Key{byte(it), byte(k), 7})
			owner := 1 + (it*10+k)%19
			if err := dhts[owner].Announce(ctx, dk); err != nil {
				b.Fatal(err)
			}
			for r := 1; r < 20; r++ {
				if r == owner {
					continue
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				p, ok := <-dhts[r].FindProviders(cctx, dk, 1)
				lat = append(lat, time.Since(t0))
				cancel()
				if !ok || p.ID != hosts[owner].ID() {
					b.Fatalf("peer %d did not find the provider", r)
				}
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}
