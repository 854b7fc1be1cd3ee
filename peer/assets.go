package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/protocols"
)

// A node's asset layer (package datom/asset): its registry of the owners whose assets it knows,
// its own assets as an owner, and what it does with them on the network.
//
//   - As the replicator's protocols.Access it rules, after the capability check of every sync
//     stream, whether the node serves the core to the peer (asset.Registry.Decide), and tells
//     the peer where the asset's catalog and grants are (an asset.Hint). That is the same on
//     the owner's node and on every replica.
//   - As an opener it learns from the hints it is told, tracks the owner's catalog and grants
//     (a started node follows them, so that it can enforce them when it serves the core in
//     turn), and for an encrypted asset fetches the catalog and asks for the block key.
//   - It serves key release and queries (asset.KeyReleaseProtocol, asset.QueryProtocol).
//   - A started node appends a time checkpoint to its grants core every CheckpointInterval, and
//     rules again every second on the open sessions of asset cores, so a revocation or an
//     expiry ends them.

// Defaults of the asset layer.
const (
	DefaultCheckpointInterval = time.Minute
	reauthInterval            = time.Second
	keyReleaseTimeout         = 15 * time.Second
)

type assetOptions struct {
	checkpoint time.Duration
	clock      func() time.Time
}

// WithCheckpointInterval sets how often a started node appends a time checkpoint to its grants
// core (default DefaultCheckpointInterval). Grants whose max-stale is shorter are refused by
// replicas between checkpoints.
func WithCheckpointInterval(d time.Duration) NodeOption {
	return func(o *nodeOptions) {
		if d > 0 {
			o.assets.checkpoint = d
		}
	}
}

// WithAssetClock sets the clock grants are checked against (tests).
func WithAssetClock(now func() time.Time) NodeOption {
	return func(o *nodeOptions) { o.assets.clock = now }
}

// assetService is the asset layer of a repo, with a node or without one.
type assetService struct {
	store  *corestore.Store
	log    *slog.Logger
	reg    *asset.Registry
	owner  *asset.Owner
	signer *asset.Signer
	opts   assetOptions
	node   *Node // nil without a running node

	mu       sync.Mutex
	released map[corestore.Key]error         // the last key release's failure, per core
	fetching map[corestore.Key]chan struct{} // key releases in progress

	keySrv, querySrv *protocols.RequestServer
}

func newAssetService(ctx context.Context, store *corestore.Store, identity crypto.PrivKey, log *slog.Logger, opts assetOptions) (*assetService, error) {
	signer, err := asset.NewSigner(identity)
	if err != nil {
		return nil, err
	}
	ropts := []asset.RegistryOption{asset.WithLogger(log)}
	if opts.clock != nil {
		ropts = append(ropts, asset.WithClock(opts.clock))
	}
	reg, err := asset.OpenRegistry(ctx, store, ropts...)
	if err != nil {
		return nil, err
	}
	if opts.checkpoint <= 0 {
		opts.checkpoint = DefaultCheckpointInterval
	}
	s := &assetService{store: store, log: log, reg: reg, signer: signer, owner: asset.NewOwner(store, signer, reg), opts: opts,
		released: map[corestore.Key]error{}, fetching: map[corestore.Key]chan struct{}{}}
	return s, nil
}

// assets returns the repo's asset layer: the running node's, or one on the repo.
func (l *Local) assets(ctx context.Context) (*assetService, error) {
	if n := l.Node(); n != nil {
		return n.assets, nil
	}
	r, err := l.Repo(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.assetsOf != nil {
		return l.assetsOf, nil
	}
	id, err := LoadIdentity(r.Path)
	if err != nil {
		return nil, err
	}
	s, err := newAssetService(ctx, r.Store, id, l.log, assetOptions{})
	if err != nil {
		return nil, err
	}
	l.assetsOf = s
	return s, nil
}

// attach serves the asset protocols on the node's host.
func (s *assetService) attach(n *Node) {
	s.node = n
	s.keySrv = protocols.ServeRequests(n.host, protocol.ID(asset.KeyReleaseProtocol), asset.MaxKeyRequestSize, s.log, s.serveKey)
	s.querySrv = protocols.ServeRequests(n.host, protocol.ID(asset.QueryProtocol), asset.MaxQueryRequestSize, s.log, s.serveQuery)
}

// start runs the node's background asset work.
func (s *assetService) start(n *Node) {
	for _, ref := range s.reg.Owners() {
		s.follow(ref)
	}
	n.goroutine(s.checkpointLoop)
	n.goroutine(s.reauthLoop)
}

func (s *assetService) close() error {
	var errs []error
	if s.keySrv != nil {
		errs = append(errs, s.keySrv.Close())
	}
	if s.querySrv != nil {
		errs = append(errs, s.querySrv.Close())
	}
	return errors.Join(errs...)
}

// follow keeps the catalog and grants of another owner up to date on a started node.
func (s *assetService) follow(ref asset.Ref) {
	n := s.node
	if n == nil || ref.Owner == s.signer.Principal() || !n.isStarted() {
		return
	}
	for _, k := range []corestore.Key{ref.Catalog, ref.Grants} {
		if c, err := s.store.Get(n.ctx, k); err == nil && c.Writable() {
			continue
		}
		if err := n.Follow(k); err != nil {
			s.log.Debug("follow an owner's asset core", "core", k.String(), "err", err)
		}
	}
}

func (s *assetService) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.checkpoint)
	defer t.Stop()
	for {
		if err := s.owner.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("append a grants checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reauthLoop rules again, every second, on the open sessions of the cores that belong to
// assets, so that a revocation, an expiry or a stale grants core ends them.
func (s *assetService) reauthLoop(ctx context.Context) {
	every(ctx, reauthInterval, func() { s.node.reauthorize(ctx, s.reg.Cores()) })
}

// refusal turns a ruling's error into what the peer is told.
func refusal(err error, meta []byte) *protocols.Refusal {
	code := "refused"
	for _, e := range refusalCodes {
		if errors.Is(err, e) {
			code = e.Error()
			break
		}
	}
	return &protocols.Refusal{Code: code, Message: err.Error(), Meta: meta}
}

// refusalCodes are the refusals a peer is told by code; the code is the sentinel's message.
var refusalCodes = []error{asset.ErrNoGrant, asset.ErrGrantExpired, asset.ErrGrantNotYetValid, asset.ErrGrantRevoked,
	asset.ErrGrantsStale, asset.ErrWrongAction, asset.ErrComputeOnly, asset.ErrCatalogNotHeld, asset.ErrRetired,
	asset.ErrBroaderThanParent, asset.ErrBadGrant, asset.ErrQueryNotAllowed, asset.ErrKeyNotHeld, asset.ErrNoAsset}

// refusedError turns a refusal received from a peer back into an error that matches both
// protocols.ErrRefused and the asset sentinel its code names.
func refusedError(ref *protocols.Refusal) error {
	for _, e := range refusalCodes {
		if ref.Code == e.Error() {
			return fmt.Errorf("%w: %w", protocols.ErrRefused, &remoteRefusal{ref: ref, err: e})
		}
	}
	return ref
}

// remoteRefusal is a peer's refusal with the sentinel its code names.
type remoteRefusal struct {
	ref *protocols.Refusal
	err error
}

func (r *remoteRefusal) Error() string {
	if r.ref.Message == "" || r.ref.Message == r.ref.Code {
		return r.ref.Code
	}
	return r.ref.Message
}
func (r *remoteRefusal) Unwrap() error { return r.err }

func principalOf(p lpeer.ID) asset.Principal {
	pr, _ := asset.PrincipalOfPeer(p) // a peer that is not Ed25519 holds no grant: the zero principal
	return pr
}

// Authorize implements protocols.Access: the registry's ruling on a download.
func (s *assetService) Authorize(ctx context.Context, core *corestore.Core, remote lpeer.ID, credential []byte) ([]byte, *protocols.Refusal) {
	var chains []asset.Chain
	if len(credential) > 0 {
		var err error
		if chains, err = asset.DecodeCredential(credential); err != nil {
			return nil, refusal(err, nil)
		}
	}
	d := s.reg.Decide(ctx, asset.Request{Core: core, Remote: principalOf(remote), Chains: chains, Purpose: asset.Download})
	var meta []byte
	if d.Hint != nil {
		meta = d.Hint.Encode()
	}
	if d.Err != nil {
		return meta, refusal(d.Err, meta)
	}
	return meta, nil
}

// Credential implements protocols.Access: the delegation chains this peer holds for the
// catalogs core is claimed by.
func (s *assetService) Credential(core *corestore.Core, remote lpeer.ID) []byte {
	chains := s.reg.HeldFor(core.Key(), s.signer.Principal())
	if len(chains) == 0 {
		return nil
	}
	b, err := asset.EncodeCredential(chains)
	if err != nil {
		s.log.Debug("credential too large; presenting the first chain only", "err", err)
		if b, err = asset.EncodeCredential(chains[:1]); err != nil {
			return nil
		}
	}
	return b
}

// Answered implements protocols.Access: it learns from the responder's hint, and for an
// encrypted core whose key it lacks, asks for the key before the session starts.
func (s *assetService) Answered(ctx context.Context, core *corestore.Core, remote lpeer.ID, meta []byte, ref *protocols.Refusal) error {
	var h *asset.Hint
	if len(meta) > 0 {
		var err error
		if h, err = asset.DecodeHint(meta); err != nil {
			s.log.Debug("a peer's asset hint does not decode", "peer", remote, "err", err)
		}
	}
	if h != nil && !core.Writable() && h.Owner != s.signer.Principal() {
		r := asset.Ref{Owner: h.Owner, Catalog: h.Catalog, Grants: h.Grants}
		if err := s.reg.Track(ctx, r, core.Key()); err != nil {
			s.log.Debug("track a peer's asset hint", "peer", remote, "err", err)
		} else {
			s.follow(r)
		}
		if ref == nil && h.Level() == asset.Encrypted {
			if _, held := core.BlockKey(); !held {
				s.fetchKey(ctx, core, remote, h)
			}
		}
	}
	if ref != nil {
		return refusedError(ref)
	}
	return nil
}

// serveKey answers a key release request.
func (s *assetService) serveKey(ctx context.Context, from lpeer.ID, b []byte) ([]byte, error) {
	req, err := asset.DecodeKeyRequest(b)
	if err != nil {
		return nil, refusal(err, nil)
	}
	core, err := s.store.Get(ctx, req.Core)
	if err != nil {
		return nil, refusal(fmt.Errorf("%w: core %s is not held here", asset.ErrKeyNotHeld, req.Core), nil)
	}
	rel, err := asset.ReleaseKey(ctx, s.reg, s.owner, core, principalOf(from), req)
	if err != nil {
		return nil, refusal(err, nil)
	}
	return rel.Encode(), nil
}

// fetchKey asks for the block key of core, an encrypted asset's, from remote and, failing that,
// from the owner, and keeps it with the core. It checks the key against the key check value the
// asset's catalog gives (it fetches the catalog first), so a hint cannot make it take a wrong
// key or mark a plain core encrypted. One release per core runs at once.
func (s *assetService) fetchKey(ctx context.Context, core *corestore.Core, remote lpeer.ID, h *asset.Hint) {
	key := core.Key()
	s.mu.Lock()
	if ch, busy := s.fetching[key]; busy {
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	ch := make(chan struct{})
	s.fetching[key] = ch
	s.mu.Unlock()
	err := s.fetchKeyOnce(ctx, core, remote, h)
	s.mu.Lock()
	delete(s.fetching, key)
	s.released[key] = err
	s.mu.Unlock()
	close(ch)
	if err != nil {
		s.log.Debug("key release", "core", key.String(), "err", err)
	}
}

func (s *assetService) fetchKeyOnce(ctx context.Context, core *corestore.Core, remote lpeer.ID, h *asset.Hint) error {
	n := s.node
	if n == nil {
		return errors.New("no node")
	}
	ctx, cancel := context.WithTimeout(ctx, keyReleaseTimeout)
	defer cancel()
	kc, err := s.epochKeyCheck(ctx, core, remote, h)
	if err != nil {
		return err
	}
	if !core.Encrypted() {
		if err := core.MarkEncrypted(ctx, kc); err != nil {
			return err
		}
	}
	req := (&asset.KeyRequest{Core: core.Key(), Credential: s.Credential(core, remote)}).Encode()
	var last error
	for i, p := range []lpeer.ID{remote, h.Owner.PeerID()} {
		if p == "" || (i > 0 && p == remote) {
			continue
		}
		if i > 0 {
			if len(n.host.Network().ConnsToPeer(p)) == 0 {
				if err := n.connectPeer(ctx, p); err != nil {
					last = errors.Join(last, err)
					continue
				}
			}
		}
		b, err := protocols.Ask(ctx, n.host, p, protocol.ID(asset.KeyReleaseProtocol), req, 4096)
		if err != nil {
			var ref *protocols.Refusal
			if errors.As(err, &ref) {
				err = refusedError(ref)
			}
			last = err
			continue
		}
		rel, err := asset.DecodeKeyRelease(b)
		if err != nil {
			last = err
			continue
		}
		bk, err := rel.Open(s.signer, kc)
		if err != nil {
			last = err
			continue
		}
		return core.SetBlockKey(ctx, bk)
	}
	return last
}

// epochKeyCheck returns the key check value of core as the asset's own catalog gives it,
// fetching the catalog from remote when it is not held.
func (s *assetService) epochKeyCheck(ctx context.Context, core *corestore.Core, remote lpeer.ID, h *asset.Hint) (corestore.KeyCheck, error) {
	n := s.node
	for attempt := 0; attempt < 2; attempt++ {
		if view, _, err := s.reg.Catalog(ctx, h.Catalog); err == nil {
			for _, a := range view.AssetsOf(core.Key()) {
				if e, _, ok := a.EpochOf(core.Key()); ok && a.Level == asset.Encrypted && a.Owner == h.Owner {
					for _, m := range a.MembersOf(core.Key()) {
						if a.CheckAttestation(m) == nil {
							return e.KeyCheck, nil
						}
					}
				}
			}
		}
		if attempt == 0 {
			for _, k := range []corestore.Key{h.Catalog, h.Grants} {
				if _, err := n.Fetch(ctx, k, FetchOptions{FindTimeout: 5 * time.Second, Peers: []lpeer.AddrInfo{{ID: remote}}}); err != nil {
					return corestore.KeyCheck{}, fmt.Errorf("fetch the asset's catalog: %w", err)
				}
			}
		}
	}
	return corestore.KeyCheck{}, fmt.Errorf("%w: the catalog of %s names no encrypted asset with core %s", asset.ErrNoAsset, h.Owner, core.Key())
}

// connectPeer connects to p, by its addresses in the peerstore or through the DHT.
func (n *Node) connectPeer(ctx context.Context, p lpeer.ID) error {
	ai := n.host.Peerstore().PeerInfo(p)
	if len(ai.Addrs) == 0 {
		found, err := n.disc.DHT().FindPeer(ctx, p)
		if err != nil {
			return err
		}
		ai = found
	}
	return n.host.Connect(ctx, ai)
}

// keyReleaseError says why the key of core is not held, when a release failed.
func (s *assetService) keyReleaseError(key corestore.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.released[key]
}

// explainNoKey adds to an error that says a core's key is not held why the key release failed,
// when one did.
func (s *assetService) explainNoKey(key corestore.Key, err error) error {
	if !errors.Is(err, corestore.ErrNoEncryptionKey) {
		return err
	}
	if rerr := s.keyReleaseError(key); rerr != nil {
		return fmt.Errorf("%w; the key release failed: %w", err, rerr)
	}
	return err
}
