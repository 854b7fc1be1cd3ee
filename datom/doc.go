// Package datom is datomspace's fact database: it stores datoms, immutable facts
// (entity, attribute, value, tx, added), as transactions in cores, keeps Badger indexes over
// them, and answers pulls, histories and Datalog queries across every core a peer holds.
//
// # Transactions
//
// One transaction is one block of a core and its tx number is the block index. A block is the
// deterministic CBOR encoding (cbor.CoreDetEncOptions) of the array
//
//	["datomspace/tx", 1, timeMillis, [[e, a, kind, value, added], ...]]
//
// The leading marker string and version make a datom block recognisable: a core whose first block
// does not start with them is a raw core, which callers should show as raw blocks (see
// [IsTxBlock] and [DB.CoreInfo]). kind is the value's [Kind] as a small integer; value is a text
// string (string, ref, time in RFC 3339 with nanoseconds, UTC), an integer, a float64, a bool, a
// byte string, for a core-ref the array [coreKey(32 bytes), entity], or for a blob the array
// [ref, kind], ref being blobs.Ref's binary form (the root CID's bytes, then the size as a
// shortest uvarint) and kind that of the value the blob holds (string or bytes).
//
// # Schema
//
// Schema is transacted as datoms on an attribute entity: db/ident (the attribute's name),
// db/valueType (string, int64, float64, bool, bytes, time, ref, core-ref or blob), db/cardinality (one
// or many), db/unique (identity or value) and db/doc. Datomic's names are accepted too
// (db.type/string, db.type/long, db.type/double, db.type/boolean, db.type/instant, db.type/ref,
// db.type/bytes, db.cardinality/one|many, db.unique/identity|value), as are int, float and
// coreref, which earlier versions stored; [DB.Transact] stores the canonical name, and every
// spelling reads the same. Within a transaction the schema datoms are applied first: its other
// datoms are checked against, and indexed under, the schema as it is after them, so a
// transaction may install an attribute and use it, cardinality many included. [DB.Transact]
// refuses changing the type, cardinality or uniqueness of an attribute that already has values,
// and a retraction of a value the entity does not have ([ErrNothingToRetract]).
//
// An attribute without schema works as cardinality one with any value type: asserting a new value
// retracts the previous one, whatever its type. It cannot be unique. JSON values are taken as
// their natural type (string, int64 when integral, else float64, bool) unless written as a typed
// object such as {"time":"2024-01-02T03:04:05Z"}; see [ParseValueJSON], and [ParseValueText]
// for a value typed on a command line. An attribute with a db/valueType converts a plain JSON
// string to its time, ref or bytes type, in transactions and in query constants alike.
//
// The indexer applies these rules to whatever a log holds, so a log written by another
// implementation is indexed the same way: schema datoms first, then the rest in order; asserting
// a live value changes nothing, retracting a value that is not live changes nothing, and
// asserting a value for a cardinality-one attribute retracts every other live value of that
// entity and attribute. [DB.Transact] is stricter and refuses, rather than resolves, conflicts
// inside one transaction. [DB.Validate] checks a transaction without appending it, and
// [ValidateNew] checks the first transaction of a core that does not exist yet.
//
// # Blobs
//
// A database opened [WithBlobs] keeps every string or bytes value larger than the blob threshold
// ([WithBlobThreshold], [DefaultBlobThreshold] 4 KiB) as a blob (corestore/blobs, a UnixFS DAG
// whose CID Kubo gives the same bytes), and the datom holds a value of kind blob: the CID, the
// size, and whether it holds a string or bytes. Its JSON form is {"blob": CID, "size": N}, with
// "type": "string" for a string. An attribute typed string or bytes takes a blob of its type; one
// typed blob keeps every value as a blob. The same large value is the same blob value, so it
// asserts and retracts as any other. [DB.Resolve] reads a blob value back as the string or
// bytes it stands for; [DB.BlobRoots] lists every blob a datom refers to, retracted ones too, for
// the blob store's GC.
//
// # Indexes
//
// The indexes live in the store's derived database ([corestore.Store.Derived]), a second Badger
// database that is never synced: they can always be rebuilt from the logs, so keeping them out of
// the store's own database keeps them out of every append's sync. Every key starts with the byte
// 0x80. Strings and values are encoded so that byte order is value order (see keys.go for the
// whole layout):
//
//	80 00                      next core number (u32)
//	80 01 coreKey              core state: number, fork, indexed-to, kind, skipped blocks,
//	                           fingerprint of the last indexed block
//	80 10 c e a v tx           EAVT  value: the tx that retracted it (8 bytes) or empty while live
//	80 11 c a e v tx           AEVT  (same value)
//	80 12 c a v e tx           AVET  (same value)
//	80 13 c ref a e tx         VAET, ref values only (same value)
//	80 22 c a v                owner of a live unique value: e
//	80 23 c e                  e has, or has had, a datom
//	80 24 c cid                a datom refers, or referred, to blob cid
//
// Each assertion is one key per index; its retraction rewrites that key's value, so the current
// view, an as-of view and the history all come from the same keys. The live values of an (e, a),
// which the indexer needs to apply cardinality one, are read from EAVT; the indexer keeps the
// ones it changed in memory until they are committed, and skips the read for an entity that has
// no datom at all. The core state record, which says how far the core is indexed, is written in
// the same Badger transaction as the index keys, so after a crash [Open] resumes from the log. An
// index that describes blocks the log no longer has (a power loss took appends that were not
// synced) is rebuilt: the log is shorter than the index, or its block at the index position does
// not match the fingerprint in the core state.
// Only the contiguous prefix of a sparse replica is indexed. A core that was truncated onto a new
// fork is reindexed from block 0. [DB.Transact] builds a transaction's index writes while its
// block is being appended, and lets Badger apply them while the next transaction is validated.
//
// # Reads
//
// [DB.Pull] reads one entity, by id or by a lookup ref on a unique attribute
// (["person/email", "wang@example.cn"], see [ParseLookupRef]); [DB.Entities] streams every
// entity of a core; [DB.History] lists the assertions and retractions of an entity or
// attribute. Each reads the current state or, with [AsOf], the state right after a transaction.
// [TableWriter] shows datoms as the e/a/v/tx/op table the CLI prints.
//
// # Queries
//
// [ParseQuery] reads Datalog in JSON or in EDN, told apart by their first character; see
// [Query] for the JSON form and [ParseQueryEDN] for the EDN form, Datomic's notation:
//
//	[:find ?name ?city :where [?p :person/name ?name] [?p :person/city ?city] [?p :person/age ?age] [(> ?age 30)]]
//
// Queries run per core, over the cores named or every datom core the peer holds, and every
// result row names its core. Malformed JSON is an error wrapping [ErrBadJSON], any other
// problem with a query text one wrapping [ErrBadQuery]; both say where.
//
// All the queries of a database share one memory budget ([WithQueryMemory], 1 GiB by default or
// a quarter of the machine's memory when that is less). Evaluation accounts the rows, index
// entries and results a query holds as they grow, and a query that would pass the budget fails
// with [ErrQueryTooLarge] and gives its memory back, as does one that builds more than
// [MaxQueryRows] rows in a core ([ErrTooManyRows]). [DB.QueryMemory] reports the budget's use.
package datom
