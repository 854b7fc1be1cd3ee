package doip

import (
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/doip/wire"
)

// The errors an operation fails with. Each maps to a DOIP status as Cordra maps its errors
// (StatusOf); wrap them with %w to add context, which becomes the response's message.
var (
	ErrInvalid         = errors.New("invalid request")                   // 0.DOIP/Status.101
	ErrUnauthenticated = errors.New("authentication failed or required") // 102
	ErrForbidden       = errors.New("not authorized")                    // 103
	ErrNotFound        = errors.New("not found")                         // 104
	ErrConflict        = errors.New("conflict")                          // 105
	ErrDeclined        = errors.New("operation declined")                // 200
)

// ErrStatus is the error a client returns for a response whose status is not success. It
// wraps the sentinel error of the status, so errors.Is(err, ErrNotFound) works on the client.
type ErrStatus struct {
	Status  wire.Status
	Message string
}

// Error says the status and message.
func (e *ErrStatus) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("DOIP status %s", e.Status)
	}
	return fmt.Sprintf("DOIP status %s: %s", e.Status, e.Message)
}

// Unwrap returns the sentinel error of the status.
func (e *ErrStatus) Unwrap() error {
	switch e.Status.Normalize() {
	case wire.StatusInvalid:
		return ErrInvalid
	case wire.StatusUnauthenticated:
		return ErrUnauthenticated
	case wire.StatusUnauthorized:
		return ErrForbidden
	case wire.StatusNotFound:
		return ErrNotFound
	case wire.StatusConflict:
		return ErrConflict
	case wire.StatusDeclined:
		return ErrDeclined
	}
	return nil
}

// StatusOf returns the status an operation's error is answered with, and whether its message
// may be shown to the client (errors that are not one of the sentinels are reported as
// "An unexpected server error occurred", as Cordra reports them, and logged).
func StatusOf(err error) (wire.Status, bool) {
	var se *ErrStatus
	switch {
	case err == nil:
		return wire.StatusOK, true
	case errors.As(err, &se):
		return se.Status.Normalize(), true
	case errors.Is(err, ErrInvalid), errors.Is(err, wire.ErrFraming), errors.Is(err, wire.ErrTooLarge),
		errors.Is(err, wire.ErrEnvelope), errors.Is(err, wire.ErrBadHeader), errors.Is(err, wire.ErrSegmentType):
		return wire.StatusInvalid, true
	case errors.Is(err, ErrUnauthenticated):
		return wire.StatusUnauthenticated, true
	case errors.Is(err, ErrForbidden):
		return wire.StatusUnauthorized, true
	case errors.Is(err, ErrNotFound):
		return wire.StatusNotFound, true
	case errors.Is(err, ErrConflict):
		return wire.StatusConflict, true
	case errors.Is(err, ErrDeclined):
		return wire.StatusDeclined, true
	}
	return wire.StatusOther, false
}

// unexpected is the message of a status 500, as Cordra words it.
const unexpected = "An unexpected server error occurred"

// attrError is an error that adds attributes to the response it becomes, such as the
// position of a query's syntax error.
type attrError struct {
	error
	attrs map[string]any
}

func (e *attrError) Unwrap() error { return e.error }

// errorAttributes returns the attributes a failure response carries: its message, and any
// the error adds.
func errorAttributes(err error, msg string) map[string]any {
	a := map[string]any{"message": msg}
	var ae *attrError
	if errors.As(err, &ae) {
		for k, v := range ae.attrs {
			a[k] = v
		}
	}
	return a
}
