package doip

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Service is the Processor of a repository: it answers Hello, ListOperations, Create,
// Retrieve, Update, Delete and Search on the repository's objects, and Op.Join and Op.Quit,
// after which it forwards its searches to the joined services and merges their results (a
// registry is a service that others joined).
type Service struct {
	repo     *Repository
	key      ed25519.PrivateKey
	id       string
	aliases  []string
	auth     *Authenticator
	authz    Authorizer
	dialer   Dialer
	resolver Resolver
	log      *slog.Logger
	info     func() PeerInfo
	host     string
	port     int
	name     string
	desc     string
	lsn      []ListenerInfo
	fwdTO    time.Duration

	mu      sync.Mutex
	clients map[string]*Client // by URL, for forwarding
	closed  bool
}

// PeerInfo is the libp2p identity Hello publishes beside the TLS address.
type PeerInfo struct {
	PeerID     string
	Multiaddrs []string
}

// ListenerInfo is one listener Hello lists, as BDWare's ServiceInfo does.
type ListenerInfo struct {
	URL             string `json:"url"`
	ProtocolVersion string `json:"protocolVersion"`
	MessageFormat   string `json:"messageFormat,omitempty"`
}

// Resolver finds the services that hold an id this repository does not: the peer layer
// implements it with the DHT (see PrefixDiscoveryKey). It returns service URLs to dial.
type Resolver interface {
	Resolve(ctx context.Context, id string) ([]string, error)
}

// ServiceOption configures a Service.
type ServiceOption func(*Service) error

// WithServiceID sets the service's id (default PREFIX/service, Cordra's default).
func WithServiceID(id string) ServiceOption {
	return func(s *Service) error {
		if id == "" {
			return errors.New("empty service id")
		}
		s.id = id
		return nil
	}
}

// WithAuthenticator replaces the default Authenticator (the node key as the only owner).
func WithAuthenticator(a *Authenticator) ServiceOption {
	return func(s *Service) error { s.auth = a; return nil }
}

// WithAuthorizer replaces the default OwnerOnly authorizer.
func WithAuthorizer(a Authorizer) ServiceOption {
	return func(s *Service) error { s.authz = a; return nil }
}

// WithDialer sets how the service reaches joined services and resolved ids (default: TLS for
// doip:// URLs, with the node key as client certificate; no multiaddrs).
func WithDialer(d Dialer) ServiceOption { return func(s *Service) error { s.dialer = d; return nil } }

// WithResolver lets Retrieve answer ids held elsewhere by asking the services r finds.
func WithResolver(r Resolver) ServiceOption {
	return func(s *Service) error { s.resolver = r; return nil }
}

// WithAdvertise sets the address and port Hello publishes (default: the address the client
// connected to, for TCP connections).
func WithAdvertise(host string, port int) ServiceOption {
	return func(s *Service) error { s.host, s.port = host, port; return nil }
}

// WithPeerInfo publishes the node's peer ID and multiaddrs in Hello, read at each Hello.
func WithPeerInfo(f func() PeerInfo) ServiceOption {
	return func(s *Service) error { s.info = f; return nil }
}

// WithListeners lists the service's listeners in Hello.
func WithListeners(l ...ListenerInfo) ServiceOption {
	return func(s *Service) error { s.lsn = append(s.lsn, l...); return nil }
}

// WithServiceName sets Hello's serviceName and serviceDescription.
func WithServiceName(name, description string) ServiceOption {
	return func(s *Service) error { s.name, s.desc = name, description; return nil }
}

// WithForwardTimeout bounds each forwarded search (default 10 s).
func WithForwardTimeout(d time.Duration) ServiceOption {
	return func(s *Service) error {
		if d <= 0 {
			return errors.New("forward timeout must be positive")
		}
		s.fwdTO = d
		return nil
	}
}

// WithServiceLogger sets the logger.
func WithServiceLogger(l *slog.Logger) ServiceOption {
	return func(s *Service) error { s.log = l; return nil }
}

// NewService returns the service of repo, whose owner holds key (the node identity).
func NewService(repo *Repository, key ed25519.PrivateKey, opts ...ServiceOption) (*Service, error) {
	if repo == nil || len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("service needs a repository and an Ed25519 key")
	}
	pub := key.Public().(ed25519.PublicKey)
	s := &Service{repo: repo, key: key, id: repo.prefix + "/service", authz: OwnerOnly{}, log: slog.Default(),
		fwdTO: 10 * time.Second, clients: map[string]*Client{}}
	s.dialer = &TLSDialer{Key: key}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.auth == nil {
		a, err := NewAuthenticator(pub)
		if err != nil {
			return nil, err
		}
		s.auth = a
	}
	s.aliases = []string{s.id, PeerID(pub), DIDKey(pub)}
	return s, nil
}

// ID is the service's id.
func (s *Service) ID() string { return s.id }

// Repository is the service's repository.
func (s *Service) Repository() *Repository { return s.repo }

// Close closes the connections to joined services.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	cs := s.clients
	s.clients = map[string]*Client{}
	s.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	return nil
}

// isService reports whether target names the service.
func (s *Service) isService(target string) bool { return slices.Contains(s.aliases, target) }

// noInput fails a request that carries input an operation does not take. It reads the input
// to its end first, so broken framing is reported as such.
func noInput(req *Request) error {
	found := false
	for {
		seg, err := req.NextSegment()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		found = true
		if _, err := io.Copy(io.Discard, seg); err != nil {
			return err
		}
	}
	if found {
		return fmt.Errorf("%w: unexpected input", ErrInvalid)
	}
	return nil
}

// Process implements Processor.
func (s *Service) Process(ctx context.Context, req *Request, w ResponseWriter) error {
	op := canonicalOp(req.OperationID)
	if op == "" {
		return fmt.Errorf("%w: missing operationId", ErrInvalid)
	}
	if op == OpHello {
		// Hello is about the service whatever the target, so a client learns the service id.
		if err := noInput(req); err != nil {
			return err
		}
		if len(req.Authentication) > 0 || req.ClientID != "" {
			if _, err := s.auth.Authenticate(ctx, req.ClientID, req.Authentication, req.Conn); err != nil {
				return err
			}
		}
		return s.hello(req, w)
	}
	if req.TargetID == "" {
		return fmt.Errorf("%w: missing targetId", ErrInvalid)
	}
	p, err := s.auth.Authenticate(ctx, req.ClientID, req.Authentication, req.Conn)
	if err != nil {
		return err
	}
	if s.isService(req.TargetID) {
		switch op {
		case OpListOperations:
			if err := noInput(req); err != nil {
				return err
			}
			return writeJSONValue(w, true, []string{OpHello, OpListOperations, OpCreate, OpSearch, OpJoin, OpQuit})
		case OpCreate:
			return s.create(ctx, p, req, w)
		case OpSearch:
			return s.search(ctx, p, req, w)
		case OpJoin:
			return s.join(ctx, p, req, w)
		case OpQuit:
			return s.quit(ctx, p, req, w)
		}
		return fmt.Errorf("%w: operation %s is not supported on the service", ErrDeclined, req.OperationID)
	}
	switch op {
	case OpRetrieve:
		return s.retrieve(ctx, p, req, w)
	case OpUpdate:
		return s.update(ctx, p, req, w)
	case OpDelete:
		return s.delete(ctx, p, req, w)
	case OpListOperations:
		if err := noInput(req); err != nil {
			return err
		}
		if _, err := s.repo.load(ctx, req.TargetID); err != nil {
			return err
		}
		return writeJSONValue(w, true, []string{OpListOperations, OpRetrieve, OpUpdate, OpDelete})
	}
	if _, err := s.repo.load(ctx, req.TargetID); err != nil {
		return err
	}
	return fmt.Errorf("%w: operation %s is not supported", ErrDeclined, req.OperationID)
}

func writeJSONValue(w ResponseWriter, compact bool, v any) error {
	b, err := marshalNoEscape(v)
	if err != nil {
		return err
	}
	if compact {
		return w.WriteCompact(b)
	}
	return w.WriteJSON(b)
}

func (s *Service) hello(req *Request, w ResponseWriter) error {
	attrs := map[string]any{"protocol": "TCP", "protocolVersion": "2.0"}
	if req.Conn.Protocol == "2.1" {
		attrs["protocolVersion"] = "2.1"
	}
	host, port := s.host, s.port
	if host == "" {
		if a, ok := req.Conn.Local.(*net.TCPAddr); ok {
			host, port = a.IP.String(), a.Port
		}
	}
	if host != "" {
		attrs["ipAddress"], attrs["port"] = host, port
	}
	pub := s.key.Public().(ed25519.PublicKey)
	attrs["publicKey"] = NewJWK(pub)
	attrs["prefix"] = s.repo.prefix
	pi := PeerInfo{PeerID: PeerID(pub)}
	if s.info != nil {
		pi = s.info()
	}
	if pi.PeerID != "" {
		attrs["peerId"] = pi.PeerID
	}
	if len(pi.Multiaddrs) > 0 {
		attrs["multiaddrs"] = pi.Multiaddrs
	}
	if s.name != "" {
		attrs["serviceName"] = s.name
	}
	if s.desc != "" {
		attrs["serviceDescription"] = s.desc
	}
	if len(s.lsn) > 0 {
		attrs["listeners"] = s.lsn
	}
	return writeJSONValue(w, true, map[string]any{"id": s.id, "type": "0.TYPE/DOIPService", "attributes": attrs})
}

func (s *Service) authorize(ctx context.Context, p Principal, op, target string, st *stored) error {
	a := Access{Principal: p, Operation: op, TargetID: target}
	if st != nil {
		a.Object = &st.do
		a.ACL = s.repo.aclOf(st)
		a.CreatedBy = st.createdB
	}
	return s.authz.Authorize(ctx, a)
}

// readObjectInput reads a Create or Update input: the object, then pairs of an element
// header {"id":...} and a bytes segment, whose bytes go straight to the blob store.
func (s *Service) readObjectInput(ctx context.Context, req *Request) (*DigitalObject, map[string]ElementData, error) {
	seg, err := req.NextSegment()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%w: missing input", ErrInvalid)
	}
	if err != nil {
		return nil, nil, err
	}
	if !seg.IsJSON() {
		return nil, nil, fmt.Errorf("%w: input must start with the object's JSON", ErrInvalid)
	}
	b, err := seg.ReadJSON(0)
	if err != nil {
		return nil, nil, err
	}
	do, err := parseObject(b)
	if err != nil {
		return nil, nil, err
	}
	data := map[string]ElementData{}
	for {
		seg, err := req.NextSegment()
		if err == io.EOF {
			return do, data, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if !seg.IsJSON() {
			return nil, nil, fmt.Errorf("%w: unexpected bytes segment where an element header belongs", ErrInvalid)
		}
		hb, err := seg.ReadJSON(64 << 10)
		if err != nil {
			return nil, nil, err
		}
		var h struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(hb, &h); err != nil || h.ID == nil {
			return nil, nil, fmt.Errorf("%w: unexpected element header", ErrInvalid)
		}
		if do.Element(*h.ID) == nil {
			return nil, nil, fmt.Errorf("%w: no such element %s", ErrInvalid, *h.ID)
		}
		if _, dup := data[*h.ID]; dup {
			return nil, nil, fmt.Errorf("%w: bytes of element %s sent twice", ErrInvalid, *h.ID)
		}
		seg, err = req.NextSegment()
		if err == io.EOF {
			return nil, nil, fmt.Errorf("%w: unexpected end of input after the header of element %s", ErrInvalid, *h.ID)
		}
		if err != nil {
			return nil, nil, err
		}
		if seg.IsJSON() {
			return nil, nil, fmt.Errorf("%w: element %s: expected a bytes segment", ErrInvalid, *h.ID)
		}
		c, n, err := s.repo.blobs.Put(ctx, seg)
		if err != nil {
			return nil, nil, fmt.Errorf("store element %s: %w", *h.ID, err)
		}
		data[*h.ID] = ElementData{CID: c, Size: n}
	}
}

func (s *Service) create(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := s.authorize(ctx, p, OpCreate, req.TargetID, nil); err != nil {
		return err
	}
	do, data, err := s.readObjectInput(ctx, req)
	if err != nil {
		return err
	}
	out, err := s.repo.Create(ctx, p, do, data)
	if err != nil {
		return err
	}
	return writeObject(w, true, out)
}

func writeObject(w ResponseWriter, compact bool, do *DigitalObject) error {
	b, err := do.marshalOut()
	if err != nil {
		return err
	}
	if compact {
		return w.WriteCompact(b)
	}
	return w.WriteJSON(b)
}

func (s *Service) retrieve(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := noInput(req); err != nil {
		return err
	}
	element, hasElement, err := req.stringAttr("element")
	if err != nil {
		return err
	}
	withData, err := req.boolAttr("includeElementData")
	if err != nil {
		return err
	}
	st, err := s.repo.load(ctx, req.TargetID)
	if errors.Is(err, ErrNotFound) {
		return s.retrieveElsewhere(ctx, req, w, err)
	}
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, p, OpRetrieve, req.TargetID, st); err != nil {
		return err
	}
	if hasElement {
		var rng *struct {
			Start *int64 `json:"start"`
			End   *int64 `json:"end"`
		}
		if _, err := req.attr("range", &rng); err != nil {
			return err
		}
		rc, size, err := s.repo.OpenElement(ctx, req.TargetID, element)
		if err != nil {
			return err
		}
		defer rc.Close()
		var r io.Reader = rc
		if rng != nil {
			// CNRI's partial retrieve: bytes start to end, both included, as an HTTP range.
			start, end := int64(0), size-1
			if rng.Start != nil {
				start = *rng.Start
			}
			if rng.End != nil {
				end = min(*rng.End, size-1)
			}
			if start < 0 || start > end+1 {
				return fmt.Errorf("%w: range %d to %d of an element of %d bytes", ErrInvalid, start, end, size)
			}
			if sk, ok := rc.(io.Seeker); ok {
				if _, err := sk.Seek(start, io.SeekStart); err != nil {
					return err
				}
			} else if _, err := io.CopyN(io.Discard, rc, start); err != nil {
				return err
			}
			r = io.LimitReader(rc, end-start+1)
		}
		_, err = w.WriteBytes(r)
		return err
	}
	do, err := s.repo.output(ctx, st)
	if err != nil {
		return err
	}
	if !withData {
		return writeObject(w, true, do)
	}
	// Open every element before the response starts, so a missing blob is a status, not a cut.
	readers := make([]io.ReadCloser, len(do.Elements))
	defer func() {
		for _, rc := range readers {
			if rc != nil {
				rc.Close()
			}
		}
	}()
	for i, el := range do.Elements {
		if readers[i], _, err = s.repo.OpenElement(ctx, do.ID, el.ID); err != nil {
			return err
		}
	}
	if err := writeObject(w, false, do); err != nil {
		return err
	}
	for i, el := range do.Elements {
		h, _ := json.Marshal(map[string]string{"id": el.ID})
		if err := w.WriteJSON(h); err != nil {
			return err
		}
		if _, err := w.WriteBytes(readers[i]); err != nil {
			return err
		}
	}
	return nil
}

// retrieveElsewhere answers a Retrieve of an id this repository does not hold from the
// services that may: those the resolver names, and the joined services whose id has the same
// prefix. A forwarded request is not forwarded again.
func (s *Service) retrieveElsewhere(ctx context.Context, req *Request, w ResponseWriter, notFound error) error {
	var attrs map[string]json.RawMessage
	if len(req.Attributes) > 0 {
		if err := json.Unmarshal(req.Attributes, &attrs); err != nil {
			return fmt.Errorf("%w: attributes: %w", ErrInvalid, err)
		}
	}
	if _, fwd := attrs["forwardedBy"]; fwd {
		return notFound
	}
	var urls []string
	if s.resolver != nil {
		if us, err := s.resolver.Resolve(ctx, req.TargetID); err == nil {
			urls = append(urls, us...)
		}
	}
	if prefix := PrefixOf(req.TargetID); prefix != "" {
		joined, err := s.repo.Joined(ctx)
		if err != nil {
			return err
		}
		for _, j := range joined {
			if PrefixOf(j.ID) == prefix && !slices.Contains(urls, j.URL) {
				urls = append(urls, j.URL)
			}
		}
	}
	if attrs == nil {
		attrs = map[string]json.RawMessage{}
	}
	attrs["forwardedBy"], _ = json.Marshal([]string{s.id})
	for _, u := range urls {
		fctx, cancel := context.WithTimeout(ctx, s.fwdTO)
		c, err := s.client(fctx, u)
		if err != nil {
			cancel()
			continue
		}
		resp, err := c.Do(fctx, Call{TargetID: req.TargetID, OperationID: OpRetrieve, Attributes: attrs})
		if err != nil {
			cancel()
			continue
		}
		if errors.Is(resp.Err(), ErrNotFound) {
			resp.Close()
			cancel()
			continue
		}
		err = relay(resp, w)
		resp.Close()
		cancel()
		return err
	}
	return notFound
}

// relay copies a response from another service.
func relay(resp *Response, w ResponseWriter) error {
	if err := resp.Err(); err != nil {
		return err
	}
	if resp.msg == nil {
		if resp.HasOutput() {
			return w.WriteCompact(resp.Output)
		}
		return nil
	}
	for {
		seg, err := resp.NextSegment()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if seg.IsJSON() {
			b, err := seg.ReadJSON(0)
			if err != nil {
				return err
			}
			if err := w.WriteJSON(b); err != nil {
				return err
			}
			continue
		}
		if _, err := w.WriteBytes(seg); err != nil {
			return err
		}
	}
}

func (s *Service) update(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	st, err := s.repo.load(ctx, req.TargetID)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, p, OpUpdate, req.TargetID, st); err != nil {
		return err
	}
	var remove []string
	if _, err := req.attr("elementsToDelete", &remove); err != nil {
		return err
	}
	do, data, err := s.readObjectInput(ctx, req)
	if err != nil {
		return err
	}
	if do.ID == "" {
		do.ID = req.TargetID
	}
	if do.ID != req.TargetID {
		return fmt.Errorf("%w: the object's id %s is not the target %s", ErrInvalid, do.ID, req.TargetID)
	}
	out, err := s.repo.Update(ctx, p, do, data, remove)
	if err != nil {
		return err
	}
	return writeObject(w, true, out)
}

func (s *Service) delete(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := noInput(req); err != nil {
		return err
	}
	st, err := s.repo.load(ctx, req.TargetID)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, p, OpDelete, req.TargetID, st); err != nil {
		return err
	}
	return s.repo.Delete(ctx, p, req.TargetID)
}

// searchRequest reads a Search's attributes as Cordra does.
func searchRequest(req *Request) (SearchRequest, error) {
	var q SearchRequest
	query, ok, err := req.stringAttr("query")
	if err != nil {
		return q, err
	}
	if !ok {
		return q, fmt.Errorf("%w: missing query", ErrInvalid)
	}
	q.Query = query
	if q.PageNum, err = req.intAttr("pageNum", 0); err != nil {
		return q, err
	}
	if q.PageSize, err = req.intAttr("pageSize", -1); err != nil {
		return q, err
	}
	sf, _, err := req.stringAttr("sortFields")
	if err != nil {
		return q, err
	}
	if q.Sort, err = ParseSortFields(sf); err != nil {
		return q, err
	}
	typ, _, err := req.stringAttr("type")
	if err != nil {
		return q, err
	}
	switch typ {
	case "", "full":
	case "id":
		q.IDsOnly = true
	default:
		return q, fmt.Errorf("%w: type %q is neither id nor full", ErrInvalid, typ)
	}
	return q, q.checkPage()
}

func (s *Service) search(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := noInput(req); err != nil {
		return err
	}
	q, err := searchRequest(req)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, p, OpSearch, req.TargetID, nil); err != nil {
		return err
	}
	var via []string
	if _, err := req.attr("forwardedBy", &via); err != nil {
		return err
	}
	var joined []Joined
	if len(via) == 0 {
		if joined, err = s.repo.Joined(ctx); err != nil {
			return err
		}
	}
	var res *SearchResult
	if len(joined) == 0 {
		if res, err = s.repo.Search(ctx, p, q); err != nil {
			return err
		}
	} else {
		var unreachable []string
		if res, unreachable, err = s.federated(ctx, p, q, joined); err != nil {
			return err
		}
		if len(unreachable) > 0 {
			w.SetAttribute("unreachable", unreachable)
		}
	}
	// Cordra writes the results as a JSON segment after the status.
	return writeJSONValue(w, false, res)
}

func (s *Service) join(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := noInput(req); err != nil {
		return err
	}
	if err := s.authorize(ctx, p, OpJoin, req.TargetID, nil); err != nil {
		return err
	}
	id, _, err := req.stringAttr("repoID")
	if err != nil {
		return err
	}
	url, _, err := req.stringAttr("repoUrl")
	if err != nil {
		return err
	}
	if id == s.id {
		return fmt.Errorf("%w: a service cannot join itself", ErrInvalid)
	}
	if err := s.repo.Join(ctx, p, id, url); err != nil {
		return err
	}
	s.dropClient(url)
	return writeJSONValue(w, true, map[string]string{"repoID": id, "repoUrl": url})
}

func (s *Service) quit(ctx context.Context, p Principal, req *Request, w ResponseWriter) error {
	if err := noInput(req); err != nil {
		return err
	}
	id, _, err := req.stringAttr("repoID")
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("%w: missing repoID", ErrInvalid)
	}
	j, err := s.repo.joined(ctx, id)
	if err != nil {
		return err
	}
	// Whoever joined a service may take it out again; others need the Authorizer's leave.
	if p.Kind != Owner && !slices.Contains(p.Names(), j.By) {
		if err := s.authorize(ctx, p, OpQuit, req.TargetID, nil); err != nil {
			return err
		}
	}
	if err := s.repo.Quit(ctx, id); err != nil {
		return err
	}
	s.dropClient(j.URL)
	return nil
}
