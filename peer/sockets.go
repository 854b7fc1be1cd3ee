package peer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// ErrSocketInUse is returned by NewAPI when a socket path it was asked to serve on answers
// already: another server uses it.
var ErrSocketInUse = errors.New("the socket is in use by another server")

// maxSocketPath is the longest path a unix socket can have on Linux (sun_path less its NUL).
const maxSocketPath = 107

// WithUnixSocket also serves the API on a unix socket at path (mode 0600), besides the repo's
// own, for clients that know the server by a name rather than by its repo. Its directory must
// exist. A stale socket left at path by a server that died is replaced; one that answers fails
// NewAPI with ErrSocketInUse. Close removes it.
func WithUnixSocket(path string) APIOption {
	return func(c *apiConfig) error {
		if path == "" {
			return fmt.Errorf("%w: an empty unix socket path", ErrBadRequest)
		}
		if len(path) > maxSocketPath {
			return fmt.Errorf("%w: the unix socket path %q is %d bytes, over the system's limit of %d", ErrBadRequest, path, len(path), maxSocketPath)
		}
		c.sockets = append(c.sockets, path)
		return nil
	}
}

// listenSocket listens on a unix socket at path, replacing a stale one.
func listenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("local API socket %s: the path exists and is not a socket", path)
		}
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
			return nil, fmt.Errorf("local API socket %s: %w", path, ErrSocketInUse)
		}
		os.Remove(path) // stale: nobody answers on it
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("local API socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("local API socket %s: %w", path, err)
	}
	return l, nil
}

// serveSockets serves the API on the extra unix sockets of WithUnixSocket.
func (a *API) serveSockets() error {
	for _, p := range a.cfg.sockets {
		l, err := listenSocket(p)
		if err != nil {
			return err
		}
		a.extraSocks = append(a.extraSocks, p)
		a.serve(l, a.handler())
	}
	return nil
}

// removeSockets removes the extra sockets serveSockets made.
func (a *API) removeSockets() {
	for _, p := range a.extraSocks {
		os.Remove(p)
	}
}
