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
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// OpenBackend returns the daemon's API client when a daemon serves the repo at path, and otherwise
// a backend that works on the repo directly. An empty path with ephemeral set gives a backend
// whose Fetch runs on a temporary repo.
func OpenBackend(ctx context.Context, path string, log *slog.Logger) (Backend, error) {
	if c, err := DialAPI(ctx, path); err == nil {
		return c, nil
	}
	return &localBackend{path: path, log: log}, nil
}

// EphemeralBackend returns a backend whose Fetch runs on a temporary repo, deleted afterwards.
func EphemeralBackend(log *slog.Logger) Backend { return &localBackend{log: log} }

// Client talks to a running daemon's local API.
type Client struct {
	hc   *http.Client
	base string
}

// ErrNoDaemon is returned by DialAPI when no daemon serves the repo.
var ErrNoDaemon = errors.New("no datomspace daemon is running for this repo (start one with `datomspace serve`)")

// DialAPI connects to the daemon of the repo at path, over its unix socket.
func DialAPI(ctx context.Context, path string) (*Client, error) {
	sock := filepath.Join(path, APISocket)
	if _, err := os.Stat(sock); err != nil {
		return nil, ErrNoDaemon
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	c := &Client{hc: &http.Client{Transport: tr}, base: "http://datomspace"}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.ID(pctx); err != nil {
		return nil, fmt.Errorf("%w (a stale socket %s was left behind)", ErrNoDaemon, sock)
	}
	return c, nil
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the daemon went away (%v): restart it with `datomspace serve`", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}

// ID implements Backend.
func (c *Client) ID(ctx context.Context) (IDInfo, error) {
	var v IDInfo
	return v, c.do(ctx, "GET", "/v1/id", nil, &v)
}

// Peers implements Backend.
func (c *Client) Peers(ctx context.Context) ([]ConnectedPeer, error) {
	var v []ConnectedPeer
	return v, c.do(ctx, "GET", "/v1/peers", nil, &v)
}

// Cores implements Backend.
func (c *Client) Cores(ctx context.Context) ([]CoreInfo, error) {
	var v []CoreInfo
	return v, c.do(ctx, "GET", "/v1/cores", nil, &v)
}

// Create implements Backend.
func (c *Client) Create(ctx context.Context, name string) (CoreInfo, error) {
	var v CoreInfo
	return v, c.do(ctx, "POST", "/v1/cores", map[string]string{"name": name}, &v)
}

// Append implements Backend.
func (c *Client) Append(ctx context.Context, ref string, blocks [][]byte) (AppendResult, error) {
	var v AppendResult
	return v, c.do(ctx, "POST", "/v1/cores/"+url.PathEscape(ref)+"/append", map[string]any{"blocks": blocks}, &v)
}

// Info implements Backend.
func (c *Client) Info(ctx context.Context, ref string) (CoreInfo, error) {
	var v CoreInfo
	return v, c.do(ctx, "GET", "/v1/cores/"+url.PathEscape(ref), nil, &v)
}

// Verify implements Backend.
func (c *Client) Verify(ctx context.Context, ref string) (CoreInfo, error) {
	var v CoreInfo
	return v, c.do(ctx, "POST", "/v1/cores/"+url.PathEscape(ref)+"/verify", nil, &v)
}

// Blocks implements Backend.
func (c *Client) Blocks(ctx context.Context, ref string, start, end uint64, fn func(uint64, []byte) error) error {
	q := url.Values{"start": {fmt.Sprint(start)}}
	if end > 0 {
		q.Set("end", fmt.Sprint(end))
	}
	resp, err := c.send(ctx, "GET", "/v1/cores/"+url.PathEscape(ref)+"/blocks?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLines(resp.Body, func(line []byte) error {
		var v struct {
			blockLine
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		if v.Error != "" {
			return errors.New(v.Error)
		}
		return fn(v.Index, v.Data)
	})
}

// Fetch implements Backend. The daemon uses its own bootstrap and peers.
func (c *Client) Fetch(ctx context.Context, req FetchRequest, ev FetchEvents) (CoreInfo, error) {
	resp, err := c.send(ctx, "POST", "/v1/fetch", req)
	if err != nil {
		return CoreInfo{}, err
	}
	defer resp.Body.Close()
	var done *CoreInfo
	err = readLines(resp.Body, func(line []byte) error {
		var e fetchEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		switch {
		case e.Error != "":
			return errors.New(e.Error)
		case e.Progress != nil && ev.Progress != nil:
			ev.Progress(*e.Progress)
		case e.Block != nil && ev.Block != nil:
			return ev.Block(e.Block.Index, e.Block.Data)
		case e.Done != nil:
			done = e.Done
		}
		return nil
	})
	if err != nil {
		return CoreInfo{}, err
	}
	if done == nil {
		if ctx.Err() != nil {
			return CoreInfo{}, nil // live follow ended by the user
		}
		return CoreInfo{}, errors.New("the daemon ended the download without a result: check its log")
	}
	return *done, nil
}

// Transact implements Backend.
func (c *Client) Transact(ctx context.Context, ref string, tx []byte) (TxResult, error) {
	var v TxResult
	return v, c.do(ctx, "POST", "/v1/db/"+url.PathEscape(ref)+"/transact", json.RawMessage(tx), &v)
}

// Pull implements Backend.
func (c *Client) Pull(ctx context.Context, ref, e string, asOf *uint64) (PullResult, error) {
	q := url.Values{"e": {e}}
	if asOf != nil {
		q.Set("as-of", fmt.Sprint(*asOf))
	}
	var v PullResult
	return v, c.do(ctx, "GET", "/v1/db/"+url.PathEscape(ref)+"/pull?"+q.Encode(), nil, &v)
}

// History implements Backend.
func (c *Client) History(ctx context.Context, ref, e, a string) ([]DatomRow, error) {
	var v []DatomRow
	return v, c.do(ctx, "GET", "/v1/db/"+url.PathEscape(ref)+"/history?"+url.Values{"e": {e}, "a": {a}}.Encode(), nil, &v)
}

// Query implements Backend.
func (c *Client) Query(ctx context.Context, refs []string, q []byte) (QueryResult, error) {
	var v QueryResult
	return v, c.do(ctx, "POST", "/v1/query", map[string]any{"cores": refs, "query": json.RawMessage(q)}, &v)
}

// Reindex implements Backend. The daemon reports no progress, only the result.
func (c *Client) Reindex(ctx context.Context, _ func(done, total int, core ReindexedCore)) (ReindexResult, error) {
	var v ReindexResult
	return v, c.do(ctx, "POST", "/v1/reindex", nil, &v)
}

// Close implements Backend.
func (c *Client) Close() error { c.hc.CloseIdleConnections(); return nil }

func readLines(r io.Reader, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
