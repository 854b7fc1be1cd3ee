package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/doip"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// A node's DOIP service (package doip) runs when WithDOIP turns it on: DOIP 2.0 over TLS, BDWare's
// DOIP 2.1 over TCP, and DOIP 2.0 on libp2p streams of DOIPProtocol (the tunnel), all answered
// by one router. The node's own repository is its writable core named DOIPCoreName, created on
// first use; its first transaction is the repository marker, the entity "doip:repository" with
// doip.repository/prefix, so that a node holding a replica of the core knows it for a DOIP
// repository and which prefix it serves. Such a node serves every replica repository it holds
// read-only, beside its own: the router sends a request to the repository of its target's
// prefix, and the node announces every prefix it serves (announce.go), so `doip resolve` finds
// the replicas of a repository whose owner is offline. Element bytes are blobs in the repo's
// doip-blobs directory; a replica fetches the bytes of its elements from the services of its
// prefix through the tunnel and keeps those whose CID matches the replicated datoms. Element bytes
// are the repo's blobs (corestore/blobs), so their CIDs are Kubo's.

// DOIPProtocol is the libp2p protocol of the DOIP 2.0 tunnel: DOIP 2.0 segments on a stream,
// whose remote peer is the client.
const DOIPProtocol = "/datomspace/doip/2.0.0"

// DOIPCoreName is the name of the writable core that holds a node's DOIP repository.
const DOIPCoreName = "doip"

// The repository marker, in the first transaction of a node's repository core.
const (
	doipRepoEntity = "doip:repository"
	attrRepoPrefix = "doip.repository/prefix"
)

// doipIncomingDir and doipUsersFile hold, beside the repo's store, the element bytes a replica
// is fetching and the password users of its DOIP service.
const (
	doipIncomingDir = "doip-incoming" // element bytes being fetched for a replica, until checked
	doipUsersFile   = "doip-users.json"
)

// ErrDOIPAddrInUse: a DOIP listen address that cannot be listened on. It matches ErrAddrInUse.
var ErrDOIPAddrInUse = fmt.Errorf("DOIP %w", ErrAddrInUse)

// DOIPOptions says how a node serves DOIP (see WithDOIP).
type DOIPOptions struct {
	// TLS is where DOIP 2.0 over TLS listens ("127.0.0.1:9000"; port 0 picks one); "" for no
	// TLS listener.
	TLS string
	// TCP21 is where BDWare's DOIP 2.1 over TCP listens; "" for none.
	TCP21 string
	// Prefix is the prefix of the ids the node mints, PREFIX/SUFFIX; "" keeps the repo's (its
	// config's doip.prefix), and a repo without one gets the node's peer ID. A new prefix is
	// saved in the config.
	Prefix string
	// Joiners may Join and Quit this service besides its owner: client ids (peer IDs, did:keys,
	// usernames), or "*" for any authenticated client.
	Joiners []string
	// Creators may create objects in the node's repository besides its owner, and change and
	// delete the objects they created.
	Creators []string
}

// WithDOIP runs the node's DOIP service (see DOIPOptions): the libp2p tunnel always, and the
// TLS and DOIP 2.1 listeners it names.
func WithDOIP(o DOIPOptions) NodeOption { return func(no *nodeOptions) { no.doip = &o } }

// DOIPInfo describes a running node's DOIP service.
type DOIPInfo struct {
	Prefix    string `json:"prefix"`
	ServiceID string `json:"serviceId"`
	// Repository is the key of the node's repository core.
	Repository string `json:"repository"`
	// TLS and TCP21 are the listeners' URLs, doip://HOST:PORT and doip21://HOST:PORT.
	TLS   string `json:"tls,omitempty"`
	TCP21 string `json:"tcp21,omitempty"`
	// Tunnel is the libp2p protocol.
	Tunnel string `json:"tunnel"`
	// Replicas are the other nodes' repositories this node serves read-only.
	Replicas []DOIPReplica `json:"replicas,omitempty"`
}

// DOIPReplica is a replica repository a node serves.
type DOIPReplica struct {
	Prefix     string `json:"prefix"`
	ServiceID  string `json:"serviceId"`
	Repository string `json:"repository"`
}

// doipNode is a node's running DOIP service: the router of its own repository's service and the
// read-only services of the replica repositories it holds.
type doipNode struct {
	n      *Node
	opts   DOIPOptions
	key    ed25519.PrivateKey
	prefix string
	blobs  doip.BlobStore
	users  *doip.Users
	own    *doip.Service
	srv    *doip.Server
	tls    net.Listener
	tcp21  net.Listener

	mu       sync.Mutex
	replicas map[corestore.Key]*replicaRepo
	byPrefix map[string]*replicaRepo
	changed  chan struct{} // closed when the set of served prefixes changes
}

// replicaRepo is a replica repository the node serves.
type replicaRepo struct {
	prefix string
	core   *corestore.Core
	svc    *doip.Service
	stop   context.CancelFunc // ends its blob mirror
}

// nodeKey returns the node's identity as an Ed25519 key.
func nodeKey(repoPath string) (ed25519.PrivateKey, error) {
	id, err := LoadIdentity(repoPath)
	if err != nil {
		return nil, err
	}
	return doip.Ed25519FromLibp2p(id)
}

// doipPrefix returns the prefix a repo's DOIP service serves: want when set, else the config's,
// else the node's peer ID; one that differs from the config's is saved there.
func doipPrefix(r *Repo, want string, key ed25519.PrivateKey) (string, error) {
	p := want
	if p == "" {
		p = r.Config.DOIP.Prefix
	}
	if p == "" {
		p = doip.PeerID(key.Public().(ed25519.PublicKey))
	}
	if err := CheckDOIPPrefix(p); err != nil {
		return "", err
	}
	if p != r.Config.DOIP.Prefix {
		r.Config.DOIP.Prefix = p
		if err := r.SaveConfig(); err != nil {
			return "", err
		}
	}
	return p, nil
}

// CheckDOIPPrefix reports whether p can be a DOIP prefix: 1 to 128 bytes without slashes or
// white space.
func CheckDOIPPrefix(p string) error {
	if p == "" || len(p) > 128 || strings.ContainsFunc(p, func(r rune) bool { return r == '/' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("%w: DOIP prefix %q: a prefix is 1 to 128 bytes without slashes, spaces or control characters", ErrBadRequest, p)
	}
	return nil
}

// openDOIPBlobs returns the blob store of a repo's DOIP repositories: the repo's blobs, so
// element bytes have Kubo's CIDs.
func openDOIPBlobs(r *Repo) (doip.BlobStore, error) {
	s, err := r.Blobs()
	if err != nil {
		return nil, err
	}
	return doip.NewUnixFSBlobs(s), nil
}

// openDOIPRepository opens the node's own repository, creating its core and writing the
// repository marker on first use.
func openDOIPRepository(ctx context.Context, r *Repo, db *datom.DB, blobs doip.BlobStore, prefix string, opts ...doip.RepoOption) (*doip.Repository, error) {
	c, err := r.Store.Create(ctx, DOIPCoreName)
	if err != nil {
		return nil, fmt.Errorf("DOIP repository core: %w", err)
	}
	if err := writeRepoMarker(ctx, db, c.Key(), prefix); err != nil {
		return nil, err
	}
	return doip.NewRepository(db, c.Key(), blobs, append([]doip.RepoOption{doip.WithPrefix(prefix)}, opts...)...)
}

// writeRepoMarker records in the repository core with key that it serves prefix, unless it says
// so already.
func writeRepoMarker(ctx context.Context, db *datom.DB, key corestore.Key, prefix string) error {
	e, err := db.Pull(ctx, key, doipRepoEntity)
	if err != nil && !errors.Is(err, datom.ErrNoEntity) {
		return fmt.Errorf("DOIP repository core %s: %w", key, err)
	}
	if e != nil {
		if vs := e.Attrs[attrRepoPrefix]; len(vs) == 1 && vs[0].Str == prefix {
			return nil
		}
	}
	var ds []datom.Datom
	sch, err := db.Schema(ctx, key)
	if err != nil {
		return err
	}
	if _, ok := sch[attrRepoPrefix]; !ok {
		se := "schema:" + attrRepoPrefix
		ds = append(ds, datom.Add(se, datom.AttrIdent, datom.String(attrRepoPrefix)),
			datom.Add(se, datom.AttrValueType, datom.String("string")),
			datom.Add(se, datom.AttrCardinality, datom.String("one")))
	}
	ds = append(ds, datom.Add(doipRepoEntity, attrRepoPrefix, datom.String(prefix)))
	if _, err := db.Transact(ctx, key, ds); err != nil {
		return fmt.Errorf("DOIP repository core %s: record its prefix: %w", key, err)
	}
	return nil
}

// repoMarker reports whether block 0 of a core is a DOIP repository's first transaction, and
// the prefix it names.
func repoMarker(block0 []byte) (string, bool) {
	if !datom.IsTxBlock(block0) {
		return "", false
	}
	tx, err := datom.DecodeTx(block0)
	if err != nil {
		return "", false
	}
	for _, d := range tx.Datoms {
		if d.E == doipRepoEntity && d.A == attrRepoPrefix && d.Added && d.V.Kind == datom.KindString {
			return d.V.Str, true
		}
	}
	return "", false
}

// startDOIP starts the node's DOIP service: its repository, listeners, tunnel handler and the
// watcher that serves the replica repositories the node holds.
func (n *Node) startDOIP(ctx context.Context) (err error) {
	o := *n.o.doip
	d := &doipNode{n: n, opts: o, replicas: map[corestore.Key]*replicaRepo{}, byPrefix: map[string]*replicaRepo{},
		changed: make(chan struct{})}
	if d.key, err = nodeKey(n.Repo.Path); err != nil {
		return err
	}
	if d.prefix, err = doipPrefix(n.Repo, o.Prefix, d.key); err != nil {
		return err
	}
	if d.blobs, err = openDOIPBlobs(n.Repo); err != nil {
		return err
	}
	if d.users, err = doip.OpenUsers(filepath.Join(n.Repo.Path, doipUsersFile)); err != nil {
		return err
	}
	repo, err := openDOIPRepository(ctx, n.Repo, n.DB, d.blobs, d.prefix, doip.WithRepoLogger(n.o.log))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.closeListeners()
		}
	}()
	if o.TLS != "" {
		// The certificate names the service id, which is the prefix's.
		if d.tls, err = doip.ListenTLS(o.TLS, d.key, d.prefix+"/service"); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrDOIPAddrInUse, o.TLS, err)
		}
	}
	if o.TCP21 != "" {
		if d.tcp21, err = net.Listen("tcp", o.TCP21); err != nil {
			return fmt.Errorf("%w: DOIP 2.1 on %s: %w", ErrDOIPAddrInUse, o.TCP21, err)
		}
	}
	if d.own, err = d.newService(repo, doip.WithAuthorizer(doip.OwnerOnly{Joiners: o.Joiners, Creators: o.Creators})); err != nil {
		return err
	}
	if d.srv, err = doip.NewServer(d, doip.WithServerLogger(n.o.log)); err != nil {
		return err
	}
	n.mu.Lock()
	n.doip = d
	n.mu.Unlock()
	n.host.SetStreamHandler(DOIPProtocol, d.handleStream)
	if d.tls != nil {
		ln := d.tls
		n.goroutine(func(context.Context) { d.srv.Serve(ln) })
	}
	if d.tcp21 != nil {
		ln := d.tcp21
		n.goroutine(func(context.Context) { d.srv.Serve21(ln) })
	}
	n.goroutine(d.watchReplicas)
	n.goroutine(func(ctx context.Context) {
		<-ctx.Done()
		n.host.RemoveStreamHandler(DOIPProtocol)
		d.close()
	})
	return nil
}

func (d *doipNode) closeListeners() {
	for _, ln := range []net.Listener{d.tls, d.tcp21} {
		if ln != nil {
			ln.Close()
		}
	}
}

// close stops the server (its listeners and connections) and the services.
func (d *doipNode) close() {
	d.srv.Close()
	d.own.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.replicas {
		r.stop()
		r.svc.Close()
	}
}

// newService returns a service of repo as this node runs it: its peer info, listeners, tunnel
// dialer and DHT resolver.
func (d *doipNode) newService(repo *doip.Repository, extra ...doip.ServiceOption) (*doip.Service, error) {
	auth, err := doip.NewAuthenticator(d.key.Public().(ed25519.PublicKey), doip.WithUsers(d.users))
	if err != nil {
		return nil, err
	}
	opts := []doip.ServiceOption{doip.WithServiceLogger(d.n.o.log), doip.WithAuthenticator(auth),
		doip.WithPeerInfo(func() doip.PeerInfo { return doip.PeerInfo{PeerID: d.n.ID().String(), Multiaddrs: d.n.Addrs()} }),
		doip.WithDialer(&doip.TLSDialer{Key: d.key, Multiaddr: doip.DialerFunc(d.n.dialDOIP)}),
		doip.WithResolver(d)}
	var lsn []doip.ListenerInfo
	if d.tls != nil {
		a := d.tls.Addr().(*net.TCPAddr)
		if !a.IP.IsUnspecified() {
			opts = append(opts, doip.WithAdvertise(a.IP.String(), a.Port))
		}
		lsn = append(lsn, doip.ListenerInfo{URL: "doip://" + a.String(), ProtocolVersion: "2.0"})
	}
	if d.tcp21 != nil {
		lsn = append(lsn, doip.ListenerInfo{URL: "doip21://" + d.tcp21.Addr().String(), ProtocolVersion: "2.1"})
	}
	if len(lsn) > 0 {
		opts = append(opts, doip.WithListeners(lsn...))
	}
	return doip.NewService(repo, d.key, append(opts, extra...)...)
}

// Process implements doip.Processor: a request goes to the repository of its target's prefix,
// a replica's when the node serves one for it, else to the node's own.
func (d *doipNode) Process(ctx context.Context, req *doip.Request, w doip.ResponseWriter) error {
	return d.route(req.TargetID).Process(ctx, req, w)
}

func (d *doipNode) route(target string) *doip.Service {
	p := doip.PrefixOf(target)
	if p == "" || p == d.prefix {
		return d.own
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.byPrefix[p]; ok {
		return r.svc
	}
	return d.own
}

// handleStream serves DOIP 2.0 on a tunnel stream, whose remote peer libp2p authenticated.
func (d *doipNode) handleStream(s network.Stream) {
	info := doip.ConnInfo{ClientID: s.Conn().RemotePeer().String()}
	if pk := s.Conn().RemotePublicKey(); pk != nil && pk.Type() == crypto.Ed25519 {
		if raw, err := pk.Raw(); err == nil {
			info.PublicKey = raw
		}
	}
	d.srv.ServeConn(d.n.ctx, s, info)
}

// pipe returns a connection to the node's own DOIP server, on which the node itself is the
// client (owner), or anonymous when anonymous is set.
func (d *doipNode) pipe(anonymous bool) io.ReadWriteCloser {
	a, b := net.Pipe()
	info := doip.ConnInfo{}
	if !anonymous {
		info.ClientID, info.PublicKey = d.n.ID().String(), d.key.Public().(ed25519.PublicKey)
	}
	if !d.n.goroutine(func(ctx context.Context) { d.srv.ServeConn(ctx, a, info) }) {
		a.Close() // the node is closing: the caller reads EOF
	}
	return b
}

// Resolve implements doip.Resolver: the peers that announced the id's prefix in the DHT, other
// than this node, as tunnel URLs. The node's own prefix is not resolved: it is the authority.
func (d *doipNode) Resolve(ctx context.Context, id string) ([]string, error) {
	p := doip.PrefixOf(id)
	if p == "" || p == d.prefix {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []string
	for ai := range d.n.disc.FindProviders(ctx, doip.PrefixDiscoveryKey(p), 8) {
		if ai.ID == d.n.ID() {
			continue
		}
		d.n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		out = append(out, "/p2p/"+ai.ID.String())
	}
	return out, nil
}

// info describes the running service.
func (d *doipNode) info() DOIPInfo {
	in := DOIPInfo{Prefix: d.prefix, ServiceID: d.own.ID(), Repository: d.own.Repository().Key().String(), Tunnel: DOIPProtocol}
	if d.tls != nil {
		in.TLS = "doip://" + d.tls.Addr().String()
	}
	if d.tcp21 != nil {
		in.TCP21 = "doip21://" + d.tcp21.Addr().String()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.byPrefix {
		in.Replicas = append(in.Replicas, DOIPReplica{Prefix: r.prefix, ServiceID: r.svc.ID(), Repository: r.core.Key().String()})
	}
	slices.SortFunc(in.Replicas, func(a, b DOIPReplica) int { return strings.Compare(a.Prefix, b.Prefix) })
	return in
}

// prefixes returns the prefixes the node serves, its own first, and a channel closed when they
// change.
func (d *doipNode) prefixes() ([]string, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []string{d.prefix}
	for p := range d.byPrefix {
		out = append(out, p)
	}
	slices.Sort(out[1:])
	return out, d.changed
}

// notify says that the served prefixes changed. Called with d.mu held.
func (d *doipNode) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// DOIP describes the node's DOIP service, or returns false when it runs none.
func (n *Node) DOIP() (DOIPInfo, bool) {
	d := n.doipService()
	if d == nil {
		return DOIPInfo{}, false
	}
	return d.info(), true
}

func (n *Node) doipService() *doipNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.doip
}

// dialDOIP opens a tunnel stream to the DOIP service of the peer a multiaddr names (with
// /p2p/; "/p2p/ID" alone uses the addresses the node knows for it). Dialing the node itself
// connects to its own service, as its owner.
func (n *Node) dialDOIP(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a multiaddr: %w", doip.ErrBadURL, addr, err)
	}
	ai, err := lpeer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %q needs a /p2p/PEER-ID part: %w", doip.ErrBadURL, addr, err)
	}
	if ai.ID == n.ID() {
		d := n.doipService()
		if d == nil {
			return nil, fmt.Errorf("%w: %s is this node, which serves no DOIP (serve --doip)", ErrNotRunning, ai.ID)
		}
		return d.pipe(false), nil
	}
	if len(ai.Addrs) > 0 {
		n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	if err := n.host.Connect(ctx, lpeer.AddrInfo{ID: ai.ID}); err != nil {
		return nil, fmt.Errorf("connect to DOIP peer %s: %w", ai.ID, err)
	}
	s, err := n.host.NewStream(ctx, ai.ID, DOIPProtocol)
	if err != nil {
		return nil, fmt.Errorf("DOIP tunnel to %s: %w", ai.ID, err)
	}
	return s, nil
}
