package peer

import (
	"errors"
	"fmt"
	"net"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ErrAddrInUse: a listen address another process already listens on.
var ErrAddrInUse = errors.New("listen address in use")

// checkListenAddrs fails for a listen address with a fixed TCP port that another process holds.
// libp2p binds with SO_REUSEPORT, so without this check a second node on the same port would
// start silently and share the incoming connections with the first.
func checkListenAddrs(addrs []string) error {
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("listen address %q is not a multiaddr: %w", s, err)
		}
		port, err := m.ValueForProtocol(ma.P_TCP)
		if err != nil || port == "0" {
			continue
		}
		na, err := manet.ToNetAddr(m)
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp", na.String())
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrAddrInUse, s, err)
		}
		l.Close()
	}
	return nil
}
