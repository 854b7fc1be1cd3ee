package dwn

import (
	"errors"
)

// Library errors, for callers that use the package rather than read replies.
var (
	// ErrNotFound is returned by stores for a message or data they do not hold.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("closed")
	// ErrInvalidMessage is returned for input that is not a DWN message at all (not JSON, not an
	// object); messages that are objects are judged and get a reply instead.
	ErrInvalidMessage = errors.New("invalid DWN message")
	// ErrTooLarge is returned for a message or data over a configured limit.
	ErrTooLarge = errors.New("too large")
)

// Error is a judgement as dwn-sdk-js words it: Detail() is "<Code>: <Message>", or just the
// message for the plain JavaScript errors (TypeError, SyntaxError) that dwn-sdk-js lets through.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

func newError(code, msg string) *Error { return &Error{Code: code, Message: msg} }

// jsError is a JavaScript runtime error that dwn-sdk-js does not catch and wrap.
func jsError(msg string) *Error { return &Error{Message: msg} }

// codeOf returns the DwnErrorCode of err, or "" for other errors.
func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// detailOf is messageReplyFromError's detail: the error's message.
func detailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

// internalError marks a failure that dwn-sdk-js would have thrown out of processMessage (a store
// failure, a bug): transports answer it with a JSON-RPC internal error, not a reply.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }
