// Package dwn is a Decentralized Web Node that judges messages exactly as dwn-sdk-js 0.5.2 does:
// RecordsWrite/Read/Query/Subscribe/Delete, ProtocolsConfigure/Query, MessagesQuery/Read/Subscribe,
// and permission requests, grants and revocations as records of the
// https://tbd.website/dwn/permissions protocol, with dwn-sdk-js's status codes and detail strings
// ("<DwnErrorCode>: message").
//
// A Node processes a message for a tenant (Node.Process, or Node.ProcessJSON for JSON text) and
// returns a Reply; record data goes in with WithData and comes out as Reply.Data. Subscriptions
// deliver events to the handler given with WithSubscriptionHandler. Node.Ingest runs the same
// judgement on a message found in another node's journal of the tenant, with the relaxations
// needed for nodes that see messages in different orders to converge.
//
// State is behind interfaces: MessageStore, EventLog, DataStore and an optional Journal (told of
// every accepted message before the stores change) and Unit (making each message's store writes
// one transaction). dwn/memstore keeps everything in memory; dwn/dwncore journals every accepted
// message in a corestore core per tenant and derives the indexes from the cores; dwn/dwntest holds
// the conformance suites every implementation runs and the reference vectors. dwn/jsonrpc serves a
// Node over dwn-server's JSON-RPC (HTTP, WebSocket) and over a framed byte stream for libp2p.
//
// Messages are JS-faithful JSON values (dwn/jsv): descriptor and message CIDs are computed over
// strict DAG-CBOR of those values, and strings compare by UTF-16 code units, as in JavaScript.
package dwn
