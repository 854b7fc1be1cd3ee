package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/peer"
)

func init() {
	register(command{"serve", "[--listen MULTIADDR]... [--bootstrap MULTIADDR]... [--peer MULTIADDR]... [--network private|amino] [--mdns] [--api 127.0.0.1:PORT] [--json]",
		"run the node: serve and announce cores, answer the local API", cmdServe})
	register(command{"get", "KEY [--start N] [--end N] [--live] [--timeout DUR] [--out FILE] [--bootstrap MULTIADDR]... [--peer MULTIADDR]... [--ephemeral] [--json]",
		"find a core through the DHT, download and verify it, print its blocks", cmdGet})
	register(command{"id", "[--json]", "show this peer's ID and addresses", cmdID})
	register(command{"peers", "[--json]", "list connected peers (needs a running daemon)", cmdPeers})
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
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("serve takes no arguments")
	}
	for _, k := range follow {
		if _, err := peer.ParseCoreKey(k); err != nil {
			return fmt.Errorf("--follow: %w", err)
		}
	}
	r, err := peer.OpenRepo(ctx, repoPath(f), peer.WithRepoLogger(e.log))
	if errors.Is(err, peer.ErrNoRepo) && *initRepo {
		r, err = peer.InitRepo(ctx, repoPath(f), peer.WithRepoLogger(e.log))
	}
	if err != nil {
		return err
	}
	opts := []peer.NodeOption{peer.WithNodeLogger(e.log), peer.WithMDNS(*mdns)}
	if len(listen) > 0 {
		opts = append(opts, peer.WithListen(listen...))
	}
	if len(boot) > 0 {
		opts = append(opts, peer.WithBootstrapAddrs(boot...))
	}
	if len(peers) > 0 {
		opts = append(opts, peer.WithDirectPeers(peers...))
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
	if *f.json {
		printJSON(e.stdout, map[string]any{"peerID": n.ID().String(), "addrs": n.Addrs(), "api": a.Addrs(), "cores": cores})
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

func cmdGet(ctx context.Context, e *env, args []string) error {
	f := newFlags("get", e).withRepo().withJSON()
	blockRange := rangeFlags(f, "end block, exclusive (default: the newest length)")
	live := f.Bool("live", false, "keep following the core and print new blocks as they arrive")
	timeout := f.Duration("timeout", 30*time.Second, "how long to look for a peer that holds the core")
	out := f.String("out", "", "write the blocks to FILE instead of standard output")
	ephemeral := f.Bool("ephemeral", false, "download into a temporary repo that is deleted afterwards")
	var boot, peers stringList
	f.Var(&boot, "bootstrap", "DHT bootstrap peer, a full multiaddr with /p2p/ (repeatable)")
	f.Var(&peers, "peer", "peer to dial directly, bypassing the DHT (repeatable)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("get takes one KEY")
	}
	start, end, err := blockRange()
	if err != nil {
		return err
	}
	if _, err := peer.ParseCoreKey(pos[0]); err != nil {
		return err
	}
	var b peer.Backend = peer.EphemeralBackend(e.log)
	if !*ephemeral {
		if b, err = backend(ctx, e, f); err != nil {
			return err
		}
	}
	defer b.Close()
	var w io.Writer = e.stdout
	if *out != "" {
		fh, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer fh.Close()
		w = fh
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	raw := blockPrinter(bw, *f.json)
	table := &datomTable{w: bw, json: *f.json}
	print := func(i uint64, b []byte) error { return table.block(i, b, raw) }
	prog := newProgress(e.stderr, "get")
	req := peer.FetchRequest{Key: pos[0], Start: start, End: end, Live: *live, Timeout: *timeout,
		Bootstrap: boot, Peers: peers, Blocks: true}
	in, err := peer.Stream(ctx, b, peer.OpFetch, req, func(ev peer.FetchEvent) error {
		if p := ev.Progress; p != nil {
			rate := 0.0
			if s := p.Elapsed.Seconds(); s > 0 {
				rate = float64(p.Bytes) / s / 1e6
			}
			prog.update(fmt.Sprintf("%d/%d blocks, %.1f MB, %d peers, %.1f MB/s", p.Blocks, p.Length, float64(p.Bytes)/1e6, p.Peers, rate))
		}
		if blk := ev.Block; blk != nil {
			if err := print(blk.Index, blk.Data); err != nil {
				return err
			}
			if *live {
				return bw.Flush()
			}
		}
		return nil
	})
	prog.done()
	if err != nil {
		if *live && ctx.Err() != nil {
			return nil // the user ended a live follow
		}
		return err
	}
	if *out != "" && !*f.json && in.Key != "" {
		fmt.Fprintf(e.stderr, "wrote blocks %d..%d of %s (verified) to %s\n", start, max(in.Length, 1)-1, in.Key, *out)
	}
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
