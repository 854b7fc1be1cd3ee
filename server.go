package datomspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/datomspace/datomspace/peer"
)

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Storage is the repo directory. It is created, with a new identity and primary key, if it
	// holds no repo.
	Storage string
	// Host is what clients dial to reach the server, besides the repo's own socket
	// (Storage/api.sock):
	//   - a bare name such as "alice": a unix socket in the user's runtime directory,
	//     $XDG_RUNTIME_DIR/datomspace/NAME.sock, or, without XDG_RUNTIME_DIR,
	//     datomspace-UID/NAME.sock in os.TempDir() (the directory has mode 0700);
	//   - a path (it contains a '/', or starts with "unix:"): a unix socket at that path;
	//   - 127.0.0.1:PORT (or another loopback address): the local API on TCP, which needs the
	//     repo's API token. The server writes the token, mode 0600, to the runtime directory,
	//     where a Client of the same user finds it. Port 0 picks a free port; see Server.Host.
	// Empty means the repo's socket only.
	Host string
	// Listen is the libp2p listen multiaddrs (default: the repo's config, which for a new repo
	// is /ip4/127.0.0.1/tcp/0).
	Listen []string
	// Bootstrap is the DHT bootstrap peers, full multiaddrs ending in /p2p/PEER-ID (default: the
	// repo's config, which for a new repo has none). A server with none dials no one it is not
	// told about; it can still be a bootstrap peer for others.
	Bootstrap []string
	// Peers are peers to replicate with directly, bypassing the DHT, as full multiaddrs.
	Peers []string
	// Logger receives the node's log (default: slog.Default()).
	Logger *slog.Logger
}

// Event is something that happened to a server: a client came or went (see Server.On).
type Event struct {
	// Name is "client-open" or "client-close".
	Name string
	// Remote is false for a local client of the host (a Client) and true for a remote peer that
	// replicates with the server.
	Remote bool
	// Peer is the remote peer's ID, when Remote.
	Peer string
	// Client is the local client's session ID, when not Remote: the same in a client's
	// "client-open" and its "client-close".
	Client string
}

// Server runs a datomspace node on its storage, answers clients on its host, and replicates its
// cores with remote peers. Its lifetime runs from NewServer to Close: Close stops everything
// NewServer started and waits for it.
type Server struct {
	node      *peer.Node
	api       *peer.API
	host      string // what a client dials, as ClientOptions.Host takes it
	tokenPath string // the token file a TCP host wrote, removed by Close

	startCancel context.CancelFunc
	startDone   chan struct{}
	startErr    error

	mu       sync.Mutex
	cond     *sync.Cond
	handlers map[string][]func(Event)
	queue    []Event
	stopping bool // Close is draining the queue: no new events
	dispatch chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// NewServer opens (or creates) the repo at opts.Storage, starts its node and serves the local API
// on the repo's socket and on opts.Host. It returns once the host answers; the node connects to
// its bootstrap and direct peers in the background (see Ready).
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Storage == "" {
		return nil, fmt.Errorf("%w: ServerOptions.Storage, the repo directory, is empty", ErrBadRequest)
	}
	h, err := parseHost(opts.Host)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx := context.Background()
	r, err := peer.OpenRepo(ctx, opts.Storage, peer.WithRepoLogger(log))
	if errors.Is(err, peer.ErrNoRepo) {
		r, err = peer.InitRepo(ctx, opts.Storage, peer.WithRepoLogger(log))
	}
	if err != nil {
		return nil, err
	}
	s := &Server{handlers: map[string][]func(Event){}, startDone: make(chan struct{}), dispatch: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	nopts := []peer.NodeOption{peer.WithNodeLogger(log), peer.WithEvents(s.enqueue)}
	if len(opts.Listen) > 0 {
		nopts = append(nopts, peer.WithListen(opts.Listen...))
	}
	if len(opts.Bootstrap) > 0 {
		nopts = append(nopts, peer.WithBootstrapAddrs(opts.Bootstrap...))
	}
	if len(opts.Peers) > 0 {
		nopts = append(nopts, peer.WithDirectPeers(opts.Peers...))
	}
	n, err := peer.NewNode(ctx, r, nopts...)
	if err != nil {
		r.Close()
		return nil, err
	}
	s.node = n
	var aopts []peer.APIOption
	switch {
	case h.socket != "":
		aopts = append(aopts, peer.WithUnixSocket(h.socket))
	case h.tcp != "":
		aopts = append(aopts, peer.WithTCP(h.tcp))
	}
	if s.api, err = peer.NewAPI(n, aopts...); err != nil {
		n.Close()
		return nil, err
	}
	s.host = h.socket
	if h.socket == "" {
		s.host = s.api.Addrs()[0] // the repo's socket
	}
	if h.tcp != "" {
		s.host = tcpAddr(s.api.Addrs())
		if s.tokenPath, err = writeToken(s.host, s.api.Token()); err != nil {
			s.api.Close(ctx)
			n.Close()
			return nil, err
		}
	}
	if opts.Host != "" && h.socket != "" && hostName.MatchString(opts.Host) {
		s.host = opts.Host // a client dials it by the same name
	}
	go s.dispatchLoop()
	sctx, cancel := context.WithCancel(ctx)
	s.startCancel = cancel
	go func() {
		defer close(s.startDone)
		s.startErr = n.Start(sctx)
	}()
	return s, nil
}

// tcpAddr picks the TCP listener's HOST:PORT out of the API's addresses.
func tcpAddr(addrs []string) string {
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(a); err == nil && net.ParseIP(h) != nil {
			return a
		}
	}
	return ""
}

// Ready waits until the node listens, has connected to its bootstrap and direct peers, and
// serves and announces its cores, and the host answers. It returns the error that stopped the
// start, if any (a bootstrap peer that cannot be reached, say), or ctx's.
func (s *Server) Ready(ctx context.Context) error {
	select {
	case <-s.startDone:
		return s.startErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addrs returns the node's libp2p addresses, each ending in /p2p/PEER-ID, ready to give a
// reader as its Bootstrap or Peers.
func (s *Server) Addrs() []string { return s.node.Addrs() }

// ID returns the node's peer ID.
func (s *Server) ID() string { return s.node.ID().String() }

// Host returns what a client gives as ClientOptions.Host to reach this server: the name or the
// socket path it was given, the TCP address with its port (when the port was 0, the one picked),
// or, with no host, the repo's socket.
func (s *Server) Host() string { return s.host }

// On registers fn for the event named event: "client-open" or "client-close". They fire for
// local clients of the host (a Client opens a session when it is made and closes it with Close;
// one-shot API calls, such as the CLI's, are not clients) and for remote peers: a peer opens as
// a client when its first replication session with this server starts, whichever side opened it,
// and closes when its last one ends. Handlers run one at a time, in the order of the events, on a
// goroutine of the server; a slow handler delays the events after it, and a handler must not
// call Close.
func (s *Server) On(event string, fn func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[event] = append(s.handlers[event], fn)
}

// enqueue is the node's event sink: it must not block.
func (s *Server) enqueue(ev peer.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.queue = append(s.queue, Event{Name: ev.Name, Remote: ev.Remote, Peer: ev.Peer, Client: ev.Client})
	s.cond.Signal()
}

// dispatchLoop delivers queued events to their handlers until Close has drained the queue.
func (s *Server) dispatchLoop() {
	defer close(s.dispatch)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopping {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		ev := s.queue[0]
		s.queue = s.queue[1:]
		hs := slices.Clone(s.handlers[ev.Name])
		s.mu.Unlock()
		for _, h := range hs {
			h(ev)
		}
	}
}

// Close stops the server and waits for everything it started: clients' sessions end (their
// "client-close" events are delivered before Close returns), the API stops, replication
// sessions end, and the node and its repo close.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.startCancel()
		<-s.startDone
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs := []error{s.api.Close(ctx), s.node.Close()}
		if s.tokenPath != "" {
			os.Remove(s.tokenPath)
		}
		s.mu.Lock()
		s.stopping = true
		s.cond.Signal()
		s.mu.Unlock()
		<-s.dispatch
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
