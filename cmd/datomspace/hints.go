package main

import (
	"errors"
	"strings"
	"syscall"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/dwn"
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
	{peer.ErrDWNAddrInUse, "is another `datomspace serve --dwn` (or a dwn-server) running on it? Stop it, or give another address with --dwn"},
	{peer.ErrDOIPAddrInUse, "is another `datomspace serve --doip` running on it? Stop it, or give another address with --doip or --doip21"},
	{peer.ErrAddrInUse, "is another `datomspace serve` running? Stop it, or give another port with --listen"},
	{peer.ErrNoProviders, "check that its owner or a replica runs `datomspace serve`, that --bootstrap points at a running peer, or pass --peer ADDR"},
	{asset.ErrNoGrant, "ask the asset's owner for a grant: `datomspace grant ASSET PEER-ID`, with the peer ID `datomspace id` prints here"},
	{asset.ErrGrantExpired, "ask the asset's owner for a new grant"},
	{asset.ErrGrantRevoked, "the owner revoked it; ask for a new grant"},
	{asset.ErrGrantNotYetValid, "the grant starts later (see its --not-before)"},
	{asset.ErrGrantsStale, "the peer that serves it has not heard from the owner within the grant's max-stale: try the owner's peer, or later"},
	{asset.ErrCatalogNotHeld, "the peer that serves it does not hold the asset's catalog and grants yet: try the owner's peer, or later"},
	{asset.ErrComputeOnly, "query it instead: `datomspace asset query CORE QUERY`"},
	{asset.ErrQueryNotAllowed, "`datomspace asset show NAME --catalog KEY` lists what the asset allows"},
	{asset.ErrNotOwner, "only the peer that writes a core can make it an asset"},
	{corestore.ErrNoEncryptionKey, "the owner releases the key to peers with a read grant; with the key at hand, run `datomspace setkey CORE --encryption-key HEX`"},
	{corestore.ErrWrongEncryptionKey, "the key does not match the core's key check value: check the key"},
	{peer.ErrNoDOIPProviders, "check that a node serving the prefix runs `datomspace serve --doip ...`, and that --bootstrap points at a running peer"},
	{doip.ErrReadOnly, "this node serves a read-only replica of that repository: write to its owner's service"},
	{doip.ErrUnauthenticated, "authenticate with --token, which the service's owner prints with `datomspace doip token`, or with --user and --password"},
	{doip.ErrForbidden, "the service's owner must allow it: `serve --doip-allow-join ID` or `--doip-allow-create ID`, or an ACL that names you"},
	{peer.ErrBadDID, "a tenant is a DID, such as the did:key `datomspace dwn key` prints"},
	{peer.ErrNoDWN, "the daemon serves no DWN: restart it with `datomspace serve --dwn 127.0.0.1:PORT` or `--dwn-tenant DID`, or hold a tenant with `datomspace dwn tenant add DID`"},
	{peer.ErrNoDWNNodes, "check that a node holding the tenant runs `datomspace serve --dwn-tenant DID`, and that --bootstrap points at a running peer"},
	{dwn.ErrNodeAuthorization, "the tenant signs each of its nodes' authorization: `datomspace dwn authorize DID PEER-ID --key FILE`, with the PEER-ID `datomspace id` prints on the node"},
	{peer.ErrDWNRPC, "the DWN refused the request before judging the message: check the message, and --url or --peer"},
	{doip.ErrPin, "the service's key is not the one --pin names: check the address, or drop --pin"},
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
