package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// OpenBackend returns the daemon's API client when a daemon serves the repo at path, and
// otherwise a Local that works on the repo directly.
func OpenBackend(ctx context.Context, path string, log *slog.Logger) (Backend, error) {
	if c, err := DialAPI(ctx, path); err == nil {
		return c, nil
	}
	return NewLocal(path, log), nil
}

// Client talks to a running daemon's local API.
type Client struct {
	hc    *http.Client
	base  string
	token string
}

// ErrNoDaemon is returned by DialAPI when no daemon serves the repo.
var ErrNoDaemon = errors.New("no datomspace daemon is running for this repo")

// DialAPI connects to the daemon of the repo at path, over its unix socket.
func DialAPI(ctx context.Context, path string) (*Client, error) {
	sock := filepath.Join(path, APISocket)
	if _, err := os.Stat(sock); err != nil {
		return nil, ErrNoDaemon
	}
	c, err := DialAPIAddr(ctx, "unix:"+sock, "")
	if err != nil {
		return nil, fmt.Errorf("%w (a stale socket %s was left behind)", ErrNoDaemon, sock)
	}
	return c, nil
}

// DialAPIAddr connects to a daemon's API at addr: "unix:PATH" for a socket, or a loopback
// HOST:PORT, which needs the daemon's API token. It checks the daemon answers.
func DialAPIAddr(ctx context.Context, addr, token string) (*Client, error) {
	c := &Client{token: token}
	if sock, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		c.hc, c.base = &http.Client{Transport: tr}, "http://localhost"
	} else {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !isLoopbackHost(host) {
			return nil, fmt.Errorf("%w: the API address %q is neither unix:PATH nor a loopback HOST:PORT", ErrBadRequest, addr)
		}
		c.hc, c.base = &http.Client{Transport: &http.Transport{}}, "http://"+addr
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := Call(pctx, c, OpID, None{}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) backend() {}

// Daemon implements Backend.
func (c *Client) Daemon() bool { return true }

// Close implements Backend.
func (c *Client) Close() error { c.hc.CloseIdleConnections(); return nil }

// maxLine bounds one JSON line of a streamed response: a block of up to 16 MiB in base64, and
// the rest.
const maxLine = 32 << 20

// call runs the operation name on the daemon: req as the JSON body, events (for a stream) to
// onEvent, and the result into resp.
func (c *Client) call(ctx context.Context, name string, req any, onEvent func(json.RawMessage) error, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%w: %s request: %w", ErrBadRequest, name, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the daemon went away: %w", err)
	}
	defer res.Body.Close()
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == ndjson {
		return readStream(res.Body, onEvent, resp)
	}
	if res.StatusCode >= 400 {
		return readError(res)
	}
	if err := json.NewDecoder(res.Body).Decode(resp); err != nil {
		return fmt.Errorf("the daemon's %s reply is not valid JSON: %w", name, err)
	}
	return nil
}

// wireError is an error as the API writes it.
type wireError struct {
	Error string   `json:"error"`
	Codes []string `json:"codes,omitempty"`
}

func readError(res *http.Response) error {
	var e wireError
	if json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&e) != nil || e.Error == "" {
		e.Error = "the daemon answered " + res.Status
	}
	return errorFromAPI(e.Error, e.Codes)
}

// streamLine is one line of a streamed response: an event, the result, or an error.
type streamLine struct {
	Event  json.RawMessage `json:"event,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	wireError
}

func readStream(r io.Reader, onEvent func(json.RawMessage) error, resp any) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, maxLine)
		if len(line) > 0 {
			var l streamLine
			if jerr := json.Unmarshal(line, &l); jerr != nil {
				return fmt.Errorf("the daemon sent a malformed line: %w", jerr)
			}
			switch {
			case l.Error != "":
				return errorFromAPI(l.Error, l.Codes)
			case l.Result != nil:
				if err := json.Unmarshal(l.Result, resp); err != nil {
					return fmt.Errorf("the daemon sent a malformed result: %w", err)
				}
				return nil
			case l.Event != nil && onEvent != nil:
				if err := onEvent(l.Event); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return errors.New("the daemon ended the reply without a result: check its log")
		}
		if err != nil {
			return fmt.Errorf("the daemon went away: %w", err)
		}
	}
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, fmt.Errorf("a line of the reply is over %d bytes", max)
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSpace(line), err
	}
}
