// Package blobs keeps large data by content address: DWN record data, DOIP element bytes, the
// datom values over a size threshold, and files added by hand.
//
// A blob is a UnixFS file DAG with CIDv1, raw leaves of 256 KiB and a balanced layout of 174
// links per node, built with boxo's importer: the defaults of Kubo (`ipfs add
// --cid-version=1`) and of dwn-sdk-js, so a blob's CID is Kubo's CID and a DWN client's dataCid
// for the same bytes. Blocks are kept in a boxo blockstore over a go-datastore; the pins and the
// index of held blobs in a go-datastore over the repo's Badger (DatastorePrefix). A peer keeps
// the blocks themselves in a block directory (OpenBlockDir, Kubo's flatfs layout), so that
// writing gigabytes does not grow the process's resident memory with Badger's memory-mapped
// value log, and so that GC frees disk space at once.
//
// Add imports a stream; CIDOf computes a CID without storing; Open reads a blob with boxo's
// UnixFS reader (Seek, Size). A fetcher (protocols/blobsync) asks Lease.Missing which blocks it
// lacks, checks every block it receives with DecodeWant (a supported CID, bytes that hash to
// it, a well-formed UnixFS file node, within the Limits), writes them with Lease.PutNode and
// records the blob with Lease.Commit.
//
// GC removes the blocks of blobs that are neither pinned nor live (referenced from datoms, DOIP
// objects or DWN records, which the caller lists) nor held by a Lease: every Add and fetch holds
// the blocks it writes, so a GC running at the same time keeps them.
package blobs
