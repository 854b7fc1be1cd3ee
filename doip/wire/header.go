package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Status is a DOIP status code as it is written on the wire.
type Status string

// The status codes of DOIP 2.0 (CNRI's DoipConstants, the v2.1 draft §6.3).
const (
	StatusOK              Status = "0.DOIP/Status.001"
	StatusInvalid         Status = "0.DOIP/Status.101"
	StatusUnauthenticated Status = "0.DOIP/Status.102"
	StatusUnauthorized    Status = "0.DOIP/Status.103"
	StatusNotFound        Status = "0.DOIP/Status.104"
	StatusConflict        Status = "0.DOIP/Status.105"
	StatusDeclined        Status = "0.DOIP/Status.200"
	StatusOther           Status = "0.DOIP/Status.500"
)

// Normalize returns s in the form this package writes: Cordra's documentation prints
// "0.DOIP/Status.1" and some implementations drop the "0.DOIP/" prefix.
func (s Status) Normalize() Status {
	str := string(s)
	str = strings.TrimPrefix(str, "0.DOIP/")
	num, ok := strings.CutPrefix(str, "Status.")
	if !ok || num == "" || len(num) > 3 {
		return s
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return s
		}
	}
	return Status("0.DOIP/Status." + strings.Repeat("0", 3-len(num)) + num)
}

// OK reports whether s is the success status in any of its spellings.
func (s Status) OK() bool { return s.Normalize() == StatusOK }

// ErrBadHeader marks a first segment that is not a valid request or response header.
var ErrBadHeader = errors.New("invalid DOIP header")

// Request is the first segment of a DOIP 2.0 request.
type Request struct {
	RequestID      string          `json:"requestId,omitempty"`
	ClientID       string          `json:"clientId,omitempty"`
	TargetID       string          `json:"targetId,omitempty"`
	OperationID    string          `json:"operationId,omitempty"`
	Attributes     json.RawMessage `json:"attributes,omitempty"`
	Authentication json.RawMessage `json:"authentication,omitempty"`
	Input          json.RawMessage `json:"input,omitempty"`
}

// Response is the first segment of a DOIP 2.0 response.
type Response struct {
	RequestID  string          `json:"requestId,omitempty"`
	Status     Status          `json:"status"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
}

// present reports whether raw holds a JSON value other than null.
func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// HasInput reports whether the request carries its input inline.
func (r *Request) HasInput() bool { return present(r.Input) }

// HasOutput reports whether the response carries its output inline.
func (r *Response) HasOutput() bool { return present(r.Output) }

// ParseRequest reads a request's first segment. Unknown properties are ignored; requestId may
// be a string or a number; attributes must be an object when present.
func ParseRequest(b []byte) (*Request, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: the first segment is not a JSON object: %w", ErrBadHeader, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: the first segment is null, not a JSON object", ErrBadHeader)
	}
	r := &Request{}
	var err error
	if r.RequestID, err = idField(raw, "requestId"); err != nil {
		return r, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"clientId", &r.ClientID}, {"targetId", &r.TargetID}, {"operationId", &r.OperationID}} {
		if *f.dst, err = stringField(raw, f.name); err != nil {
			return r, err
		}
	}
	if a := raw["attributes"]; present(a) {
		if err := objectField(a, "attributes"); err != nil {
			return r, err
		}
		r.Attributes = a
	}
	if a := raw["authentication"]; present(a) {
		r.Authentication = a
	}
	if in := raw["input"]; present(in) {
		r.Input = in
	}
	return r, nil
}

// ParseResponse reads a response's first segment.
func ParseResponse(b []byte) (*Response, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: the first segment is not a JSON object: %w", ErrBadHeader, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: the first segment is null, not a JSON object", ErrBadHeader)
	}
	r := &Response{}
	var err error
	if r.RequestID, err = idField(raw, "requestId"); err != nil {
		return r, err
	}
	st, err := stringField(raw, "status")
	if err != nil {
		return r, err
	}
	r.Status = Status(st).Normalize()
	if a := raw["attributes"]; present(a) {
		if err := objectField(a, "attributes"); err != nil {
			return r, err
		}
		r.Attributes = a
	}
	if o := raw["output"]; present(o) {
		r.Output = o
	}
	return r, nil
}

func stringField(raw map[string]json.RawMessage, name string) (string, error) {
	v, ok := raw[name]
	if !ok || !present(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrBadHeader, name)
	}
	return s, nil
}

// idField reads a requestId: a string, or a number kept as its text.
func idField(raw map[string]json.RawMessage, name string) (string, error) {
	v, ok := raw[name]
	if !ok || !present(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%w: %s is neither a string nor a number", ErrBadHeader, name)
}

func objectField(v json.RawMessage, name string) error {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: %s is not a JSON object", ErrBadHeader, name)
	}
	return nil
}
