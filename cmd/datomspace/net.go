package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/peer"
)

func netCommands() []command {
	return []command{
		{name: "serve", usage: "[--listen MULTIADDR]... [--bootstrap MULTIADDR]... [--peer MULTIADDR]... [--network private|amino] [--mdns] [--api 127.0.0.1:PORT] [--doip HOST:PORT] [--doip21 HOST:PORT] [--doip-prefix PREFIX] [--dwn HOST:PORT] [--dwn-tenant DID]... [--json]",
			summary: "run the node: serve and announce cores, answer the local API", run: cmdServe},
		{name: "get", usage: "KEY|CID [--start N] [--end N] [--live] [--follow] [--timeout DUR] [--out FILE] [--bootstrap MULTIADDR]... [--peer MULTIADDR]... [--ephemeral] [--pin] [--json]",
			summary: "find a core or a blob through the DHT, download and verify it, print it", run: cmdGet,
			args: "  KEY   the core's key: 64 hex characters (or z-base32), as `datomspace create` or `info` print it\n  CID   a blob's CID, as `datomspace add` or `ipfs add --cid-version=1` print it: fetched from all its\n        providers at once, verified block by block; an interrupted get resumes"},
		{name: "id", usage: "[--json]",
			summary: "show this peer's ID and addresses", run: cmdID},
		{name: "peers", usage: "[--json]",
			summary: "list connected peers (needs a running daemon)", run: cmdPeers},
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdServe(ctx context.Context, e *env, args []string) error {
	f := newFlags("serve", e).withRepo().withJSON()
	var listen, boot, peers stringList
	f.Var(&listen, "listen", "libp2p listen multiaddr (repeatable; default from config: /ip4/127.0.0.1/tcp/0)")
	f.Var(&boot, "bootstrap", "DHT bootstrap peer, a full multiaddr with /p2p/ (repeatable)")
	f.Var(&peers, "peer", "peer to dial directly, bypassing the DHT (repeatable)")
	network := f.String("network", "", "DHT preset: private (default) or amino (the public IPFS DHT)")
	mdns := f.Bool("mdns", false, "discover peers on the LAN with mDNS")
	api := f.String("api", "", "also serve the local API on this loopback TCP address, e.g. 127.0.0.1:5001")
	initRepo := f.Bool("init", false, "create the repo first if there is none (for containers and scripts)")
	var follow stringList
	f.Var(&follow, "follow", "replicate this core KEY and keep following it (repeatable)")
	doipTLS := f.String("doip", "", "serve DOIP 2.0 over TLS on this address, e.g. 127.0.0.1:9000 (and on the libp2p tunnel)")
	doip21 := f.String("doip21", "", "serve BDWare's DOIP 2.1 over TCP on this address")
	doipPrefix := f.String("doip-prefix", "", "the prefix of this node's DOIP ids, saved in the repo (default: the peer ID); alone, serves DOIP on the libp2p tunnel only")
	var joiners, creators stringList
	f.Var(&joiners, "doip-allow-join", "a client id (peer ID, did:key, user) that may join this DOIP service, or * for any authenticated client (repeatable)")
	f.Var(&creators, "doip-allow-create", "a client id that may create DOIP objects here (repeatable)")
	dwnHTTP := f.String("dwn", "", "serve a DWN (dwn-server's JSON-RPC and WebSocket) on `HOST:PORT`, e.g. 127.0.0.1:3000 (and on the libp2p protocol)")
	var dwnTenants stringList
	f.Var(&dwnTenants, "dwn-tenant", "hold the DWN tenant `DID`: accept its messages (only those of the tenants held) and sync it with its other nodes; saved in the repo (repeatable)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("serve takes no arguments")
	}
	for _, d := range dwnTenants {
		if err := peer.CheckDID(d); err != nil {
			return usagef("--dwn-tenant: %s", err)
		}
	}
	for _, k := range follow {
		if _, err := peer.ParseCoreKey(k); err != nil {
			return fmt.Errorf("--follow: %w", err)
		}
	}
	if *doipPrefix != "" {
		if err := peer.CheckDOIPPrefix(*doipPrefix); err != nil {
			return usagef("--doip-prefix: %s", err)
		}
	}
	doipOn := *doipTLS != "" || *doip21 != "" || *doipPrefix != ""
	if !doipOn && (len(joiners) > 0 || len(creators) > 0) {
		return usagef("--doip-allow-join and --doip-allow-create need DOIP: add --doip HOST:PORT")
	}
	r, err := peer.OpenRepo(ctx, repoPath(f), peer.WithRepoLogger(e.log))
	if errors.Is(err, peer.ErrNoRepo) && *initRepo {
		r, err = peer.InitRepo(ctx, repoPath(f), peer.WithRepoLogger(e.log))
	}
	if err != nil {
		return err
	}
	opts := []peer.NodeOption{peer.WithNodeLogger(e.log), peer.WithMDNS(*mdns)}
	if *dwnHTTP != "" || len(dwnTenants) > 0 || len(r.Config.DWN.Tenants) > 0 {
		opts = append(opts, peer.WithDWN(peer.DWNOptions{HTTP: *dwnHTTP, Tenants: dwnTenants}))
	}
	if len(listen) > 0 {
		opts = append(opts, peer.WithListen(listen...))
	}
	if len(boot) > 0 {
		opts = append(opts, peer.WithBootstrapAddrs(boot...))
	}
	if len(peers) > 0 {
		opts = append(opts, peer.WithDirectPeers(peers...))
	}
	if doipOn {
		opts = append(opts, peer.WithDOIP(peer.DOIPOptions{TLS: *doipTLS, TCP21: *doip21, Prefix: *doipPrefix,
			Joiners: joiners, Creators: creators}))
	}
	if *network != "" {
		n, err := discovery.ParseNetwork(*network)
		if err != nil {
			r.Close()
			return err
		}
		opts = append(opts, peer.WithNetwork(n))
	}
	n, err := peer.NewNode(ctx, r, opts...)
	if err != nil {
		r.Close()
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	a, err := peer.NewAPI(n, peer.WithTCP(*api))
	if err != nil {
		return err
	}
	for _, k := range follow {
		key, _ := peer.ParseCoreKey(k)
		if err := n.Follow(key); err != nil {
			return err
		}
	}
	cores, err := n.Cores(ctx)
	if err != nil {
		return err
	}
	doipInfo, doipRuns := n.DOIP()
	dwnInfo, dwnRuns := n.DWN(ctx)
	held, err := n.Blobs().Roots(ctx)
	if err != nil {
		return err
	}
	if *f.json {
		out := map[string]any{"peerID": n.ID().String(), "addrs": n.Addrs(), "api": a.Addrs(), "cores": cores, "blobs": len(held)}
		if doipRuns {
			out["doip"] = doipInfo
		}
		if dwnRuns {
			out["dwn"] = dwnInfo
		}
		printJSON(e.stdout, out)
	} else {
		fmt.Fprintf(e.stdout, "peer ID  %s\n", n.ID())
		for _, addr := range n.Addrs() {
			fmt.Fprintf(e.stdout, "address  %s\n", addr)
		}
		fmt.Fprintf(e.stdout, "api      %s\n", strings.Join(a.Addrs(), ", "))
		if len(cores) == 0 {
			fmt.Fprintln(e.stdout, "serving no cores yet (create one with `datomspace create NAME`)")
		}
		for _, c := range cores {
			fmt.Fprintf(e.stdout, "serving  %s  length %d  %s\n", c.Key, c.Length, c.Name)
		}
		if doipRuns {
			printDOIPInfo(e.stdout, doipInfo)
		}
		if dwnRuns {
			printDWNInfo(e.stdout, dwnInfo)
		}
		if len(held) > 0 {
			fmt.Fprintf(e.stdout, "serving  %s, to datomspace and IPFS peers (bitswap)\n", count(len(held), "blob"))
		}
		fmt.Fprintln(e.stdout, "readers: datomspace get KEY --bootstrap ADDRESS   (Ctrl-C stops)")
	}
	if fl, ok := e.stdout.(interface{ Sync() error }); ok {
		fl.Sync()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Close(sctx)
	fmt.Fprintln(e.stderr, "datomspace serve: stopped")
	return nil
}

func cmdID(ctx context.Context, e *env, args []string) error {
	f := newFlags("id", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "id takes no arguments"), func(b peer.Backend, pos []string) error {
		id, err := peer.Call(ctx, b, peer.OpID, peer.None{})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, id)
		}
		fmt.Fprintf(e.stdout, "peer ID  %s\n", id.PeerID)
		for _, a := range id.Addrs {
			fmt.Fprintf(e.stdout, "address  %s\n", a)
		}
		if !id.Running {
			fmt.Fprintln(e.stdout, "(not running: `datomspace serve` starts the node)")
		}
		return nil
	})
}

func cmdPeers(ctx context.Context, e *env, args []string) error {
	f := newFlags("peers", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "peers takes no arguments"), func(b peer.Backend, pos []string) error {
		ps, err := peer.Call(ctx, b, peer.OpPeers, peer.None{})
		if err != nil {
			return err
		}
		for _, p := range ps {
			if *f.json {
				printJSON(e.stdout, p)
				continue
			}
			fmt.Fprintf(e.stdout, "%s  %s  score %d\n", p.ID, strings.Join(p.Addrs, ","), p.Score)
		}
		if len(ps) == 0 && !*f.json {
			fmt.Fprintln(e.stdout, "no connected peers")
		}
		return nil
	})
}
