package peer

import (
	"context"
	"errors"
	"net/http"
	"syscall"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/discovery"
	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/protocols"
	"github.com/datomspace/datomspace/protocols/blobsync"
)

// Errors of the local API itself.
var (
	// ErrBadRequest: the request is malformed (not JSON, trailing data, a missing field).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized: a TCP API request without the right bearer token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: a request from a foreign origin or for a host name that is not loopback.
	ErrForbidden = errors.New("forbidden")
	// ErrRequestTooLarge: a request body over the operation's limit.
	ErrRequestTooLarge = errors.New("request too large")
	// ErrBusy: the node's budget for request bodies is taken by other requests; retry shortly.
	ErrBusy = errors.New("node busy")
	// ErrUnknownOp: the daemon does not know the operation (it is older than this client).
	ErrUnknownOp = errors.New("unknown operation")
	// ErrUnsupportedMediaType: a request body that is not application/json.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
)

// errorCode ties a sentinel error to the code that carries it across the local API and the HTTP
// status it answers with. A client maps the codes back to the sentinels, so errors.Is gives the
// same answer through the API as inside the node.
type errorCode struct {
	code   string
	err    error
	status int
}

// errorCodes lists every sentinel that survives the API. A new feature adds its sentinels here,
// one line each. Codes are part of the API: never reuse or rename one.
var errorCodes = []errorCode{
	{"bad_request", ErrBadRequest, http.StatusBadRequest},
	{"unauthorized", ErrUnauthorized, http.StatusUnauthorized},
	{"forbidden", ErrForbidden, http.StatusForbidden},
	{"request_too_large", ErrRequestTooLarge, http.StatusRequestEntityTooLarge},
	{"busy", ErrBusy, http.StatusServiceUnavailable},
	{"unknown_op", ErrUnknownOp, http.StatusNotFound},
	{"unsupported_media_type", ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
	{"not_running", ErrNotRunning, http.StatusConflict},
	{"no_repo", ErrNoRepo, http.StatusNotFound},
	{"no_such_name", ErrNoSuchName, http.StatusNotFound},
	{"corrupt_repo", ErrCorruptRepo, http.StatusInternalServerError},
	{"repo_exists", ErrRepoExists, http.StatusConflict},
	{"no_providers", ErrNoProviders, http.StatusGatewayTimeout},
	{"interrupted", ErrInterrupted, http.StatusServiceUnavailable},
	{"empty_core", ErrEmptyCore, http.StatusNotFound},
	{"not_deletable", corestore.ErrNotDeletable, http.StatusConflict},
	{"no_bootstrap", discovery.ErrNoBootstrap, http.StatusBadGateway},
	{"addr_in_use", ErrAddrInUse, http.StatusConflict},
	{"not_found", corestore.ErrNotFound, http.StatusNotFound},
	{"not_available", corestore.ErrNotAvailable, http.StatusNotFound},
	{"out_of_range", corestore.ErrOutOfRange, http.StatusBadRequest},
	{"read_only", corestore.ErrReadOnly, http.StatusConflict},
	{"batch_too_large", corestore.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{"bad_key", corestore.ErrBadKey, http.StatusBadRequest},
	{"bad_name", corestore.ErrBadName, http.StatusBadRequest},
	{"block_too_large", corestore.ErrBlockTooLarge, http.StatusRequestEntityTooLarge},
	{"corrupt", corestore.ErrCorrupt, http.StatusInternalServerError},
	{"disk_full", corestore.ErrDiskFull, http.StatusInsufficientStorage},
	{"locked", corestore.ErrLocked, http.StatusConflict},
	{"closed", corestore.ErrClosed, http.StatusServiceUnavailable},
	{"frozen", corestore.ErrFrozen, http.StatusConflict},
	{"conflict", corestore.ErrConflict, http.StatusConflict},
	{"bad_json", datom.ErrBadJSON, http.StatusBadRequest},
	{"rejected", datom.ErrRejected, http.StatusBadRequest},
	{"raw_core", datom.ErrRawCore, http.StatusBadRequest},
	{"not_tx", datom.ErrNotTx, http.StatusBadRequest},
	{"bad_query", datom.ErrBadQuery, http.StatusBadRequest},
	{"query_too_large", datom.ErrQueryTooLarge, http.StatusUnprocessableEntity},
	{"too_many_rows", datom.ErrTooManyRows, http.StatusUnprocessableEntity},
	{"no_entity", datom.ErrNoEntity, http.StatusNotFound},
	{"not_unique", datom.ErrNotUnique, http.StatusBadRequest},
	{"bad_lookup_ref", datom.ErrBadLookupRef, http.StatusBadRequest},
	{"bad_value", datom.ErrBadValue, http.StatusBadRequest},
	{"unknown_type", datom.ErrUnknownType, http.StatusBadRequest},
	{"nothing_to_retract", datom.ErrNothingToRetract, http.StatusBadRequest},
	{"no_session", ErrNoSession, http.StatusNotFound},
	{"socket_in_use", ErrSocketInUse, http.StatusConflict},
	{"no_doip_providers", ErrNoDOIPProviders, http.StatusGatewayTimeout},
	{"doip_addr_in_use", ErrDOIPAddrInUse, http.StatusConflict},
	{"doip_invalid", doip.ErrInvalid, http.StatusBadRequest},
	{"doip_unauthenticated", doip.ErrUnauthenticated, http.StatusUnauthorized},
	{"doip_forbidden", doip.ErrForbidden, http.StatusForbidden},
	{"doip_not_found", doip.ErrNotFound, http.StatusNotFound},
	{"doip_conflict", doip.ErrConflict, http.StatusConflict},
	{"doip_read_only", doip.ErrReadOnly, http.StatusConflict},
	{"doip_declined", doip.ErrDeclined, http.StatusConflict},
	{"doip_pin", doip.ErrPin, http.StatusBadGateway},
	{"doip_bad_url", doip.ErrBadURL, http.StatusBadRequest},
	{"doip_closed", doip.ErrClientClosed, http.StatusBadGateway},
	{"doip_no_user", doip.ErrNoUser, http.StatusNotFound},
	{"dwn_addr_in_use", ErrDWNAddrInUse, http.StatusConflict},
	{"bad_did", ErrBadDID, http.StatusBadRequest},
	{"dwn_rpc", ErrDWNRPC, http.StatusBadGateway},
	{"dwn_key", ErrDWNKey, http.StatusBadRequest},
	{"no_dwn", ErrNoDWN, http.StatusConflict},
	{"no_dwn_nodes", ErrNoDWNNodes, http.StatusGatewayTimeout},
	{"dwn_node_authorization", dwn.ErrNodeAuthorization, http.StatusForbidden},
	{"deadline_exceeded", context.DeadlineExceeded, http.StatusGatewayTimeout},
	{"refused", protocols.ErrRefused, http.StatusForbidden},
	{"no_grant", asset.ErrNoGrant, http.StatusForbidden},
	{"grant_expired", asset.ErrGrantExpired, http.StatusForbidden},
	{"grant_not_yet_valid", asset.ErrGrantNotYetValid, http.StatusForbidden},
	{"grant_revoked", asset.ErrGrantRevoked, http.StatusForbidden},
	{"grants_stale", asset.ErrGrantsStale, http.StatusForbidden},
	{"wrong_action", asset.ErrWrongAction, http.StatusForbidden},
	{"compute_only", asset.ErrComputeOnly, http.StatusForbidden},
	{"catalog_not_held", asset.ErrCatalogNotHeld, http.StatusForbidden},
	{"asset_retired", asset.ErrRetired, http.StatusForbidden},
	{"query_not_allowed", asset.ErrQueryNotAllowed, http.StatusForbidden},
	{"key_not_held", asset.ErrKeyNotHeld, http.StatusConflict},
	{"bad_grant", asset.ErrBadGrant, http.StatusBadRequest},
	{"broader_than_parent", asset.ErrBroaderThanParent, http.StatusBadRequest},
	{"bad_asset", asset.ErrBadAsset, http.StatusBadRequest},
	{"bad_principal", asset.ErrBadPrincipal, http.StatusBadRequest},
	{"bad_proof", asset.ErrBadProof, http.StatusBadRequest},
	{"bad_sealed_key", asset.ErrBadSealedKey, http.StatusBadGateway},
	{"no_asset", asset.ErrNoAsset, http.StatusNotFound},
	{"no_such_grant", asset.ErrNoSuchGrant, http.StatusNotFound},
	{"asset_exists", asset.ErrAssetExists, http.StatusConflict},
	{"not_owner", asset.ErrNotOwner, http.StatusConflict},
	{"no_encryption_key", corestore.ErrNoEncryptionKey, http.StatusConflict},
	{"wrong_encryption_key", corestore.ErrWrongEncryptionKey, http.StatusBadRequest},
	{"not_encrypted", corestore.ErrNotEncrypted, http.StatusConflict},
	{"bad_encryption_key", corestore.ErrBadEncryptionKey, http.StatusBadRequest},
	{"no_blob_providers", ErrNoBlobProviders, http.StatusGatewayTimeout},
	{"no_upload", ErrNoUpload, http.StatusNotFound},
	{"blob_not_found", blobs.ErrNotFound, http.StatusNotFound},
	{"blob_incomplete", blobs.ErrIncomplete, http.StatusNotFound},
	{"invalid_cid", blobs.ErrInvalidCID, http.StatusBadRequest},
	{"unsupported_cid", blobs.ErrUnsupported, http.StatusBadRequest},
	{"hash_mismatch", blobs.ErrHashMismatch, http.StatusBadGateway},
	{"malformed_blob", blobs.ErrMalformed, http.StatusBadGateway},
	{"not_a_file", blobs.ErrNotFile, http.StatusUnprocessableEntity},
	{"blob_too_large", blobs.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{"blob_too_deep", blobs.ErrTooDeep, http.StatusUnprocessableEntity},
	{"blob_too_many_links", blobs.ErrTooManyLinks, http.StatusUnprocessableEntity},
	{"blob_size_mismatch", blobs.ErrSizeMismatch, http.StatusBadGateway},
	{"blob_providers_gone", blobsync.ErrNoProviders, http.StatusGatewayTimeout},
	{"blob_stalled", blobsync.ErrStalled, http.StatusGatewayTimeout},
	{"no_blob_store", datom.ErrNoBlobs, http.StatusConflict},
	{"disk_full", syscall.ENOSPC, http.StatusInsufficientStorage},
}

// errorCodesOf returns the codes of every sentinel err matches, in table order, and the HTTP
// status of the first (500 when it matches none).
func errorCodesOf(err error) (codes []string, status int) {
	status = http.StatusInternalServerError
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			if codes == nil {
				status = c.status
			}
			codes = append(codes, c.code)
		}
	}
	return codes, status
}

// apiError is an error that came back through the local API: its message as the node wrote it,
// and the sentinels its codes name.
type apiError struct {
	msg       string
	sentinels []error
}

func (e *apiError) Error() string   { return e.msg }
func (e *apiError) Unwrap() []error { return e.sentinels }

// errorFromAPI rebuilds an error from its message and codes; unknown codes are ignored, so an
// older client still gets the message.
func errorFromAPI(msg string, codes []string) error {
	e := &apiError{msg: msg}
	for _, code := range codes {
		for _, c := range errorCodes {
			if c.code == code {
				e.sentinels = append(e.sentinels, c.err)
			}
		}
	}
	return e
}
