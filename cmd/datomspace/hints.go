package main

import (
	"errors"
	"strings"

	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/peer"
)

// hints say what to do next about an error, in the CLI's own terms. The libraries say what went
// wrong; only the CLI knows which command or flag helps.
var hints = []struct {
	err  error
	hint string
}{
	{peer.ErrNoRepo, "run `datomspace init`, or set DATOMSPACE_PATH or --repo to a repo"},
	{peer.ErrNoSuchName, "create it with `datomspace create NAME`, or give a core's 64-hex-character key"},
	{peer.ErrNotRunning, "no daemon is running for this repo: start one with `datomspace serve`"},
	{peer.ErrDOIPAddrInUse, "is another `datomspace serve --doip` running on it? Stop it, or give another address with --doip or --doip21"},
	{peer.ErrAddrInUse, "is another `datomspace serve` running? Stop it, or give another port with --listen"},
	{peer.ErrNoProviders, "check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR"},
	{peer.ErrNoDOIPProviders, "check that a node serving the prefix runs `datomspace serve --doip ...`, and that --bootstrap points at a running peer"},
	{doip.ErrReadOnly, "this node serves a read-only replica of that repository: write to its owner's service"},
	{doip.ErrUnauthenticated, "authenticate with --token, which the service's owner prints with `datomspace doip token`, or with --user and --password"},
	{doip.ErrForbidden, "the service's owner must allow it: `serve --doip-allow-join ID` or `--doip-allow-create ID`, or an ACL that names you"},
	{doip.ErrPin, "the service's key is not the one --pin names: check the address, or drop --pin"},
}

// withHint returns err's message followed by what to do about it, when the CLI knows.
func withHint(err error) string {
	msg := err.Error()
	var ne *peer.NameError
	if errors.As(err, &ne) {
		return msg + " (create it with `datomspace create " + ne.Name + "`, or give a core's 64-hex-character key)"
	}
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return msg + " (" + h.hint + ")"
		}
	}
	if strings.Contains(msg, "the daemon went away") {
		return msg + " (restart it with `datomspace serve`)"
	}
	return msg
}
