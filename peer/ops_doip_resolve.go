package peer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/datomspace/datomspace/doip"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// DOIPResolveRequest asks which peers serve the prefix of an id.
type DOIPResolveRequest struct {
	// ID is PREFIX/SUFFIX, or a bare PREFIX.
	ID string `json:"id"`
	// Bootstrap peers, for the node a resolve starts when no daemon runs; Peers are dialed
	// besides (their DHT is asked too).
	Bootstrap []string `json:"bootstrap,omitempty"`
	Peers     []string `json:"peers,omitempty"`
	// Timeout bounds the DHT lookup (default 20 s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Max is the most providers to ask (default 8).
	Max int `json:"max,omitempty"`
}

// DOIPResolved is one peer that serves a prefix, with its Hello.
type DOIPResolved struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs,omitempty"`
	// Service is its Hello's answer for the prefix's service; Error says why there is none.
	Service *doip.DigitalObject `json:"service,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// DOIPResolveReply lists the peers serving a prefix.
type DOIPResolveReply struct {
	Prefix   string         `json:"prefix"`
	Services []DOIPResolved `json:"services"`
}

// ErrNoDOIPProviders: no peer announced the prefix within the timeout.
var ErrNoDOIPProviders = errors.New("no peer serving the DOIP prefix was found")

// OpDOIPResolve finds the peers that announce the prefix of an id in the DHT (this node too,
// when it serves the prefix) and asks each Hello for the prefix's service through the tunnel.
var OpDOIPResolve = Op[DOIPResolveRequest, DOIPResolveReply]{Name: "doip-resolve", Run: func(ctx context.Context, l *Local, req DOIPResolveRequest) (DOIPResolveReply, error) {
	prefix := doip.PrefixOf(req.ID)
	if prefix == "" {
		prefix = req.ID
	}
	if err := CheckDOIPPrefix(prefix); err != nil {
		return DOIPResolveReply{}, err
	}
	if req.Timeout < 0 || req.Max < 0 {
		return DOIPResolveReply{}, fmt.Errorf("%w: a negative timeout or max", ErrBadRequest)
	}
	timeout, max := req.Timeout, req.Max
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	if max == 0 {
		max = 8
	}
	peers, err := ParseAddrs(req.Peers)
	if err != nil {
		return DOIPResolveReply{}, fmt.Errorf("%w: peer: %w", ErrBadRequest, err)
	}
	if _, err := ParseAddrs(req.Bootstrap); err != nil {
		return DOIPResolveReply{}, fmt.Errorf("%w: bootstrap: %w", ErrBadRequest, err)
	}
	n := l.Node()
	if n == nil {
		if n, err = l.tunnelNode(ctx, req.Bootstrap); err != nil {
			return DOIPResolveReply{}, err
		}
	} else if bs, _ := ParseAddrs(req.Bootstrap); len(bs) > 0 {
		peers = append(peers, bs...)
	}
	for _, p := range peers {
		if err := n.host.Connect(ctx, p); err != nil {
			return DOIPResolveReply{}, fmt.Errorf("connect to peer %s: %w", p.ID, err)
		}
	}
	rep := DOIPResolveReply{Prefix: prefix, Services: []DOIPResolved{}}
	var found []lpeer.AddrInfo
	if d := n.doipService(); d != nil {
		if ps, _ := d.prefixes(); slices.Contains(ps, prefix) {
			found = append(found, lpeer.AddrInfo{ID: n.ID()})
		}
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	for ai := range n.disc.FindProviders(fctx, doip.PrefixDiscoveryKey(prefix), max) {
		found = append(found, ai)
	}
	cancel()
	if len(found) == 0 {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, fmt.Errorf("%w: %s, within %s", ErrNoDOIPProviders, prefix, timeout)
	}
	for _, ai := range found {
		r := DOIPResolved{Peer: ai.ID.String()}
		if ai.ID == n.ID() {
			r.Addrs = n.Addrs()
		} else {
			n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
			for _, a := range ai.Addrs {
				r.Addrs = append(r.Addrs, a.String()+"/p2p/"+ai.ID.String())
			}
		}
		hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
		r.Service, err = helloVia(hctx, n, "/p2p/"+ai.ID.String(), prefix+"/service")
		hcancel()
		if err == nil {
			err = checkHelloKey(r.Service, ai.ID)
		}
		if err != nil {
			r.Error = err.Error()
		}
		rep.Services = append(rep.Services, r)
	}
	return rep, nil
}}

// checkHelloKey checks that a Hello received through the tunnel names the key of the peer
// that sent it.
func checkHelloKey(do *doip.DigitalObject, p lpeer.ID) error {
	si, err := doip.ParseServiceInfo(do)
	if err != nil {
		return err
	}
	want, err := doip.PublicKeyOf(p.String())
	if err != nil {
		return err
	}
	if !want.Equal(si.PublicKey) {
		return fmt.Errorf("%w: the Hello of peer %s names another key", doip.ErrPin, p)
	}
	return nil
}

// helloVia asks the service target of a peer Hello through the tunnel.
func helloVia(ctx context.Context, n *Node, addr, target string) (*doip.DigitalObject, error) {
	conn, err := n.dialDOIP(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := doip.NewClient(conn, doip.WithTarget(target))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Hello(ctx)
}
