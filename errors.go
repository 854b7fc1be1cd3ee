package datomspace

import (
	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/peer"
)

// The errors a program may want to tell apart, with errors.Is. They keep their identity between a
// server and its clients: an error a server returns to a Client matches the same sentinels as it
// did inside the server.
var (
	// ErrNotFound: no such core here (for example a Name core of another server).
	ErrNotFound = corestore.ErrNotFound
	// ErrNotAvailable: a block that is not held here and could not be fetched.
	ErrNotAvailable = corestore.ErrNotAvailable
	// ErrOutOfRange: a read past a core's length that does not wait (a non-live Read).
	ErrOutOfRange = corestore.ErrOutOfRange
	// ErrReadOnly: an append or transaction on someone else's core.
	ErrReadOnly = corestore.ErrReadOnly
	// ErrFrozen: the core's owner signed two different trees; the replica stopped.
	ErrFrozen = corestore.ErrFrozen
	// ErrClosed: the client, or the server, is closed.
	ErrClosed = corestore.ErrClosed
	// ErrBadKey: a core key that is not 32 bytes (64 hex characters).
	ErrBadKey = corestore.ErrBadKey
	// ErrLocked: another process holds the storage.
	ErrLocked = corestore.ErrLocked
	// ErrNoProviders: no peer that holds the core was found.
	ErrNoProviders = peer.ErrNoProviders
	// ErrRejected: a transaction the datom layer refused (a schema violation, say).
	ErrRejected = datom.ErrRejected
	// ErrBadJSON: a transaction or query that is not valid JSON of the right shape.
	ErrBadJSON = datom.ErrBadJSON
	// ErrRawCore: a transaction on a core whose blocks are not datom transactions.
	ErrRawCore = datom.ErrRawCore
	// ErrBadRequest: an option or argument that is malformed.
	ErrBadRequest = peer.ErrBadRequest
	// ErrUnauthorized: a TCP host without the right API token.
	ErrUnauthorized = peer.ErrUnauthorized
	// ErrSocketInUse: another running server answers on the host's socket.
	ErrSocketInUse = peer.ErrSocketInUse
	// ErrRequestTooLarge: one call's payload (an Append, a Transact) is over the server's limit.
	ErrRequestTooLarge = peer.ErrRequestTooLarge
)
