package dwn

import (
	"context"
	"io"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Sort orders a query by one indexed property, with ties broken by message CID.
type Sort struct {
	Property   string // "dateCreated", "datePublished", "messageTimestamp" or, for the event log, "watermark"
	Descending bool
}

// Pagination limits a query and resumes it after a cursor.
type Pagination struct {
	Limit  *float64 // dwn-sdk-js accepts any number >= 1
	Cursor *Cursor
}

// MessageStore keeps a tenant's messages and their indexes, and answers queries exactly as
// dwn-sdk-js's MessageStoreLevel with IndexLevel does (see the dwntest conformance suite).
type MessageStore interface {
	// Put stores msg under its message CID with the given indexes, replacing any message with the
	// same CID. msg may carry encodedData, which is kept (and not part of the CID).
	Put(ctx context.Context, tenant string, msg *jsv.Object, ix Indexes) error
	// Get returns the message with the CID, or ErrNotFound.
	Get(ctx context.Context, tenant, cid string) (*jsv.Object, error)
	// Query returns the messages that match any filter (all of them for no filters), sorted, and
	// a cursor when a limit cut the results short.
	Query(ctx context.Context, tenant string, filters []Filter, sort Sort, page *Pagination) ([]*jsv.Object, *Cursor, error)
	// Delete removes the message and its indexes; it is not an error if there is none.
	Delete(ctx context.Context, tenant, cid string) error
}

// EventLog is the ordered log of stored messages that MessagesQuery reads, as dwn-sdk-js's
// EventLogLevel: each append gets a monotonically increasing watermark.
type EventLog interface {
	Append(ctx context.Context, tenant, cid string, ix Indexes) error
	// Query returns the CIDs of the events that match any filter, in watermark order after the
	// cursor, and a cursor at the last one (nil when there are none).
	Query(ctx context.Context, tenant string, filters []Filter, cursor *Cursor) ([]string, *Cursor, error)
	Delete(ctx context.Context, tenant string, cids []string) error
}

// DataStore keeps record data larger than the inline threshold, per tenant and record. The
// content is addressed by its UnixFS CID (CIDv1, raw leaves, 256 KiB chunks, balanced, 174 links),
// which is what dwn-sdk-js computes as a record's dataCid.
type DataStore interface {
	// Put reads r to its end and computes its CID and size; it keeps the data for (tenant,
	// recordID) only if both equal wantCID and wantSize. It returns what it computed.
	Put(ctx context.Context, tenant, recordID, wantCID string, wantSize int64, r io.Reader) (cid string, size int64, err error)
	// Get returns the data and its size, or ErrNotFound.
	Get(ctx context.Context, tenant, recordID, cid string) (io.ReadCloser, int64, error)
	// Delete drops the data of (tenant, recordID, cid); it is not an error if there is none.
	Delete(ctx context.Context, tenant, recordID, cid string) error
}

// TenantGate decides which tenants a node serves.
type TenantGate interface {
	// IsActiveTenant returns whether did is a tenant, and a detail for the reply when it is not
	// ("" gives dwn-sdk-js's default detail).
	IsActiveTenant(ctx context.Context, did string) (bool, string, error)
}

// AllowAll is the TenantGate that serves every DID, dwn-sdk-js's default.
type AllowAll struct{}

// IsActiveTenant implements TenantGate.
func (AllowAll) IsActiveTenant(context.Context, string) (bool, string, error) { return true, "", nil }

// Tenants is a TenantGate that serves only the listed DIDs.
type Tenants map[string]bool

// IsActiveTenant implements TenantGate.
func (t Tenants) IsActiveTenant(_ context.Context, did string) (bool, string, error) {
	return t[did], "", nil
}
