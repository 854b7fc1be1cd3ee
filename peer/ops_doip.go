package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/datomspace/datomspace/doip"
)

// doipRoutes are the DOIP operations: a call to a DOIP service (this node's, one over TLS or
// DOIP 2.1, or a peer's through the libp2p tunnel), an owner token, resolving a prefix through
// the DHT, and the service's password users.
func doipRoutes() []route { return []route{OpDOIP, OpDOIPToken, OpDOIPResolve, OpDOIPUsers} }

// The operations OpDOIP performs (DOIPRequest.Op).
const (
	DOIPHello    = "hello"
	DOIPOps      = "ops"
	DOIPCreate   = "create"
	DOIPRetrieve = "retrieve"
	DOIPUpdate   = "update"
	DOIPDelete   = "delete"
	DOIPSearch   = "search"
	DOIPJoin     = "join"
	DOIPQuit     = "quit"
)

// DOIPRequest is one DOIP operation on a service.
type DOIPRequest struct {
	// Peer is the service: "" for this node's own (served in the node, or from the repo when
	// no DOIP service runs), doip://HOST:PORT for DOIP 2.0 over TLS, doip21://HOST:PORT for
	// DOIP 2.1 over TCP, or a libp2p multiaddr with /p2p/ for the tunnel.
	Peer string `json:"peer,omitempty"`
	// Pin is a peer ID or did:key: the service's key must be its (TLS and DOIP 2.1).
	Pin string `json:"pin,omitempty"`
	// Service is the service id that service operations (create, search, join, quit, ops
	// without ID) address; "" takes the one Hello names. A node serving a replica repository
	// answers as that repository for PREFIX/service.
	Service string `json:"service,omitempty"`
	// Op is DOIPHello, DOIPOps, DOIPCreate, ...
	Op string `json:"op"`
	// ID is the target object (ops, retrieve, update, delete), or for join and quit the
	// joining service's id (default: this node's service).
	ID string `json:"id,omitempty"`
	// Object is the object to create or the changes of an update.
	Object *doip.DigitalObject `json:"object,omitempty"`
	// Data holds element bytes by element id; Files names files to read them from, which only a
	// call run in the CLI's own process may do (a daemon reads no files for its callers).
	Data  map[string][]byte `json:"data,omitempty"`
	Files map[string]string `json:"files,omitempty"`
	// Remove lists the elements an update deletes.
	Remove []string `json:"remove,omitempty"`
	// Element asks retrieve for one element's bytes, streamed as events; WithData for every
	// element's.
	Element  string `json:"element,omitempty"`
	WithData bool   `json:"withData,omitempty"`
	// Query, PageNum, PageSize (-1 all, 0 only the count), Sort ("a,b DESC") and IDsOnly are a
	// search's.
	Query    string `json:"query,omitempty"`
	PageNum  int    `json:"pageNum,omitempty"`
	PageSize int    `json:"pageSize"`
	Sort     string `json:"sort,omitempty"`
	IDsOnly  bool   `json:"idsOnly,omitempty"`
	// URL is the joining service's DOIP URL or multiaddr (default: this node's TLS listener,
	// else its multiaddr).
	URL string `json:"url,omitempty"`
	// Authentication: a token, or a username and password; Anonymous sends none, and no client
	// certificate. By default the call is made as this node (its key names the client: a TLS
	// client certificate, the libp2p peer, the node itself), which owns its own service.
	Token     string `json:"token,omitempty"`
	Username  string `json:"username,omitempty"`
	Password  string `json:"password,omitempty"`
	Anonymous bool   `json:"anonymous,omitempty"`
	// Bootstrap peers, for the node a tunnel call starts when no daemon runs.
	Bootstrap []string `json:"bootstrap,omitempty"`
}

// DOIPEvent is a piece of element bytes that a retrieve streams.
type DOIPEvent struct {
	Element string `json:"element"`
	Data    []byte `json:"data"`
}

// DOIPReply is what a DOIP operation returned.
type DOIPReply struct {
	// Object is the service's description (hello) or the object (create, update, retrieve).
	Object *doip.DigitalObject `json:"object,omitempty"`
	// Operations are ops' answer.
	Operations []string `json:"operations,omitempty"`
	// Search is a search's answer.
	Search *DOIPSearchResult `json:"search,omitempty"`
	// Elements describe the element bytes a retrieve streamed.
	Elements []DOIPElementData `json:"elements,omitempty"`
	// Via says how the service was reached: "node" (this node's own service), "tls", "doip21"
	// or "tunnel".
	Via string `json:"via"`
}

// DOIPSearchResult is one page of a search.
type DOIPSearchResult struct {
	Size    int                   `json:"size"`
	IDs     []string              `json:"ids,omitempty"`
	Objects []*doip.DigitalObject `json:"objects,omitempty"`
	// Unreachable names the joined services a registry could not ask.
	Unreachable []string `json:"unreachable,omitempty"`
}

// DOIPElementData says what bytes of an element a retrieve streamed.
type DOIPElementData struct {
	ID     string `json:"id"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// maxDOIPBody bounds an OpDOIP request through the API: element bytes travel in it (base64).
const maxDOIPBody = 256 << 20

// OpDOIP performs one DOIP operation on a service and streams what it retrieves. Calls through
// the libp2p tunnel use the running node, or start one on the repo for their duration.
var OpDOIP = StreamOp[DOIPRequest, DOIPEvent, DOIPReply]{Name: "doip", MaxBody: maxDOIPBody,
	Run: func(ctx context.Context, l *Local, req DOIPRequest, emit func(DOIPEvent) error) (DOIPReply, error) {
		if err := req.check(l); err != nil {
			return DOIPReply{}, err
		}
		if req.Op == DOIPJoin || req.Op == DOIPQuit {
			// Say what is missing before dialing anything.
			var err error
			if req.ID, req.URL, err = l.joinTarget(req); err != nil {
				return DOIPReply{}, err
			}
		}
		if strings.HasPrefix(req.Peer, "doip21://") {
			return l.doip21(ctx, req, emit)
		}
		c, via, done, err := l.doipClient(ctx, req)
		if err != nil {
			return DOIPReply{}, err
		}
		defer done()
		rep, err := l.runDOIP(ctx, c, req, emit)
		rep.Via = via
		return rep, err
	}}

func (req *DOIPRequest) check(l *Local) error {
	switch req.Op {
	case DOIPHello, DOIPOps, DOIPSearch, DOIPJoin, DOIPQuit:
	case DOIPCreate:
		if req.Object == nil {
			return fmt.Errorf("%w: create needs an object", ErrBadRequest)
		}
	case DOIPRetrieve, DOIPUpdate, DOIPDelete:
		if req.ID == "" {
			return fmt.Errorf("%w: %s needs an object id", ErrBadRequest, req.Op)
		}
		if req.Op == DOIPUpdate && req.Object == nil {
			req.Object = &doip.DigitalObject{}
		}
	default:
		return fmt.Errorf("%w: unknown DOIP operation %q (hello, ops, create, retrieve, update, delete, search, join, quit)", ErrBadRequest, req.Op)
	}
	if len(req.Files) > 0 && l.daemon {
		return fmt.Errorf("%w: a daemon reads no element files for its callers: send their bytes", ErrBadRequest)
	}
	if req.Token != "" && req.Password != "" {
		return fmt.Errorf("%w: authenticate with a token or a password, not both", ErrBadRequest)
	}
	if req.Peer != "" && !strings.HasPrefix(req.Peer, "doip21://") {
		if err := doip.CheckURL(req.Peer); err != nil {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	return nil
}

// auth returns the authentication the request asks for, or nil for the default.
func (req *DOIPRequest) auth() doip.Auth {
	switch {
	case req.Token != "":
		return doip.TokenAuth(req.Token)
	case req.Password != "":
		return doip.PasswordAuth(req.Username, req.Password)
	}
	return nil
}

func (req *DOIPRequest) pin() (ed25519.PublicKey, error) {
	if req.Pin == "" {
		return nil, nil
	}
	pub, err := doip.PublicKeyOf(req.Pin)
	if err != nil {
		return nil, fmt.Errorf("%w: pin %q: %w", ErrBadRequest, req.Pin, err)
	}
	return pub, nil
}

// clientKey returns the node's key to name the client with, or nil when there is no repo.
func (l *Local) clientKey() (ed25519.PrivateKey, error) {
	if l.path == "" {
		return nil, nil
	}
	if _, err := os.Stat(filepath.Join(l.path, configFile)); err != nil {
		return nil, nil
	}
	return nodeKey(l.path)
}

// doipClient connects a DOIP 2.0 client to the service req names.
func (l *Local) doipClient(ctx context.Context, req DOIPRequest) (*doip.Client, string, func(), error) {
	var opts []doip.ClientOption
	if a := req.auth(); a != nil {
		opts = append(opts, doip.WithAuth(a))
	}
	pin, err := req.pin()
	if err != nil {
		return nil, "", nil, err
	}
	if pin != nil {
		opts = append(opts, doip.WithPin(pin))
	}
	if req.Service != "" {
		opts = append(opts, doip.WithTarget(req.Service))
	}
	var conn io.ReadWriteCloser
	via, done := "", func() {}
	switch {
	case req.Peer == "":
		if conn, done, err = l.ownDOIP(ctx, req.Anonymous); err != nil {
			return nil, "", nil, err
		}
		via = "node"
	case doip.IsMultiaddr(req.Peer):
		n, err := l.tunnelNode(ctx, req.Bootstrap)
		if err != nil {
			return nil, "", nil, err
		}
		if conn, err = n.dialDOIP(ctx, req.Peer); err != nil {
			return nil, "", nil, err
		}
		via = "tunnel"
	default:
		var key ed25519.PrivateKey
		if !req.Anonymous {
			if key, err = l.clientKey(); err != nil {
				return nil, "", nil, err
			}
		}
		c, err := doip.Dial(ctx, req.Peer, key, opts...)
		if err != nil {
			return nil, "", nil, err
		}
		return c, "tls", func() { c.Close() }, nil
	}
	c, err := doip.NewClient(conn, opts...)
	if err != nil {
		done()
		return nil, "", nil, err
	}
	return c, via, func() { c.Close(); done() }, nil
}

// tunnelNode returns the running node, or starts one on the repo for the Local's lifetime.
func (l *Local) tunnelNode(ctx context.Context, bootstrap []string) (*Node, error) {
	if n := l.Node(); n != nil {
		return n, nil
	}
	opts := []NodeOption{WithListen("/ip4/127.0.0.1/tcp/0")}
	if len(bootstrap) > 0 {
		opts = append(opts, WithBootstrapAddrs(bootstrap...))
	}
	n, err := l.StartNode(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if len(bootstrap) > 0 {
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.disc.Bootstrap(bctx); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// ownDOIP returns a connection to this node's own service: the running one, or, when no DOIP
// service runs, one served from the repo for this call. The caller is the node (its owner)
// unless anonymous.
func (l *Local) ownDOIP(ctx context.Context, anonymous bool) (io.ReadWriteCloser, func(), error) {
	if n := l.Node(); n != nil {
		if d := n.doipService(); d != nil {
			return d.pipe(anonymous), func() {}, nil
		}
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := l.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	key, err := nodeKey(r.Path)
	if err != nil {
		return nil, nil, err
	}
	// One repository writer at a time in this process: calls on a repo without a DOIP service
	// take turns.
	l.doipMu.Lock()
	unlock := sync.OnceFunc(l.doipMu.Unlock)
	fail := func(err error) (io.ReadWriteCloser, func(), error) { unlock(); return nil, nil, err }
	prefix, err := doipPrefix(r, "", key)
	if err != nil {
		return fail(err)
	}
	blobs, err := openDOIPBlobs(r)
	if err != nil {
		return fail(err)
	}
	users, err := doip.OpenUsers(filepath.Join(r.Path, doipUsersFile))
	if err != nil {
		return fail(err)
	}
	repo, err := openDOIPRepository(ctx, r, db, blobs, prefix, doip.WithRepoLogger(l.log))
	if err != nil {
		return fail(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	auth, err := doip.NewAuthenticator(pub, doip.WithUsers(users))
	if err != nil {
		return fail(err)
	}
	svc, err := doip.NewService(repo, key, doip.WithServiceLogger(l.log), doip.WithAuthenticator(auth))
	if err != nil {
		return fail(err)
	}
	srv, err := doip.NewServer(svc, doip.WithServerLogger(l.log))
	if err != nil {
		svc.Close()
		return fail(err)
	}
	a, b := net.Pipe()
	info := doip.ConnInfo{}
	if !anonymous {
		info.ClientID, info.PublicKey = doip.PeerID(pub), pub
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeConn(context.WithoutCancel(ctx), a, info) })
	return b, func() {
		b.Close()
		srv.Close()
		svc.Close()
		wg.Wait()
		unlock()
	}, nil
}

// elementData returns readers of the element bytes of a create or update, and closes the files
// it opened with close.
func (req *DOIPRequest) elementData() (map[string]io.Reader, func(), error) {
	data := map[string]io.Reader{}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for id, b := range req.Data {
		data[id] = strings.NewReader(string(b))
	}
	for id, path := range req.Files {
		if _, dup := data[id]; dup {
			closeAll()
			return nil, nil, fmt.Errorf("%w: element %q has bytes twice", ErrBadRequest, id)
		}
		f, err := os.Open(path)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		data[id] = f
	}
	if req.Object != nil {
		for id := range data {
			if req.Object.Element(id) == nil {
				closeAll()
				return nil, nil, fmt.Errorf("%w: bytes for element %q, which the object does not list", ErrBadRequest, id)
			}
		}
	}
	return data, closeAll, nil
}

// joinTarget returns the repoID and repoUrl of a join or quit: the request's, or this node's
// own service.
func (l *Local) joinTarget(req DOIPRequest) (string, string, error) {
	id, url := req.ID, req.URL
	if id != "" && (url != "" || req.Op == DOIPQuit) {
		return id, url, nil
	}
	n := l.Node()
	var info DOIPInfo
	ok := false
	if n != nil {
		info, ok = n.DOIP()
	}
	if !ok {
		return "", "", fmt.Errorf("%w: without a repo id and URL, %s names this node's DOIP service, and none runs", ErrNotRunning, req.Op)
	}
	if id == "" {
		id = info.ServiceID
	}
	if url == "" {
		url = info.TLS
		if url == "" {
			if addrs := n.Addrs(); len(addrs) > 0 {
				url = addrs[0]
			}
		}
	}
	return id, url, nil
}

// runDOIP performs req's operation on a DOIP 2.0 client.
func (l *Local) runDOIP(ctx context.Context, c *doip.Client, req DOIPRequest, emit func(DOIPEvent) error) (DOIPReply, error) {
	var rep DOIPReply
	var err error
	switch req.Op {
	case DOIPHello:
		rep.Object, err = c.Hello(ctx)
	case DOIPOps:
		rep.Operations, err = c.ListOperations(ctx, req.ID)
	case DOIPCreate, DOIPUpdate:
		data, closeFiles, derr := req.elementData()
		if derr != nil {
			return rep, derr
		}
		defer closeFiles()
		if req.Op == DOIPCreate {
			rep.Object, err = c.Create(ctx, req.Object, data)
		} else {
			do := *req.Object
			do.ID = req.ID
			rep.Object, err = c.Update(ctx, &do, data, req.Remove...)
		}
	case DOIPDelete:
		err = c.Delete(ctx, req.ID)
	case DOIPSearch:
		if _, err := doip.ParseSortFields(req.Sort); err != nil {
			return rep, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		rep.Search, err = search(ctx, c, req)
	case DOIPJoin, DOIPQuit:
		id, url, jerr := l.joinTarget(req)
		if jerr != nil {
			return rep, jerr
		}
		if req.Op == DOIPJoin {
			err = c.Join(ctx, id, url)
		} else {
			err = c.Quit(ctx, id)
		}
	case DOIPRetrieve:
		switch {
		case req.Element != "":
			var rc io.ReadCloser
			if rc, err = c.RetrieveElement(ctx, req.ID, req.Element); err == nil {
				var ed DOIPElementData
				ed, err = streamElement(req.Element, rc, emit)
				rc.Close()
				rep.Elements = []DOIPElementData{ed}
			}
		case req.WithData:
			rep.Object, rep.Elements, err = retrieveWithData(ctx, c, req.ID, emit)
		default:
			rep.Object, err = c.Retrieve(ctx, req.ID)
		}
	}
	return rep, err
}

// searchAttributes are the attributes of a search request, as CNRI's client sends them.
func (req *DOIPRequest) searchAttributes() map[string]any {
	typ := "full"
	if req.IDsOnly {
		typ = "id"
	}
	attrs := map[string]any{"query": req.Query, "pageNum": req.PageNum, "pageSize": req.PageSize, "type": typ}
	if req.Sort != "" {
		attrs["sortFields"] = req.Sort
	}
	return attrs
}

// search runs a search and reads its results and the joined services that did not answer.
func search(ctx context.Context, c *doip.Client, req DOIPRequest) (*DOIPSearchResult, error) {
	target, err := c.ServiceID(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, doip.Call{TargetID: target, OperationID: doip.OpSearch, Attributes: req.searchAttributes()})
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	if err := resp.Err(); err != nil {
		return nil, err
	}
	seg, err := resp.NextSegment()
	if err != nil {
		return nil, fmt.Errorf("search: no results in the response: %w", err)
	}
	b, err := seg.ReadJSON(64 << 20)
	if err != nil {
		return nil, err
	}
	return searchResult(b, resp.Attributes, req.IDsOnly)
}

// searchResult reads a search's output, {"size":N,"results":[...]}, and the attribute
// "unreachable" of a registry.
func searchResult(out, attrs []byte, ids bool) (*DOIPSearchResult, error) {
	var raw struct {
		Size    int               `json:"size"`
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("search results: %w", err)
	}
	res := &DOIPSearchResult{Size: raw.Size}
	if len(attrs) > 0 {
		var a struct {
			Unreachable []string `json:"unreachable"`
		}
		json.Unmarshal(attrs, &a)
		res.Unreachable = a.Unreachable
	}
	for _, r := range raw.Results {
		if ids {
			var id string
			if err := json.Unmarshal(r, &id); err != nil {
				return nil, fmt.Errorf("search results: %w", err)
			}
			res.IDs = append(res.IDs, id)
			continue
		}
		var do doip.DigitalObject
		if err := json.Unmarshal(r, &do); err != nil {
			return nil, fmt.Errorf("search results: %w", err)
		}
		res.Objects = append(res.Objects, &do)
	}
	return res, nil
}

// streamElement emits what r yields as events of element id, and says how much it was.
func streamElement(id string, r io.Reader, emit func(DOIPEvent) error) (DOIPElementData, error) {
	h := sha256.New()
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			h.Write(buf[:k])
			n += int64(k)
			if eerr := emit(DOIPEvent{Element: id, Data: slices.Clone(buf[:k])}); eerr != nil {
				return DOIPElementData{}, eerr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return DOIPElementData{}, err
		}
	}
	if n == 0 {
		// An empty element still says that it began.
		if err := emit(DOIPEvent{Element: id}); err != nil {
			return DOIPElementData{}, err
		}
	}
	return DOIPElementData{ID: id, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// retrieveWithData retrieves an object with includeElementData and streams each element's
// bytes.
func retrieveWithData(ctx context.Context, c *doip.Client, id string, emit func(DOIPEvent) error) (*doip.DigitalObject, []DOIPElementData, error) {
	resp, err := c.Do(ctx, doip.Call{TargetID: id, OperationID: doip.OpRetrieve, Attributes: map[string]any{"includeElementData": true}})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Close()
	if err := resp.Err(); err != nil {
		return nil, nil, err
	}
	seg, err := resp.NextSegment()
	if err != nil {
		return nil, nil, fmt.Errorf("retrieve %s: no object in the response: %w", id, err)
	}
	b, err := seg.ReadJSON(64 << 20)
	if err != nil {
		return nil, nil, err
	}
	var do doip.DigitalObject
	if err := json.Unmarshal(b, &do); err != nil {
		return nil, nil, fmt.Errorf("retrieve %s: the object is not valid JSON: %w", id, err)
	}
	var els []DOIPElementData
	for {
		seg, err := resp.NextSegment()
		if err == io.EOF {
			return &do, els, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if !seg.IsJSON() {
			return nil, nil, fmt.Errorf("retrieve %s: element bytes without a header", id)
		}
		hb, err := seg.ReadJSON(64 << 10)
		if err != nil {
			return nil, nil, err
		}
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(hb, &h); err != nil {
			return nil, nil, fmt.Errorf("retrieve %s: a malformed element header: %w", id, err)
		}
		seg, err = resp.NextSegment()
		if err != nil || seg.IsJSON() {
			return nil, nil, fmt.Errorf("retrieve %s: element %q has no bytes segment", id, h.ID)
		}
		ed, err := streamElement(h.ID, seg, emit)
		if err != nil {
			return nil, nil, err
		}
		els = append(els, ed)
	}
}
