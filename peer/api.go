package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// APISocket is the name of the local API's unix socket inside the repo.
const APISocket = "api.sock"

// API serves the local HTTP+JSON API of a running node. Routes, all under /v1:
//
//	GET  /id                      IDInfo
//	GET  /peers                   []ConnectedPeer
//	GET  /cores                   []CoreInfo
//	POST /cores         {name}    CoreInfo
//	GET  /cores/{ref}             CoreInfo
//	POST /cores/{ref}/append {blocks: [base64]}   AppendResult
//	GET  /cores/{ref}/blocks?start=&end=          JSON lines {index, data(base64)}
//	POST /cores/{ref}/verify      CoreInfo
//	POST /fetch         FetchRequest              JSON lines of fetchEvent
//	POST /db/{ref}/transact  [tx items]           TxResult
//	GET  /db/{ref}/pull?e=&as-of=                 PullResult
//	GET  /db/{ref}/history?e=&a=                  []DatomRow
//	POST /query         {cores, query}            QueryResult
//	POST /reindex                                 ReindexResult
//
// Errors are {"error": "..."} with a 4xx or 5xx status.
type API struct {
	n   *Node
	srv *http.Server
	ls  []net.Listener
}

// NewAPI listens on the repo's unix socket and, if tcpAddr is set, on that 127.0.0.1 address.
func NewAPI(n *Node, tcpAddr string) (*API, error) {
	a := &API{n: n}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/id", a.id)
	mux.HandleFunc("GET /v1/peers", a.peers)
	mux.HandleFunc("GET /v1/cores", a.cores)
	mux.HandleFunc("POST /v1/cores", a.create)
	mux.HandleFunc("GET /v1/cores/{ref}", a.info)
	mux.HandleFunc("POST /v1/cores/{ref}/append", a.append)
	mux.HandleFunc("GET /v1/cores/{ref}/blocks", a.blocks)
	mux.HandleFunc("POST /v1/cores/{ref}/verify", a.verify)
	mux.HandleFunc("POST /v1/fetch", a.fetch)
	mux.HandleFunc("POST /v1/db/{ref}/transact", a.transact)
	mux.HandleFunc("GET /v1/db/{ref}/pull", a.pull)
	mux.HandleFunc("GET /v1/db/{ref}/history", a.history)
	mux.HandleFunc("POST /v1/query", a.query)
	mux.HandleFunc("POST /v1/reindex", a.reindex)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	sock := filepath.Join(n.Repo.Path, APISocket)
	os.Remove(sock) // a stale socket of a daemon that died: the repo lock proves it is gone
	ul, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("local API socket %s: %w", sock, err)
	}
	os.Chmod(sock, 0o600)
	a.ls = append(a.ls, ul)
	if tcpAddr != "" {
		host, _, err := net.SplitHostPort(tcpAddr)
		if err != nil || !(host == "127.0.0.1" || host == "localhost" || host == "::1") {
			ul.Close()
			return nil, fmt.Errorf("--api %q: the local API listens on loopback only, e.g. 127.0.0.1:5001", tcpAddr)
		}
		tl, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			ul.Close()
			return nil, fmt.Errorf("--api %s: %w", tcpAddr, err)
		}
		a.ls = append(a.ls, tl)
	}
	for _, l := range a.ls {
		go a.srv.Serve(l)
	}
	return a, nil
}

// Addrs returns where the API listens.
func (a *API) Addrs() []string {
	var out []string
	for _, l := range a.ls {
		out = append(out, l.Addr().String())
	}
	return out
}

// Close stops the API and removes the socket.
func (a *API) Close(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	os.Remove(filepath.Join(a.n.Repo.Path, APISocket))
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, corestore.ErrNotFound), errors.Is(err, corestore.ErrNotAvailable):
		status = http.StatusNotFound
	case errors.Is(err, corestore.ErrBadKey), errors.Is(err, corestore.ErrOutOfRange), errors.Is(err, errBadRequest),
		errors.Is(err, datom.ErrBadJSON), errors.Is(err, datom.ErrRejected), errors.Is(err, datom.ErrRawCore):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNoProviders):
		status = http.StatusGatewayTimeout
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

var errBadRequest = errors.New("bad request")

func (a *API) core(r *http.Request) (*corestore.Core, error) {
	return a.n.Repo.Resolve(r.Context(), r.PathValue("ref"))
}

func (a *API) id(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, IDInfo{PeerID: a.n.ID().String(), Addrs: a.n.Addrs(), Running: true})
}

func (a *API) peers(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, a.n.Peers()) }

// infoOf describes c with its last announce time.
func (a *API) infoOf(c *corestore.Core) CoreInfo {
	in := InfoOf(c)
	if t, ok := a.n.Announced()[c.Key()]; ok && !t.IsZero() {
		in.Announced = &t
	}
	return in
}

func (a *API) cores(w http.ResponseWriter, r *http.Request) {
	out, err := a.n.Cores(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, out)
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		writeErr(w, fmt.Errorf("%w: want {\"name\": \"...\"}", errBadRequest))
		return
	}
	c, err := a.n.Create(r.Context(), req.Name)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, a.infoOf(c))
}

func (a *API) info(w http.ResponseWriter, r *http.Request) {
	c, err := a.core(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, a.infoOf(c))
}

func (a *API) append(w http.ResponseWriter, r *http.Request) {
	c, err := a.core(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var req struct {
		Blocks [][]byte `json:"blocks"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<20)).Decode(&req); err != nil {
		writeErr(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	res, err := appendTo(r.Context(), c, req.Blocks)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}

func queryUint(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not a block index", errBadRequest, name, s)
	}
	return v, nil
}

// blockLine is one line of a blocks response.
type blockLine struct {
	Index uint64 `json:"index"`
	Data  []byte `json:"data"`
}

func (a *API) blocks(w http.ResponseWriter, r *http.Request) {
	c, err := a.core(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	start, err1 := queryUint(r, "start")
	end, err2 := queryUint(r, "end")
	if err := errors.Join(err1, err2); err != nil {
		writeErr(w, err)
		return
	}
	if end > c.Length() || start > max(end, c.Length()) {
		writeErr(w, fmt.Errorf("%w: range [%d, %d) of a core of length %d", corestore.ErrOutOfRange, start, end, c.Length()))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err = readBlocks(r.Context(), c, start, end, func(i uint64, b []byte) error {
		return enc.Encode(blockLine{i, b})
	})
	if err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
	}
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	c, err := a.core(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := c.Verify(r.Context()); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, InfoOf(c))
}

// fetchEvent is one line of a fetch response.
type fetchEvent struct {
	Progress *Progress  `json:"progress,omitempty"`
	Block    *blockLine `json:"block,omitempty"`
	Done     *CoreInfo  `json:"done,omitempty"`
	Error    string     `json:"error,omitempty"`
}

func (a *API) fetch(w http.ResponseWriter, r *http.Request) {
	var req FetchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	key, err := corestore.ParseKey(req.Key)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(e fetchEvent) error {
		if err := enc.Encode(e); err != nil {
			return err
		}
		if fl != nil {
			fl.Flush()
		}
		return nil
	}
	fo := FetchOptions{Start: req.Start, End: req.End, Live: req.Live, FindTimeout: req.Timeout,
		OnProgress: func(p Progress) { send(fetchEvent{Progress: &p}) },
		OnBlocks: func(start uint64, bs [][]byte) error {
			for k, b := range bs {
				if err := send(fetchEvent{Block: &blockLine{start + uint64(k), b}}); err != nil {
					return err
				}
			}
			return nil
		}}
	c, err := a.n.Fetch(r.Context(), key, fo)
	if err != nil {
		send(fetchEvent{Error: err.Error()})
		return
	}
	in := InfoOf(c)
	send(fetchEvent{Done: &in})
}

func (a *API) datoms() datoms { return datoms{repo: a.n.Repo, db: a.n.DB} }

func (a *API) transact(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	if err != nil {
		writeErr(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	res, err := a.datoms().transact(r.Context(), r.PathValue("ref"), body)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}

func (a *API) pull(w http.ResponseWriter, r *http.Request) {
	var asOf *uint64
	if r.URL.Query().Has("as-of") {
		v, err := queryUint(r, "as-of")
		if err != nil {
			writeErr(w, err)
			return
		}
		asOf = &v
	}
	res, err := a.datoms().pull(r.Context(), r.PathValue("ref"), r.URL.Query().Get("e"), asOf)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}

func (a *API) history(w http.ResponseWriter, r *http.Request) {
	res, err := a.datoms().history(r.Context(), r.PathValue("ref"), r.URL.Query().Get("e"), r.URL.Query().Get("a"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}

func (a *API) query(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Cores []string        `json:"cores"`
		Query json.RawMessage `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	res, err := a.datoms().query(r.Context(), req.Cores, req.Query)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}

func (a *API) reindex(w http.ResponseWriter, r *http.Request) {
	res, err := reindex(r.Context(), a.n.DB, nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, res)
}
