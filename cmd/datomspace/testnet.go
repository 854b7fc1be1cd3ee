package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/datomspace/datomspace/testnet"
)

func testnetCommands() []command {
	return []command{
		{name: "testnet", usage: "up [--peers N] [--dir DIR] [--json] | down [--dir DIR]",
			summary: "run a local multi-peer testnet on 127.0.0.x, without Docker", run: cmdTestnet},
	}
}

func cmdTestnet(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		return showHelp(e)
	}
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return usagef("testnet needs up or down")
	}
	f := newFlags("testnet "+args[0], e).withJSON()
	dir := f.String("dir", filepath.Join(os.TempDir(), "datomspace-testnet"), "where the peers' repos and logs go")
	peers := f.Int("peers", 0, "extra plain peers beyond bootstrap, owner, reader and replica")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("testnet %s takes no arguments", args[0])
	}
	if args[0] == "down" {
		if err := testnet.Down(*dir); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "testnet in %s stopped\n", *dir)
		return nil
	}
	if *peers < 0 || *peers > 200 {
		return fmt.Errorf("--peers must be between 0 and 200")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	l, err := testnet.Up(ctx, *dir, bin, *peers)
	if err != nil {
		return err
	}
	for _, n := range l.Nodes() {
		if *f.json {
			printJSON(e.stdout, n)
			continue
		}
		fmt.Fprintf(e.stdout, "%-10s repo %s\n           addr %s\n", n.Name, n.Repo, n.Addrs[0])
	}
	if !*f.json {
		fmt.Fprintf(e.stdout, "\ntry:  datomspace create notes --repo %s/owner\n", *dir)
		fmt.Fprintf(e.stdout, "      datomspace get KEY --repo %s/reader\n", *dir)
		fmt.Fprintf(e.stdout, "stop: datomspace testnet down --dir %s\n", *dir)
	}
	return nil
}
