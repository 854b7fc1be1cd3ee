package discovery

import (
	"context"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// MDNSService is the mDNS service name datomspace peers advertise on the LAN.
const MDNSService = "datomspace"

// StartMDNS turns on LAN discovery: peers found by mDNS are connected to. It is off unless the
// user asks for it (--mdns), because it sends multicast packets on the local network.
func StartMDNS(ctx context.Context, h host.Host, log *slog.Logger) (stop func() error, err error) {
	svc := mdns.NewMdnsService(h, MDNSService, mdnsNotifee{ctx: ctx, h: h, log: log})
	if err := svc.Start(); err != nil {
		return nil, err
	}
	return svc.Close, nil
}

type mdnsNotifee struct {
	ctx context.Context
	h   host.Host
	log *slog.Logger
}

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == n.h.ID() {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := n.h.Connect(ctx, ai); err != nil {
		n.log.Debug("mdns peer unreachable", "peer", ai.ID, "err", err)
	}
}
