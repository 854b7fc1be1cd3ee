package datomspace

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// A host is what clients dial to reach a server: a bare name, a socket path, or a loopback TCP
// address (see ServerOptions.Host).
type host struct {
	socket string // a unix socket's path, or ""
	tcp    string // a loopback HOST:PORT, or ""
}

// hostName is a bare host name: a socket in the user's runtime directory.
var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseHost reads a host as ServerOptions.Host and ClientOptions.Host take it.
func parseHost(s string) (host, error) {
	switch {
	case s == "":
		return host{}, nil
	case strings.HasPrefix(s, "unix:"):
		return socketHost(strings.TrimPrefix(s, "unix:"))
	case strings.ContainsRune(s, '/'):
		return socketHost(s)
	}
	if h, port, err := net.SplitHostPort(s); err == nil {
		if h == "localhost" {
			h = "127.0.0.1"
		}
		ip := net.ParseIP(h)
		if ip == nil || !ip.IsLoopback() {
			return host{}, fmt.Errorf("%w: host %q: a TCP host is a loopback address such as 127.0.0.1:5001", ErrBadRequest, s)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
			return host{}, fmt.Errorf("%w: host %q: the port must be a number from 0 to 65535", ErrBadRequest, s)
		}
		return host{tcp: net.JoinHostPort(ip.String(), port)}, nil
	}
	if !hostName.MatchString(s) {
		return host{}, fmt.Errorf("%w: host %q is neither a name (letters, digits, '.', '_' and '-'), a socket path, nor 127.0.0.1:PORT", ErrBadRequest, s)
	}
	dir, err := runtimeDir()
	if err != nil {
		return host{}, err
	}
	return host{socket: filepath.Join(dir, s+".sock")}, nil
}

func socketHost(p string) (host, error) {
	if p == "" {
		return host{}, fmt.Errorf("%w: an empty socket path", ErrBadRequest)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return host{}, fmt.Errorf("socket path %q: %w", p, err)
	}
	return host{socket: abs}, nil
}

// apiAddr is the host as peer.DialAPIAddr takes it.
func (h host) apiAddr() string {
	if h.socket != "" {
		return "unix:" + h.socket
	}
	return h.tcp
}

// runtimeDir returns the directory of the user's named sockets and API tokens:
// $XDG_RUNTIME_DIR/datomspace, else datomspace-UID in os.TempDir(). It is created with mode 0700,
// and refused if someone else owns it or can enter it.
func runtimeDir() (string, error) {
	var dir string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		dir = filepath.Join(x, "datomspace")
	} else {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("datomspace-%d", os.Getuid()))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || !ownedByMe(fi) {
		return "", fmt.Errorf("runtime directory %s: it must be a directory of this user with mode 0700, and it is not (mode %s)", dir, fi.Mode())
	}
	return dir, nil
}

// tokenFile is where a server on the TCP host addr writes the API token for its clients.
func tokenFile(addr string) (string, error) {
	dir, err := runtimeDir()
	if err != nil {
		return "", err
	}
	name := strings.NewReplacer(":", "_", "[", "", "]", "").Replace(addr)
	return filepath.Join(dir, "api-"+name+".token"), nil
}

// writeToken writes the API token of the server on addr where its clients find it (mode 0600).
func writeToken(addr, token string) (string, error) {
	path, err := tokenFile(addr)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("API token file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("API token file: %w", err)
	}
	return path, nil
}

// readToken reads the API token a server on addr wrote for its clients.
func readToken(addr string) (string, error) {
	path, err := tokenFile(addr)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: no API token for %s in %s (a server of this user on that host writes it; otherwise set ClientOptions.Token): %w", ErrUnauthorized, addr, path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
