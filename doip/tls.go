package doip

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// ErrPin is returned when a server's key is not the pinned one.
var ErrPin = errors.New("DOIP server key does not match the pinned key")

// Certificate returns a self-signed certificate for key, as DOIP services use: the subject's
// CN and UID are the service id, which CNRI's clients read as the server's identity. It is
// valid from an hour ago for ten years; it is made afresh at each start, its key staying the
// node's identity, which is what clients pin.
func Certificate(key ed25519.PrivateKey, serviceID string) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: serviceID, ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: []int{0, 9, 2342, 19200300, 100, 1, 1}, Value: serviceID}, // UID
		}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed DOIP certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLSConfig is the TLS configuration of a DOIP 2.0 listener: the node's certificate, TLS
// 1.2 or later, and an optional client certificate, self-signed like the server's, whose
// Ed25519 key then names the client (see ConnInfo).
func ServerTLSConfig(key ed25519.PrivateKey, serviceID string) (*tls.Config, error) {
	cert, err := Certificate(key, serviceID)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
		// Client certificates are self-signed: the key is the identity, checked per request.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			_, err := x509.ParseCertificate(raw[0])
			return err
		},
	}, nil
}

// ListenTLS listens for DOIP 2.0 over TLS on addr ("127.0.0.1:9000"; port 0 picks one).
func ListenTLS(addr string, key ed25519.PrivateKey, serviceID string) (net.Listener, error) {
	cfg, err := ServerTLSConfig(key, serviceID)
	if err != nil {
		return nil, err
	}
	return tls.Listen("tcp", addr, cfg)
}

// ClientTLSConfig is the TLS configuration of a DOIP client. Servers' certificates are
// self-signed, so web PKI does not apply: with pin set, the server's key must be pin (else
// ErrPin); without, any key is accepted and Client.ServerKey reports it, to be checked against
// the key Hello publishes and pinned from then on. key, when set, is sent as a self-signed
// client certificate, which names the client to the server without a token.
func ClientTLSConfig(pin ed25519.PublicKey, key ed25519.PrivateKey) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the key check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("DOIP server sent no certificate")
			}
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if pin == nil {
				return nil
			}
			pub, ok := cert.PublicKey.(ed25519.PublicKey)
			if !ok || !pub.Equal(pin) {
				return ErrPin
			}
			return nil
		},
	}
	if key != nil {
		cert, err := Certificate(key, PeerID(key.Public().(ed25519.PublicKey)))
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// serverKey returns the Ed25519 key of a TLS connection's server certificate, or nil.
func serverKey(c *tls.Conn) ed25519.PublicKey {
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	pub, _ := certs[0].PublicKey.(ed25519.PublicKey)
	return pub
}
