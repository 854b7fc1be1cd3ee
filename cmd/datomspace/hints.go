package main

import (
	"errors"
	"strings"
	"syscall"

	"github.com/datomspace/datomspace/corestore/blobs"
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
	{peer.ErrAddrInUse, "is another `datomspace serve` running? Stop it, or give another port with --listen"},
	{peer.ErrNoProviders, "check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR"},
	{blobs.ErrHashMismatch, "the peer that sent it was disconnected and is not asked again; another provider (--peer ADDR, or the DHT) can serve the blob"},
	{peer.ErrNoBlobProviders, "check that a peer that holds it runs `datomspace serve` (or `ipfs daemon`), that --bootstrap points at a running peer, or pass --peer ADDR"},
	{syscall.ENOSPC, "free some space, or remove the blobs nothing keeps with `datomspace gc`; nothing half-written was pinned"},
	{blobs.ErrInvalidCID, "a CID is what `datomspace add` or `ipfs add --cid-version=1` prints, such as bafybei... or Qm..."},
	{blobs.ErrUnsupported, "blobs are UnixFS files of dag-pb and raw blocks hashed with sha2-256, as `ipfs add` makes them"},
	{blobs.ErrIncomplete, "fetch the rest with `datomspace get CID`"},
	{blobs.ErrNotFound, "fetch it with `datomspace get CID`"},
	{blobs.ErrTooLarge, "the repo's limit is blobMaxSize in its config.json; a datom value too large to resolve is written to a file by `datomspace get CID --out FILE`"},
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
