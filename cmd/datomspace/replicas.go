package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/peer"
)

func replicaCommands() []command {
	return []command{
		{name: "follow", usage: "KEY [--json]", summary: "keep a replica up to date whenever the node runs (recorded in the repo)", run: cmdFollow,
			args: "  KEY   the core's key"},
		{name: "unfollow", usage: "KEY [--json]", summary: "stop keeping a replica up to date; what it holds stays", run: cmdUnfollow,
			args: "  KEY   the core's key"},
		{name: "rm", usage: "KEY|NAME [--yes] [--json]", summary: "delete a replica, or an empty core of your own, from the repo", run: cmdRemove,
			args: "  KEY|NAME   the core: a replica (it can be fetched again), or an empty writable core"},
	}
}

func cmdFollow(ctx context.Context, e *env, args []string) error   { return follow(ctx, e, args, false) }
func cmdUnfollow(ctx context.Context, e *env, args []string) error { return follow(ctx, e, args, true) }

func follow(ctx context.Context, e *env, args []string, stop bool) error {
	f := newFlags(e.cmd.name, e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(1, e.cmd.name+" takes one KEY"), func(b peer.Backend, pos []string) error {
		res, err := peer.Call(ctx, b, peer.OpFollow, peer.FollowRequest{Key: pos[0], Stop: stop})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, res)
		}
		switch {
		case stop:
			fmt.Fprintf(e.stdout, "no longer following %s\n", pos[0])
		case b.Daemon():
			fmt.Fprintf(e.stdout, "following %s: the running node keeps it up to date\n", pos[0])
		default:
			fmt.Fprintf(e.stdout, "following %s: `datomspace serve` keeps it up to date\n", pos[0])
		}
		return nil
	})
}

func cmdRemove(ctx context.Context, e *env, args []string) error {
	f := newFlags("rm", e).withRepo().withJSON()
	yes := f.Bool("yes", false, "do not ask for confirmation")
	return f.withBackend(ctx, e, args, nargs(1, "rm takes one KEY|NAME"), func(b peer.Backend, pos []string) error {
		in, err := peer.Call(ctx, b, peer.OpInfo, peer.CoreRef{Ref: pos[0]})
		if err != nil {
			return err
		}
		if in.Writable && in.Length > 0 {
			return fmt.Errorf("core %s is your own and holds %s: rm deletes only replicas and empty cores", in.Key, count(int(in.Length), "block"))
		}
		if !*yes {
			if !isTerminal(e.stdin) {
				return usagef("rm asks for confirmation on a terminal; pass --yes to delete without asking")
			}
			what := "replica"
			if in.Writable {
				what = "empty core"
			}
			fmt.Fprintf(e.stderr, "delete %s %s (length %d, %d held here)? [y/N] ", what, in.Key, in.Length, in.Held)
			line, _ := bufio.NewReader(e.stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				fmt.Fprintln(e.stderr, "nothing deleted")
				return nil
			}
		}
		res, err := peer.Call(ctx, b, peer.OpRemove, peer.RemoveRequest{Ref: pos[0]})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, res)
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", res.Key)
		return nil
	})
}
