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
// A peer runs one Replicator (NewReplicator) for its store on a host (NewHost). Replicate opens
// a session for a core with a peer; Want, Download and Get fetch blocks through the sessions a
// core has, and sessions keep a replica in step with the owner's appends.
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
//   - admission.go: the places for streams that have not finished the capability
//     handshake; warnlimit.go: warnings rate-limited per peer.
//   - access.go: Access, the layer above's say in whom a core is served to, and the
//     Refuse message and Refusal error a refused opener gets; events.go: the session
//     observer (WithSessionObserver); forget.go: Forget, for a deleted core.
//   - request.go: one-request, one-answer protocols on streams of their own
//     (ServeRequests, Ask), which the asset layer's key release and queries use.
//   - host.go: NewHost, a loopback-friendly libp2p host with resource limits and
//     a connection manager.
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
//
// Peers that know nothing cannot lock out those that know a core key. A stream a
// peer opens holds one place until its handshake is done, with no read buffer; it
// must bring its Open within the open timeout (WithOpenTimeout, 3 s). A peer has at
// most 8 such places (WithHandshakeLimits), the peers without a session share 128,
// and the peers with one, which have proved a capability, have a reserve of their
// own. When places run out a stream displaces the oldest one of the peer holding the
// most. Warnings about failed handshakes are logged once per peer per minute with a
// count (WithLogInterval). NewHost's connection manager trims idle connections of
// peers that have proved nothing when connections are many, and the Replicator
// protects the peers it has sessions with. Stats counts the streams in the
// handshake and those refused, displaced, timed out and failed.
//
// Every block an owner can append (at most corestore.MaxBlockSize) fits, with its
// proof, in one message of DefaultMaxMessageSize. A responder with a smaller limit
// sends a shorter prefix of a range, and answers a block it cannot send at all with
// NoData giving NoDataTooLarge; both sides log it.
package protocols
