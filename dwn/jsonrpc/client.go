package jsonrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Client sends messages to a DWN over HTTP the way web5-js does: the JSON-RPC request in the
// dwn-request header and the record data as the body.
type Client struct {
	// URL is the node's base URL, e.g. "http://127.0.0.1:3000".
	URL  string
	HTTP *http.Client // default http.DefaultClient
}

// ClientReply is a reply from a node.
type ClientReply struct {
	// Response is the whole JSON-RPC response.
	Response *jsv.Object
	// Reply is result.reply, nil when the response is an error.
	Reply *jsv.Object
	// Error is the JSON-RPC error, nil on success.
	Error *Error
	// Data is the record data of a read, nil when there is none; the caller must close it.
	Data io.ReadCloser
}

// Status returns the reply's status code and detail.
func (r *ClientReply) Status() (int, string) {
	st, _ := r.Reply.Get("status")
	o, _ := st.(*jsv.Object)
	c, _ := o.Get("code")
	d, _ := o.Get("detail")
	cf, _ := c.(float64)
	ds, _ := d.(string)
	return int(cf), ds
}

// ErrResponse is returned for an HTTP response that is not a JSON-RPC response.
var ErrResponse = errors.New("jsonrpc: unexpected response")

// Process sends message (JSON) to target's DWN with data as the record data (nil for none).
func (c *Client) Process(ctx context.Context, target string, message []byte, data io.Reader) (*ClientReply, error) {
	mv, err := jsv.Parse(message)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	params := jsv.NewObject()
	params.Set("target", target)
	params.Set("message", mv)
	req := jsv.NewObject()
	req.Set("jsonrpc", "2.0")
	req.Set("id", uuidV4())
	req.Set("method", MethodProcessMessage)
	req.Set("params", params)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/", data)
	if err != nil {
		return nil, err
	}
	hr.Header.Set(HeaderRequest, jsv.StringifyASCII(req))
	if data != nil {
		hr.Header.Set("Content-Type", "application/octet-stream")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	return readResponse(resp)
}

func readResponse(resp *http.Response) (*ClientReply, error) {
	var text []byte
	out := &ClientReply{}
	if h := resp.Header.Get(HeaderResponse); h != "" {
		text = []byte(h)
		out.Data = resp.Body
	} else {
		defer resp.Body.Close()
		var err error
		if text, err = io.ReadAll(io.LimitReader(resp.Body, 256<<20)); err != nil {
			return nil, err
		}
	}
	v, err := jsv.Parse(text)
	if err != nil {
		if out.Data != nil {
			out.Data.Close()
		}
		return nil, fmt.Errorf("%w: HTTP %d: %q", ErrResponse, resp.StatusCode, bytes.TrimSpace(text))
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		return nil, fmt.Errorf("%w: HTTP %d: not an object", ErrResponse, resp.StatusCode)
	}
	out.Response = o
	if ev, ok := o.Get("error"); ok {
		eo, _ := ev.(*jsv.Object)
		code, _ := eo.Get("code")
		msg, _ := eo.Get("message")
		cf, _ := code.(float64)
		ms, _ := msg.(string)
		out.Error = &Error{Code: int(cf), Message: ms}
		return out, nil
	}
	res, _ := o.Get("result")
	ro, _ := res.(*jsv.Object)
	rv, _ := ro.Get("reply")
	out.Reply, _ = rv.(*jsv.Object)
	if out.Reply == nil {
		return nil, fmt.Errorf("%w: HTTP %d: no result.reply", ErrResponse, resp.StatusCode)
	}
	return out, nil
}
