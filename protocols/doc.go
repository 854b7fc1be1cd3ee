// Package protocols implements datomspace's core replication protocol,
// /datomspace/sync/1.0.0, over libp2p streams.
//
// One stream carries one core between two peers. It opens with a capability
// handshake that proves both sides know the core key (not just its discovery
// key), bound to both peer IDs, and then runs a Hypercore-style replication
// session: sync (fork, length, signature, contiguous length), request (block
// ranges with proofs and tree upgrades), data (blocks, Merkle nodes and a signed
// upgrade), no-data, want/unwant, range, bitfield and cancel. Messages are
// protobuf (written by hand with protowire; field numbers are in sync.proto),
// framed with a uvarint length and bounded in size.
//
// The package is layered:
//
//   - wire.go: messages, their encoding and framing. No state.
//   - capability.go: the handshake capabilities.
//   - intervals.go, scheduler.go: range sets and the per-core download scheduler
//     that hands different chunks of a core to different peers.
//   - session.go: Session, the replication state machine of one stream. It does
//     no I/O: it consumes messages, local core state and action results, and
//     produces messages to send and actions (serve a request, apply a proof).
//   - replicator.go: the driver that runs sessions over libp2p streams, scores
//     peers and disconnects misbehaving ones, and the public API (Replicate,
//     Download, Get, Want, Stats).
//   - host.go: NewHost, a loopback-friendly libp2p host with resource limits.
//
// Downloads are pulled in chunks (up to 4096 blocks or about 4 MiB, and at most a
// sixteenth of the core so that several peers share it), each one request answered
// by one multi-block proof that corestore verifies and stores in one transaction.
// A session keeps up to Limits.MaxInflight requests outstanding. Block proofs are
// made against the requester's tree, so a tree upgrade first lets the chunks in
// flight land and holds new ones back (drain, upgrade, resume); a live follower that
// is caught up gets a new block in the upgrade itself, one round trip after the
// owner's Sync.
//
// Every block and node a peer sends is verified by corestore against a signed
// tree before it is stored. A peer whose proof or signature fails, that breaks the
// protocol (malformed, unsolicited or oversized messages, request floods) or that
// leaves a request unanswered past Limits.RequestTimeout is disconnected and its
// score drops (Replicator.Score); at the ban score its streams are refused. A
// proof that shows the owner signed two different trees freezes the core and is
// reported to the conflict handler.
package protocols
