package main

import (
	"context"
	"fmt"

	"github.com/datomspace/datomspace/peer"
)

func apiCommands() []command {
	return []command{
		{name: "api", usage: "token [--json]",
			summary: "print the bearer token the TCP API (serve --api) requires", run: cmdAPI},
		{name: "dashboard", usage: "[--json]",
			summary: "print the URL of the running node's web dashboard (needs serve --api)", run: cmdDashboard},
	}
}

func cmdAPI(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		return showHelp(e)
	}
	if len(args) == 0 || args[0] != "token" {
		return usagef("api needs a subcommand: token")
	}
	f := newFlags("api token", e).withRepo().withJSON()
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("api token takes no arguments")
	}
	if _, err := peer.Call(ctx, peer.NewLocal(repoPath(f), e.log), peer.OpID, peer.None{}); err != nil {
		return err // no repo here
	}
	tok, err := peer.LoadAPIToken(repoPath(f))
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]string{"token": tok})
	}
	fmt.Fprintln(e.stdout, tok)
	return nil
}

func cmdDashboard(ctx context.Context, e *env, args []string) error {
	f := newFlags("dashboard", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "dashboard takes no arguments"), func(b peer.Backend, pos []string) error {
		id, err := peer.Call(ctx, b, peer.OpID, peer.None{})
		if err != nil {
			return err
		}
		if !id.Running {
			return fmt.Errorf("no daemon is running for this repo: start one with `datomspace serve --api 127.0.0.1:5001`")
		}
		if len(id.API) == 0 {
			return fmt.Errorf("the running daemon serves no TCP API: restart it with `datomspace serve --api 127.0.0.1:5001`")
		}
		tok, err := peer.LoadAPIToken(repoPath(f))
		if err != nil {
			return err
		}
		url := peer.DashboardURL(id.API[0], tok)
		if *f.json {
			return printJSON(e.stdout, map[string]string{"url": url})
		}
		fmt.Fprintln(e.stdout, url)
		return nil
	})
}
