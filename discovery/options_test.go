package discovery

import (
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestOptionsValidate: New refuses each bad option value with ErrInvalidOption.
func TestOptionsValidate(t *testing.T) {
	h := newHost(t)
	cases := map[string]Option{
		"unknown network":          WithNetwork(Network("bogus")),
		"bootstrap without an ID":  WithBootstrap(peer.AddrInfo{Addrs: h.Addrs()}),
		"bootstrap without addrs":  WithBootstrap(peer.AddrInfo{ID: h.ID()}),
		"nil datastore":            WithDatastore(nil),
		"zero reannounce interval": WithReannounce(0),
		"nil logger":               WithLogger(nil),
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := New(context.Background(), h, o)
			if !errors.Is(err, ErrInvalidOption) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("got %v, want ErrInvalidOption", err)
			}
		})
	}
}
