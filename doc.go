// Package datomspace is the Go SDK of datomspace, a peer-to-peer data space: owners keep data in
// cores, signed append-only logs byte-compatible with Hypercore 11, which readers find through a
// DHT by key, replicate block by block over libp2p and verify against the owner's signature.
//
// # Servers and clients
//
// A [Server] runs a node on its storage (a repo directory, created on first use with a new
// identity): the libp2p host, the DHT, replication, the datom indexes, and the local API that
// clients use. A [Client] dials a server by its host: a bare name (a unix socket in the user's
// runtime directory), a socket path, or 127.0.0.1:PORT (the TCP API, whose token the client finds
// on its own). [Server.On] reports clients as they come and go: local clients of the host, and
// remote peers that replicate with the server.
//
//	alice, _ := datomspace.NewServer(datomspace.ServerOptions{Storage: dir, Host: "alice"})
//	alice.On("client-open", func(e datomspace.Event) { log.Println("client", e.Remote, e.Peer) })
//	client, _ := datomspace.NewClient(datomspace.ClientOptions{Host: "alice"})
//
// # Cores and sessions
//
// [Client.Corestore] is the server's store of cores; [Corestore.Get] opens a [Core] session on
// a core by Name (one of the server's own, writable, created on first use) or by Key (someone
// else's), with a value encoding: "binary" (the default), "utf-8" or "json".
//
//	contacts, _ := client.Corestore().Get(ctx, datomspace.CoreOptions{Name: "contacts", ValueEncoding: "json"})
//	contacts.Append(ctx, Contact{"Bob", "bob@example.com"})
//	key := contacts.Key() // what a reader needs
//
// A Key core is a session with the peers that hold it, not a download: [Core.Ready] waits for
// its signed length, and [Core.Get] fetches just the block it asks for, with its proof, waiting
// for it when it is not appended yet (Hypercore's get(i, {wait: true})). [Core.Read] yields a
// range, and with Live every later block too (createReadStream({live: true})); [Core.Appends]
// yields the length as the owner appends (on('append')).
//
//	core, _ := reader.Corestore().Get(ctx, datomspace.CoreOptions{Key: key, ValueEncoding: "json"})
//	core.Ready(ctx)
//	var c Contact
//	core.Get(ctx, 0, &c)
//
// # Datoms
//
// A core can also be a datom database, its blocks transactions of facts (entity, attribute,
// value): [Core.Transact] on one of the server's own cores, and [Core.Pull] and [Core.Query] on
// any, including a Key core, whose datoms a reader's queries see as soon as Ready returns. See
// package datom for the JSON forms of transactions and queries.
//
// # Errors and lifetimes
//
// Errors are sentinel values wrapped with context ([ErrNotFound], [ErrReadOnly],
// [ErrNoProviders], ...), and errors.Is answers the same through a client as inside the server.
// Everything blocking takes a context. [Server.Close] stops everything the server started and
// waits for it; [Client.Close] ends the client's session, and [Core.Close] the core's.
//
// The SDK is thin: package peer does the work, and its operations are the same ones the CLI runs.
package datomspace
