package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/datomspace/datomspace/dwn/dwncore"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// dwnRoutes are the DWN operations: one message to a DWN (this node's, a peer's over
// DWNProtocol, or one at a dwn-server URL), the node's DWN and its tenants, holding a tenant,
// and finding a tenant's nodes.
func dwnRoutes() []route { return []route{OpDWN, OpDWNInfo, OpDWNTenant, OpDWNNodes} }

// Errors of the DWN operations.
var (
	// ErrNoDWN: the running node serves no DWN.
	ErrNoDWN = errors.New("the node runs no DWN service")
	// ErrNoDWNNodes: no node of the tenant was found within the timeout.
	ErrNoDWNNodes = errors.New("no node of the tenant was found")
)

// DWNRequest is one message for a DWN.
type DWNRequest struct {
	// Target is the tenant DID the message is for.
	Target string `json:"target"`
	// Message is the DWN message (JSON).
	Message json.RawMessage `json:"message"`
	// Data is the record data of a RecordsWrite (HasData: there is data, maybe empty). File
	// names a file to read it from instead, which only a call run in the CLI's own process may
	// do (a daemon reads no files for its callers).
	Data    []byte `json:"data,omitempty"`
	HasData bool   `json:"hasData,omitempty"`
	File    string `json:"file,omitempty"`
	// Peer is a node to send it to over DWNProtocol: a multiaddr with /p2p/, or /p2p/PEER-ID
	// alone (its addresses from the DHT). URL is a dwn-server's (or a node's `serve --dwn`)
	// http://HOST:PORT. Neither: this node's own DWN (the daemon's, or the repo's).
	Peer string `json:"peer,omitempty"`
	URL  string `json:"url,omitempty"`
	// Bootstrap peers, for the node a Peer call starts when no daemon runs.
	Bootstrap []string `json:"bootstrap,omitempty"`
}

// DWNEvent is a piece of the record data a reply streams.
type DWNEvent struct {
	Data []byte `json:"data"`
}

// DWNReply is what the DWN answered.
type DWNReply struct {
	// Reply is the DWN reply: {status: {code, detail}, entries?, record?, cursor?}.
	Reply json.RawMessage `json:"reply"`
	// Data describes the record data streamed as events, when the reply had any.
	Data *DWNData `json:"data,omitempty"`
	// Via says how the DWN was reached: "node" (the daemon's own), "repo" (this repo, without a
	// daemon), "peer" (DWNProtocol) or "http".
	Via string `json:"via"`
}

// DWNData describes record data a reply carried.
type DWNData struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Status returns the reply's status code and detail.
func (r DWNReply) Status() (int, string) {
	var st struct {
		Status struct {
			Code   int    `json:"code"`
			Detail string `json:"detail"`
		} `json:"status"`
	}
	json.Unmarshal(r.Reply, &st)
	return st.Status.Code, st.Status.Detail
}

// maxDWNBody bounds an OpDWN request through the API: record data travels in it (base64).
const maxDWNBody = 256 << 20

// OpDWN sends one message to a DWN and streams the record data of its reply. Calls to a peer use
// the running node, or start one on the repo for their duration; calls to this node's own DWN
// without a daemon run on the repo.
var OpDWN = StreamOp[DWNRequest, DWNEvent, DWNReply]{Name: "dwn", MaxBody: maxDWNBody,
	Run: func(ctx context.Context, l *Local, req DWNRequest, emit func(DWNEvent) error) (DWNReply, error) {
		if err := req.check(l); err != nil {
			return DWNReply{}, err
		}
		data, closeData, err := req.data()
		if err != nil {
			return DWNReply{}, err
		}
		defer closeData()
		var cr *jsonrpc.ClientReply
		var via string
		switch {
		case req.URL != "":
			via = "http"
			cr, err = (&jsonrpc.Client{URL: req.URL}).Process(ctx, req.Target, req.Message, data)
		default:
			var cl *jsonrpc.StreamClient
			var done func()
			cl, via, done, err = l.dwnClient(ctx, req)
			if err != nil {
				return DWNReply{}, err
			}
			defer done()
			cr, err = cl.Process(ctx, req.Target, req.Message, data)
		}
		if err != nil {
			return DWNReply{Via: via}, fmt.Errorf("DWN %s: %w", via, err)
		}
		rep, err := dwnReply(cr, emit)
		rep.Via = via
		return rep, err
	}}

func (req *DWNRequest) check(l *Local) error {
	if err := CheckDID(req.Target); err != nil {
		return fmt.Errorf("%w: target: %w", ErrBadRequest, err)
	}
	if len(bytes.TrimSpace(req.Message)) == 0 {
		return fmt.Errorf("%w: no message", ErrBadRequest)
	}
	if _, err := jsv.Parse(req.Message); err != nil {
		return fmt.Errorf("%w: the message is not JSON: %v", ErrBadRequest, err)
	}
	if req.File != "" && l.daemon {
		return fmt.Errorf("%w: a daemon reads no data files for its callers: send the bytes", ErrBadRequest)
	}
	if req.File != "" && (req.HasData || len(req.Data) > 0) {
		return fmt.Errorf("%w: data given twice, as bytes and as a file", ErrBadRequest)
	}
	if req.Peer != "" && req.URL != "" {
		return fmt.Errorf("%w: give a peer or a URL, not both", ErrBadRequest)
	}
	if req.URL != "" && !strings.HasPrefix(req.URL, "http://") && !strings.HasPrefix(req.URL, "https://") {
		return fmt.Errorf("%w: DWN URL %q: give http://HOST:PORT", ErrBadRequest, req.URL)
	}
	return nil
}

// data returns the record data of the request (nil for none).
func (req *DWNRequest) data() (io.Reader, func(), error) {
	switch {
	case req.File != "":
		f, err := os.Open(req.File)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	case req.HasData || len(req.Data) > 0:
		return bytes.NewReader(req.Data), func() {}, nil
	}
	return nil, func() {}, nil
}

// dwnClient returns a stream client of the DWN req names: a peer's, the daemon's own, or the
// repo's.
func (l *Local) dwnClient(ctx context.Context, req DWNRequest) (*jsonrpc.StreamClient, string, func(), error) {
	if req.Peer != "" {
		n := l.Node()
		if n == nil {
			var err error
			if n, err = l.tunnelNode(ctx, req.Bootstrap); err != nil {
				return nil, "", nil, err
			}
		}
		ai, err := parsePeerAddr(req.Peer)
		if err != nil {
			return nil, "", nil, err
		}
		if ai.ID != n.ID() {
			s, err := n.dialDWN(ctx, ai)
			if err != nil {
				return nil, "", nil, err
			}
			return jsonrpc.NewStreamClient(s), "peer", func() { s.Close() }, nil
		}
	}
	if n := l.Node(); n != nil {
		d := n.dwnService()
		if d == nil {
			return nil, "", nil, ErrNoDWN
		}
		cl, done, err := d.pipe()
		return cl, "node", done, err
	}
	srv, err := l.repoDWN(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	a, b := net.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeStream(context.WithoutCancel(ctx), a); a.Close() })
	return jsonrpc.NewStreamClient(b), "repo", func() { b.Close(); wg.Wait() }, nil
}

// parsePeerAddr parses a multiaddr with /p2p/ (or /p2p/ID alone).
func parsePeerAddr(s string) (lpeer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return lpeer.AddrInfo{}, fmt.Errorf("%w: %q is not a multiaddr: %w", ErrBadRequest, s, err)
	}
	ai, err := lpeer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return lpeer.AddrInfo{}, fmt.Errorf("%w: %q needs a /p2p/PEER-ID part: %w", ErrBadRequest, s, err)
	}
	return *ai, nil
}

// dialDWN opens a DWNProtocol stream to ai (its addresses, or those the node knows or the DHT
// finds for its peer ID).
func (n *Node) dialDWN(ctx context.Context, ai lpeer.AddrInfo) (io.ReadWriteCloser, error) {
	if len(ai.Addrs) > 0 {
		n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.connectPeer(cctx, ai.ID); err != nil {
		return nil, fmt.Errorf("connect to DWN peer %s: %w", ai.ID, err)
	}
	s, err := n.host.NewStream(cctx, ai.ID, DWNProtocol)
	if err != nil {
		return nil, fmt.Errorf("DWN stream to %s: %w", ai.ID, err)
	}
	return s, nil
}

// repoDWN returns the JSON-RPC server of the repo's DWN, opened on first use for the Local's
// lifetime (operations without a daemon).
func (l *Local) repoDWN(ctx context.Context) (*jsonrpc.Server, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dwn != nil {
		return l.dwn, nil
	}
	store, err := openDWNStore(ctx, r, newTenantGate(r.Config.DWN.Tenants), l, nil)
	if err != nil {
		return nil, err
	}
	srv, err := jsonrpc.New(store.Node(), jsonrpc.WithTenantCores(jsonrpc.OpenTenantCores(store.TenantCoreKey)), jsonrpc.WithLogger(l.log))
	if err != nil {
		store.Close()
		return nil, err
	}
	l.dwn = srv
	l.cleanup = append(l.cleanup, func() { srv.Close(); store.Close() })
	return srv, nil
}

// dwnReply reads a JSON-RPC response: the reply, and the record data as events.
func dwnReply(cr *jsonrpc.ClientReply, emit func(DWNEvent) error) (DWNReply, error) {
	if cr.Data != nil {
		defer cr.Data.Close()
	}
	if cr.Error != nil {
		return DWNReply{}, fmt.Errorf("%w %d: %s", ErrDWNRPC, cr.Error.Code, cr.Error.Message)
	}
	if cr.Reply == nil {
		return DWNReply{}, fmt.Errorf("%w: a response without a reply", ErrDWNRPC)
	}
	rep := DWNReply{Reply: json.RawMessage(jsv.Stringify(cr.Reply))}
	if cr.Data == nil {
		return rep, nil
	}
	h := sha256.New()
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, err := io.ReadFull(cr.Data, buf)
		if k > 0 {
			h.Write(buf[:k])
			n += int64(k)
			if eerr := emit(DWNEvent{Data: slices.Clone(buf[:k])}); eerr != nil {
				return rep, eerr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("record data: %w", err)
		}
	}
	rep.Data = &DWNData{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	return rep, nil
}

// OpDWNInfo describes this node's DWN: its did:key, whether it runs, and its tenants.
var OpDWNInfo = Op[None, DWNInfo]{Name: "dwn-info", Run: func(ctx context.Context, l *Local, _ None) (DWNInfo, error) {
	if n := l.Node(); n != nil {
		if in, ok := n.DWN(ctx); ok {
			return in, nil
		}
	}
	return l.repoDWNInfo(ctx)
}}

// repoDWNInfo describes the repo's DWN when no node serves it.
func (l *Local) repoDWNInfo(ctx context.Context) (DWNInfo, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return DWNInfo{}, err
	}
	s, err := NodeDWNSigner(r.Path)
	if err != nil {
		return DWNInfo{}, err
	}
	others, err := repoTenants(ctx, r)
	if err != nil {
		return DWNInfo{}, err
	}
	return DWNInfo{DID: s.DID, Protocol: DWNProtocol, Open: len(r.Config.DWN.Tenants) == 0,
		Tenants: describeTenants(ctx, r, others)}, nil
}

// DWNTenantRequest holds a tenant, or (Remove) stops holding one.
type DWNTenantRequest struct {
	DID    string `json:"did"`
	Remove bool   `json:"remove,omitempty"`
	// Authorization is the tenant's authorization of this node (AuthorizeDWNNode), which lets it
	// sync the tenant with the tenant's other nodes; it is checked and kept in the config. Without
	// one the node holds the tenant but syncs it with nobody (unless the tenant is the node's own
	// did:key). Removing a tenant removes its authorization.
	Authorization json.RawMessage `json:"authorization,omitempty"`
}

// OpDWNTenant adds a tenant to those the repo's config holds, or removes one. A running node
// starts (or stops) syncing it at once, starting its DWN service on the libp2p protocol if it
// runs none; what the node holds of a tenant it stops holding stays in its cores.
var OpDWNTenant = Op[DWNTenantRequest, DWNInfo]{Name: "dwn-tenant", Run: func(ctx context.Context, l *Local, req DWNTenantRequest) (DWNInfo, error) {
	if err := CheckDID(req.DID); err != nil {
		return DWNInfo{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return DWNInfo{}, err
	}
	n := l.Node()
	if n != nil {
		n.dwnMu.Lock()
		defer n.dwnMu.Unlock()
	}
	if req.Remove {
		held, err := removeConfigTenant(r, req.DID)
		if err != nil {
			return DWNInfo{}, err
		}
		if !held {
			return DWNInfo{}, fmt.Errorf("%w: this node does not hold %s", ErrBadRequest, req.DID)
		}
		if err := r.setDWNAuthorization(ctx, req.DID, nil); err != nil {
			return DWNInfo{}, err
		}
	} else {
		if req.Authorization != nil {
			if err := r.setDWNAuthorization(ctx, req.DID, req.Authorization); err != nil {
				return DWNInfo{}, err
			}
		}
		if err := addConfigTenants(r, req.DID); err != nil {
			return DWNInfo{}, err
		}
	}
	if n == nil || !n.isStarted() {
		return l.repoDWNInfo(ctx)
	}
	d := n.dwnService()
	if d == nil {
		if req.Remove {
			return l.repoDWNInfo(ctx)
		}
		n.o.dwn = &DWNOptions{}
		if err := n.startDWN(ctx); err != nil {
			return DWNInfo{}, err
		}
		d = n.dwnService()
	}
	d.gate.setTenant(req.DID, !req.Remove)
	d.reconcile(n.ctx)
	in, _ := n.DWN(ctx)
	return in, nil
}}

// DWNNodesRequest asks for the nodes of a tenant.
type DWNNodesRequest struct {
	DID string `json:"did"`
	// Bootstrap peers, for the node a lookup starts when no daemon runs; Peers are asked
	// besides the DHT.
	Bootstrap []string `json:"bootstrap,omitempty"`
	Peers     []string `json:"peers,omitempty"`
	// Timeout bounds the DHT lookup (default 20 s); Max is the most nodes to ask (default 16).
	Timeout time.Duration `json:"timeout,omitempty"`
	Max     int           `json:"max,omitempty"`
}

// DWNNode is one node of a tenant.
type DWNNode struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs,omitempty"`
	// Self: this node.
	Self bool `json:"self,omitempty"`
	// Core and Length are the node's core for the tenant, as it says; Error says why it did not.
	Core   string `json:"core,omitempty"`
	Length uint64 `json:"length"`
	Error  string `json:"error,omitempty"`
}

// DWNNodesReply lists a tenant's nodes.
type DWNNodesReply struct {
	Tenant       string    `json:"tenant"`
	DiscoveryKey string    `json:"discoveryKey"`
	Nodes        []DWNNode `json:"nodes"`
}

// OpDWNNodes finds the nodes that announce a tenant in the DHT (this node too, when it syncs the
// tenant) and asks each for its core of the tenant.
var OpDWNNodes = Op[DWNNodesRequest, DWNNodesReply]{Name: "dwn-nodes", Run: func(ctx context.Context, l *Local, req DWNNodesRequest) (DWNNodesReply, error) {
	if err := CheckDID(req.DID); err != nil {
		return DWNNodesReply{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if req.Timeout < 0 || req.Max < 0 {
		return DWNNodesReply{}, fmt.Errorf("%w: a negative timeout or max", ErrBadRequest)
	}
	timeout, max := req.Timeout, req.Max
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	if max == 0 {
		max = 16
	}
	peers, err := ParseAddrs(req.Peers)
	if err != nil {
		return DWNNodesReply{}, fmt.Errorf("%w: peer: %w", ErrBadRequest, err)
	}
	if _, err := ParseAddrs(req.Bootstrap); err != nil {
		return DWNNodesReply{}, fmt.Errorf("%w: bootstrap: %w", ErrBadRequest, err)
	}
	n := l.Node()
	if n == nil {
		if n, err = l.tunnelNode(ctx, req.Bootstrap); err != nil {
			return DWNNodesReply{}, err
		}
	}
	dk := dwncore.DiscoveryKey(req.DID)
	rep := DWNNodesReply{Tenant: req.DID, DiscoveryKey: hex.EncodeToString(dk[:]), Nodes: []DWNNode{}}
	if d := n.dwnService(); d != nil {
		if dids, _ := d.synced(); slices.Contains(dids, req.DID) {
			self := DWNNode{Peer: n.ID().String(), Addrs: n.Addrs(), Self: true}
			if k, length, ok := d.store.CoreKey(req.DID); ok {
				self.Core, self.Length = k.String(), length
			}
			rep.Nodes = append(rep.Nodes, self)
		}
	}
	found := map[lpeer.ID]bool{n.ID(): true}
	var ask []lpeer.AddrInfo
	for _, p := range peers {
		if !found[p.ID] {
			found[p.ID] = true
			ask = append(ask, p)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	for ai := range n.disc.FindProviders(fctx, dk, max) {
		if !found[ai.ID] {
			found[ai.ID] = true
			ask = append(ask, ai)
		}
	}
	cancel()
	if len(ask) == 0 && len(rep.Nodes) == 0 {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, fmt.Errorf("%w: %s, within %s", ErrNoDWNNodes, req.DID, timeout)
	}
	for _, ai := range ask {
		node := DWNNode{Peer: ai.ID.String()}
		for _, a := range ai.Addrs {
			node.Addrs = append(node.Addrs, a.String()+"/p2p/"+ai.ID.String())
		}
		actx, acancel := context.WithTimeout(ctx, dwnAsk)
		key, length, err := tenantCoreOf(actx, n, ai, req.DID)
		acancel()
		if err != nil {
			node.Error = err.Error()
		} else {
			node.Core, node.Length = hex.EncodeToString(key), length
		}
		rep.Nodes = append(rep.Nodes, node)
	}
	return rep, nil
}}

// tenantCoreOf asks peer ai for the key and length of its core of tenant.
func tenantCoreOf(ctx context.Context, n *Node, ai lpeer.AddrInfo, tenant string) ([]byte, uint64, error) {
	s, err := n.dialDWN(ctx, ai)
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	if dl, ok := s.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Now().Add(dwnAsk))
	}
	own, _ := n.Repo.dwnAuthorization(tenant)
	rep, err := jsonrpc.NewStreamClient(s).TenantCore(ctx, tenant, own)
	if err != nil {
		return nil, 0, err
	}
	if err := verifyDWNNode(ctx, rep.Authorization, tenant, ai.ID); err != nil {
		return nil, 0, err
	}
	return rep.Key, rep.Length, nil
}
