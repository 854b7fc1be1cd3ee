// Package doip is a Digital Object repository and registry on datoms, speaking DOIP 2.0
// (Cordra's and CNRI's doip-sdk's text segments over TLS, or over any stream, such as a libp2p
// stream on /datomspace/doip/2.0.0) and BDWare's DOIP 2.1 envelope over TCP.
//
// # Pieces
//
//   - [Repository] keeps digital objects in one datom core (see "Objects on datoms").
//   - [Service] is the [Processor] of a repository: Hello, ListOperations, Create, Retrieve,
//     Update, Delete, Search, and the federation operations Op.Join and Op.Quit.
//   - [Server] runs a Processor on connections: [Server.Serve] and [Server.ServeConn] for DOIP
//     2.0, [Server.Serve21] and [Server.ServeConn21] for DOIP 2.1. [ListenTLS] listens with a
//     self-signed certificate whose key is the node's Ed25519 identity.
//   - [Client] speaks DOIP 2.0 over one connection, pipelining requests; [Dial] opens one over
//     TLS, pinning the server's key ([WithPin]). [Client21] speaks DOIP 2.1.
//   - [Authenticator] reads a request's credentials, [Authorizer] decides what a [Principal] may
//     do ([OwnerOnly] by default), [Dialer] reaches other services, [BlobStore] holds element
//     bytes.
//   - Subpackages: wire (the segment codec and the 2.1 envelope), query (Cordra's Lucene subset),
//     blobtest (the BlobStore conformance suite).
//
// # Objects on datoms
//
// A digital object PREFIX/SUFFIX is the entity "do:PREFIX/SUFFIX" of the repository core with
// doip/id, doip/type, doip/attributes (the attributes JSON, keys sorted; over 30 KiB it is a
// blob named by doip/attributesCid), doip/version, doip/createdOn, doip/createdBy,
// doip/modifiedOn, doip/modifiedBy, and a doip/element ref to each element. An element is the
// entity "el:<len(id)>:<id>:<element id>" with doip.element/id, type, length, attributes, index
// and cid, the CID of its bytes in the blob store. The search terms of an object are on
// "ix:<id>" (doip.ix/word, doip.ix/term, doip.ix/private, doip.ix/reader), and a service that
// joined is "join:<repoID>" (doip.join/id, url, by, on). The schema is transacted on first
// write. Create is one transaction; Update is one transaction of what changed, and leaves the
// elements it does not list as they are; Delete retracts every datom of the object, its
// elements and its terms. So every version of an object stays in the core's history, and the
// core replicates, verifies and is indexed like any other: a replica answers Retrieve and
// Search with the owner offline, and declines writes with status 200.
//
// Retrieve takes "element" (one element's bytes, and CNRI's "range" {start, end} of them) and
// "includeElementData" (true or "true"). It adds Cordra's "metadata" to the attributes:
// createdOn and modifiedOn (milliseconds), createdBy and modifiedBy (client ids) and txnId, the
// core's transaction of this version.
//
// # Search
//
// Search takes Cordra's attributes: query (see package query: bare terms, field:value with
// type:, id: and /json/pointer fields, phrases, +/-, AND/OR/NOT, groups, trailing wildcards,
// *:*), pageNum (from 0), pageSize (-1, the default, for all up to [MaxPageSize]; 0 for only the
// count), sortFields ("a,b DESC"; id by default) and type ("full", the default, or "id"); it
// answers {"size":N,"results":[...]} in a JSON segment after the status, as Cordra does. A
// query that does not parse is answered 101 with the position in the message and in the
// attribute "position". Each term compiles to one Datalog query over the core's indexes (a
// lookup of doip.ix/word or doip.ix/term values, or a prefix predicate for a wildcard), and the
// boolean structure combines their sorted entity sets. Anonymous and non-owner clients see only
// objects whose ACL (attributes.acl.readers, Cordra's form) is empty, holds "public", or names
// them.
//
// # Federation
//
// Op.Join (attributes repoID and repoUrl: a doip:// URL or a libp2p multiaddr) records a joined
// service in the core; from then on Search forwards the query to every joined service through
// the [Dialer], with the attribute forwardedBy so that it is not forwarded again, and merges the
// results: exactly, de-duplicated by id, when ordered by id; approximately (sum of sizes less
// the duplicates seen) when ordered by other fields. A Retrieve of an id this repository does
// not hold is forwarded to the joined services of the id's prefix, and to what the [Resolver]
// finds. Op.Quit ends it.
//
// # Status codes
//
// Errors map to statuses as Cordra maps them ([StatusOf]): [ErrInvalid] 101, [ErrUnauthenticated]
// 102, [ErrForbidden] 103, [ErrNotFound] 104, [ErrConflict] 105, [ErrDeclined] 200, anything
// else 500 with "An unexpected server error occurred"; the message is in attributes.message.
// Bad framing (a truncated segment, a chunk size with a leading zero or over the limit) is
// answered 101 and the connection is closed, since the stream cannot be read past it; every
// other bad request is answered and the connection goes on.
//
// # Identifiers
//
// A node serves one prefix and announces [PrefixDiscoveryKey](prefix) in the DHT as it announces
// cores; resolving PREFIX/SUFFIX is finding the providers of that key, asking each Hello (over
// the libp2p tunnel) and dialing a URL of its [ServiceInfo].
package doip
