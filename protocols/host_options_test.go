package protocols

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestHostOptionsValidate: NewHost refuses each bad option value with ErrInvalidOption, and
// starts no host.
func TestHostOptionsValidate(t *testing.T) {
	cases := map[string]HostOption{
		"listen address that does not parse": WithListenAddrs("/ip4/127.0.0.1/tcp/"),
		"nil identity":                       WithIdentity(nil),
		"no sync streams":                    WithSyncStreamsPerPeer(0),
		"low watermark 0":                    WithConnManager(0, 4, time.Second),
		"high below low":                     WithConnManager(8, 4, time.Second),
		"grace under a second":               WithConnManager(2, 4, time.Millisecond),
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := NewHost(context.Background(), o)
			if !errors.Is(err, ErrInvalidOption) {
				if h != nil {
					h.Close()
				}
				t.Fatalf("got %v, want ErrInvalidOption", err)
			}
		})
	}
}
