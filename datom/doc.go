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
// byte string, or for a core-ref the array [coreKey(32 bytes), entity].
//
// # Schema
//
// Schema is transacted as datoms on an attribute entity: db/ident (the attribute's name),
// db/valueType (string|int|float|bool|bytes|time|ref|coreref), db/cardinality (one|many),
// db/unique (identity|value) and db/doc. Schema takes effect from the transaction after the one
// that installs it; [DB.Transact] refuses a transaction that both defines an attribute and uses
// it, and refuses changing the type or cardinality of an attribute that already has values.
//
// An attribute without schema works as cardinality one with any value type: asserting a new value
// retracts the previous one, whatever its type. It cannot be unique. JSON values are taken as
// their natural type (string, int when integral, else float, bool) unless written as a typed
// object such as {"time":"2024-01-02T03:04:05Z"}; see [ParseValueJSON]. An attribute with a
// db/valueType converts a plain JSON string to its time, ref or bytes type, in transactions and
// in query constants alike.
//
// The indexer applies these rules to whatever a log holds, so a log written by another
// implementation is indexed the same way: asserting a live value changes nothing, retracting a
// value that is not live changes nothing, and asserting a value for a cardinality-one attribute
// retracts every other live value of that entity and attribute. [DB.Transact] is stricter and
// refuses, rather than resolves, conflicts inside one transaction.
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
// # Queries
//
// [ParseQuery] reads Datalog in JSON; see [Query] for the syntax. Queries run per core, over the
// cores named or every datom core the peer holds, and every result row names its core.
package datom
