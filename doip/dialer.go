package doip

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// ErrBadURL marks a service URL that is neither a DOIP URL nor a multiaddr.
var ErrBadURL = errors.New("not a DOIP URL (doip://host:port) or libp2p multiaddr")

// Dialer opens connections to other DOIP services, for forwarding searches to joined services
// and resolving ids held elsewhere. The connection carries DOIP 2.0 segments: a TLS connection
// for a doip:// URL, a libp2p stream on /datomspace/doip/2.0.0 for a multiaddr.
type Dialer interface {
	Dial(ctx context.Context, url string) (io.ReadWriteCloser, error)
}

// DialerFunc is a function that is a Dialer.
type DialerFunc func(ctx context.Context, url string) (io.ReadWriteCloser, error)

// Dial implements Dialer.
func (f DialerFunc) Dial(ctx context.Context, url string) (io.ReadWriteCloser, error) {
	return f(ctx, url)
}

// IsMultiaddr reports whether a service URL is a libp2p multiaddr ("/ip4/.../p2p/...",
// "/p2p/<peer>").
func IsMultiaddr(url string) bool { return strings.HasPrefix(url, "/") }

// CheckURL reports whether url is a service URL a Dialer may be given.
func CheckURL(url string) error {
	if IsMultiaddr(url) {
		if !strings.Contains(url, "/p2p/") {
			return fmt.Errorf("%w: multiaddr %q names no peer (/p2p/...)", ErrBadURL, url)
		}
		return nil
	}
	_, err := tlsAddr(url)
	return err
}

// tlsAddr returns the host:port of a doip://, doips:// or tls:// URL or of a bare host:port.
func tlsAddr(url string) (string, error) {
	rest := url
	for _, scheme := range []string{"doip://", "doips://", "tls://"} {
		if r, ok := strings.CutPrefix(url, scheme); ok {
			rest = r
			break
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" || strings.Contains(rest, "/") {
		return "", fmt.Errorf("%w: %q", ErrBadURL, url)
	}
	return rest, nil
}

// TLSDialer dials doip:// URLs over TLS, presenting Key as its client certificate when set,
// and hands multiaddrs to Multiaddr (the libp2p tunnel, which the peer layer provides; nil
// refuses them).
type TLSDialer struct {
	Key       ed25519.PrivateKey
	Multiaddr Dialer
	// Pins, by host:port, are the keys those servers must hold.
	Pins map[string]ed25519.PublicKey
}

// Dial implements Dialer.
func (d *TLSDialer) Dial(ctx context.Context, url string) (io.ReadWriteCloser, error) {
	if IsMultiaddr(url) {
		if d.Multiaddr == nil {
			return nil, fmt.Errorf("%w: no libp2p dialer for %s", ErrDeclined, url)
		}
		return d.Multiaddr.Dial(ctx, url)
	}
	addr, err := tlsAddr(url)
	if err != nil {
		return nil, err
	}
	cfg, err := ClientTLSConfig(d.Pins[addr], d.Key)
	if err != nil {
		return nil, err
	}
	td := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	return td.DialContext(ctx, "tcp", addr)
}
