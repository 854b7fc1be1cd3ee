package corestore

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Attestations: statements a core's owner signs with the core's own key, outside its tree. The
// asset layer uses them to bind a data core to its owner's catalog (only the holder of the core's
// secret key can say which assets it belongs to). An attestation is an Ed25519 signature over
//
//	ns || coreKey || msg
//
// where ns is a 32-byte namespace of the caller's. A tree signature's signable starts with
// NamespaceTree, which ns may not be, so no attestation is ever a valid tree signature (nor the
// reverse).

// ErrBadNamespace: an attestation namespace that is one of Hypercore's own.
var ErrBadNamespace = errors.New("an attestation namespace may not be one of hypercore's")

func attestable(ns Hash, key Key, msg []byte) ([]byte, error) {
	for _, h := range hypercoreNS {
		if ns == h {
			return nil, ErrBadNamespace
		}
	}
	b := make([]byte, 0, 64+len(msg))
	b = append(b, ns[:]...)
	b = append(b, key[:]...)
	return append(b, msg...), nil
}

// Attest signs msg under namespace ns with the core's secret key. Only a writable core can.
func (c *Core) Attest(ns Hash, msg []byte) ([]byte, error) {
	if c.kp == nil {
		return nil, c.errf("attest: %w", ErrReadOnly)
	}
	b, err := attestable(ns, c.key, msg)
	if err != nil {
		return nil, c.errf("attest: %w", err)
	}
	return ed25519.Sign(c.kp.SecretKey, b), nil
}

// VerifyAttestation checks an attestation of msg under ns by the signer of the core with key
// key and manifest m. It is pure.
func VerifyAttestation(m Manifest, key Key, ns Hash, msg, sig []byte) error {
	if m.Key() != key {
		return fmt.Errorf("attestation: %w: the manifest does not hash to the core key", ErrBadProof)
	}
	b, err := attestable(ns, key, msg)
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(m.PublicKey[:], b, sig) {
		return fmt.Errorf("attestation of core %s: %w", key, ErrBadSignature)
	}
	return nil
}
