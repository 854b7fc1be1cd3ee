// Package blobsync exchanges blobs (corestore/blobs) between peers over libp2p.
//
// A Service on a node's host serves the node's blocks two ways: with boxo's bitswap, so that
// Kubo and any other IPFS node connected to it can fetch its blobs, and on the fast path,
// /datomspace/blobs/1.0.0, between datomspace peers: the client writes requests of up to
// MaxWants CIDs and keeps a few in flight; the server answers each request in order, block by
// block, on the same stream (see ProtocolID for the wire format).
//
// Fetch gets a blob from several providers at once. It asks the store which blocks it lacks
// (so an interrupted fetch resumes without fetching held blocks again), then hands batches of
// them to one worker per provider: a fast-path stream for a datomspace peer, one bitswap
// session for everyone else (Kubo). A scheduler (pure: no I/O, tested on its own) queues inner
// nodes first, never gives a worker a block its provider said it lacks, and lets idle workers
// take over the blocks a slow provider has owed too long, so a stalling provider delays a fetch
// by a fraction of the stall timeout. Every block is checked as it arrives against its CID and
// the store's limits (blobs.DecodeWant): a provider that sends bytes not matching the CID asked
// for is disconnected and banned, and its blocks are asked of the others; a block that matches
// its CID but breaks the DAG's rules (sizes that do not add up, too deep, too large) ends the
// fetch, since every provider would send the same bytes. Checked blocks are written by two
// writer goroutines through a short queue, so memory stays a few MiB whatever the blob's size.
//
// Providers come from Fetch's options: addresses (WithPeers), a DHT lookup
// (WithFindProviders, discovery.FindBlobProviders), or else the peers connected.
package blobsync
