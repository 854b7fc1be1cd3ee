// Package peer assembles one datomspace node around a repo, and gives every command and client
// the same operations whether a daemon runs or not.
//
// A repo (repo.go) is the directory that holds the config, the libp2p identity, the API token and
// the store. A Node (node.go) runs on it: the libp2p host, the DHT, the replicator and the datom
// indexer, with its work split by concern: fetching (fetch.go), following replicas (follow.go)
// and announcing, from one place, every core the node serves (announce.go). Every goroutine a node
// starts is tracked and waited for by Close.
//
// Operations (op.go) are defined once, as an Op or a StreamOp, and run three ways: on the repo
// directly through a Local (local.go) when no daemon runs, in a daemon behind the local API
// (api.go, POST /v1/{name}), and through a Client (client.go) of that API. Errors keep their
// identity across the API (errors.go): the API carries the codes of the sentinels an error wraps,
// and the client maps them back, so errors.Is answers the same on both sides. The operations are
// grouped by feature (ops_cores.go, ops_datoms.go, ops_fetch.go, ops_session.go, ops_blobs.go,
// ops_doip*.go, ops_assets.go, ops_encryption.go, ops_dwn.go) and listed in routes.go. The asset layer of a
// node (assets.go: grants enforced by the replicator, key release and queries) is described there.
//
// With WithDOIP a node runs a DOIP service (package doip) on its repository core "doip": over TLS,
// DOIP 2.1 and the libp2p tunnel /datomspace/doip/2.0.0 (doip.go), and serves read-only the
// replicas of other nodes' repositories it holds, fetching their element bytes
// (doip_replicas.go). Element bytes are the repo's blobs (blobs.go, Repo.Blobs).
//
// With WithDWN a node runs a Decentralized Web Node (package dwn, on cores with dwn/dwncore):
// dwn-server's JSON-RPC over HTTP and WebSocket, and the same on the libp2p protocol
// /datomspace/dwn/1.0.0 (dwn.go). It holds the tenants the repo's config lists, journals every
// message it accepts for one in its own core for the tenant, and syncs each tenant with the
// tenant's other nodes (dwn_sync.go): they find each other in the DHT under the tenant's
// discovery key, follow each other's tenant cores live and ingest what they find there, fetching
// large record data as blobs. The CLI builds and signs messages in its own process
// (dwn_messages.go, dwn_keys.go); OpDWN carries them to this node's DWN, a peer's or a URL's.
//
// Blobs (blobs.go): the repo's blob store (Repo.Blobs, corestore/blobs) is a service of the node
// that other features use (Node.Blobs, Local.Blobs without a daemon): the node serves it with
// bitswap and the fast path on its host, announces every blob it holds from announce.go, fetches
// blobs from their providers (FetchBlob), and keeps large datom values in it. GC keeps pinned
// blobs and those that the repo's records (datoms, DWN records) refer to (blobRootSets) or a
// running service registered (AddBlobRoots).
//
// Client sessions (ops_session.go, sessions.go) are what the SDK (package datomspace) runs on: a
// local client holds one stream operation open for its lifetime (OpClient) and opens cores in it;
// a replica it opens by key is a set of replication sessions with the peers that hold it, kept
// open while the client holds it, and its blocks are downloaded one read at a time (OpCoreGet,
// OpCoreRead), each with its proof, not the whole core. A node reports its clients, local and
// remote (peers with replication sessions), as Events to WithEvents (events.go).
//
// The API listens on a unix socket in the repo (mode 0600), optionally on more unix sockets
// (WithUnixSocket), and optionally on a loopback TCP port that requires the repo's bearer token
// and refuses foreign hosts and origins.
package peer
