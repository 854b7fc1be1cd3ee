package doip

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
)

// ServiceInfo is what a service's Hello output says about it, read by ParseServiceInfo: the
// attributes Cordra publishes, and the peer ID, multiaddrs and prefix a datomspace node adds.
type ServiceInfo struct {
	ID              string
	Type            string
	IPAddress       string
	Port            int
	Protocol        string
	ProtocolVersion string
	PublicKey       ed25519.PublicKey // nil when it is not an Ed25519 JWK (Cordra's is RSA)
	PeerID          string
	Multiaddrs      []string
	Prefix          string
	Name            string
	Listeners       []ListenerInfo
}

// ParseServiceInfo reads a Hello output, or the DOIPServiceInfo object of a handle record.
func ParseServiceInfo(do *DigitalObject) (*ServiceInfo, error) {
	var a struct {
		IPAddress       string          `json:"ipAddress"`
		Port            json.Number     `json:"port"`
		Protocol        string          `json:"protocol"`
		ProtocolVersion string          `json:"protocolVersion"`
		PublicKey       json.RawMessage `json:"publicKey"`
		PeerID          string          `json:"peerId"`
		Multiaddrs      []string        `json:"multiaddrs"`
		Prefix          string          `json:"prefix"`
		ServiceName     string          `json:"serviceName"`
		Listeners       []ListenerInfo  `json:"listeners"`
	}
	if len(do.Attributes) > 0 {
		if err := json.Unmarshal(do.Attributes, &a); err != nil {
			return nil, fmt.Errorf("%w: service info attributes: %w", ErrInvalid, err)
		}
	}
	si := &ServiceInfo{ID: do.ID, Type: do.Type, IPAddress: a.IPAddress, Protocol: a.Protocol, ProtocolVersion: a.ProtocolVersion,
		PeerID: a.PeerID, Multiaddrs: a.Multiaddrs, Prefix: a.Prefix, Name: a.ServiceName, Listeners: a.Listeners}
	if a.Port != "" {
		p, err := strconv.Atoi(a.Port.String())
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("%w: service info port %q", ErrInvalid, a.Port)
		}
		si.Port = p
	}
	if len(a.PublicKey) > 0 {
		si.PublicKey, _ = ParseJWK(a.PublicKey)
	}
	return si, nil
}

// URLs returns the addresses the service can be dialed at, for a Dialer: its doip:// URL when
// it publishes an address and port, then its multiaddrs.
func (si *ServiceInfo) URLs() []string {
	var out []string
	if si.IPAddress != "" && si.Port > 0 {
		out = append(out, "doip://"+net.JoinHostPort(si.IPAddress, strconv.Itoa(si.Port)))
	}
	return append(out, si.Multiaddrs...)
}
