package main

import (
	"context"
	"fmt"

	"github.com/datomspace/datomspace/peer"
)

func init() {
	register(command{"api", "token [--json]", "print the bearer token the TCP API (serve --api) requires", cmdAPI})
}

func cmdAPI(ctx context.Context, e *env, args []string) error {
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
