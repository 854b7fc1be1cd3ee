package peer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/datomspace/datomspace/dwn"
)

// DWN identities. Messages are signed by an Ed25519 did:key (dwn.Signer): the node's own, whose
// key is the repo's libp2p identity, or one kept in a key file. A key file is a private JWK,
//
//	{"kty":"OKP","crv":"Ed25519","x":"<public key>","d":"<seed>","kid":"did:key:z…#z…"}
//
// the form @web5/dids exports a did:key's private key in; a web5 PortableDid, whose privateKeys
// hold such a JWK, is read too.

// maxKeyFile bounds the size of a key file read.
const maxKeyFile = 64 << 10

// NodeDWNSigner returns the signer of the node's own did:key, from the repo's identity.
func NodeDWNSigner(repoPath string) (*dwn.Signer, error) {
	key, err := nodeKey(repoPath)
	if err != nil {
		return nil, err
	}
	return dwn.NewSigner(key), nil
}

type privateJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d"`
	Kid string `json:"kid,omitempty"`
}

// NewDWNKeyFile creates a key file at path with a new Ed25519 key (mode 0600) and returns its
// signer. It refuses to overwrite a file.
func NewDWNKeyFile(path string) (*dwn.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s := dwn.NewSigner(priv)
	b64 := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(privateJWK{Kty: "OKP", Crv: "Ed25519", X: b64(priv.Public().(ed25519.PublicKey)), D: b64(priv.Seed()), Kid: s.KeyID})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s exists already; a key file is never overwritten", ErrDWNKey, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDWNKey, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("%w: write %s: %w", ErrDWNKey, path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%w: write %s: %w", ErrDWNKey, path, err)
	}
	return s, nil
}

// LoadDWNKey reads the key file at path (see NewDWNKeyFile) and returns its signer.
func LoadDWNKey(path string) (*dwn.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDWNKey, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrDWNKey, path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s is over %d KiB, too large for a key", ErrDWNKey, path, maxKeyFile>>10)
	}
	s, err := ParseDWNKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseDWNKey parses the text of a key file: a private Ed25519 JWK, or a web5 PortableDid that
// holds one.
func ParseDWNKey(b []byte) (*dwn.Signer, error) {
	var doc struct {
		privateJWK
		URI         string       `json:"uri"`
		PrivateKeys []privateJWK `json:"privateKeys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %s", ErrDWNKey, JSONProblem(err))
	}
	j := doc.privateJWK
	if j.Kty == "" && len(doc.PrivateKeys) > 0 {
		j = doc.PrivateKeys[0]
	}
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return nil, fmt.Errorf("%w: a key file holds a private Ed25519 JWK (kty OKP, crv Ed25519), not kty %q crv %q", ErrDWNKey, j.Kty, j.Crv)
	}
	seed, err := base64.RawURLEncoding.DecodeString(j.D)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: d is not a base64url 32-byte Ed25519 seed", ErrDWNKey)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if j.X != "" {
		x, err := base64.RawURLEncoding.DecodeString(j.X)
		if err != nil || !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(x)) {
			return nil, fmt.Errorf("%w: x is not the public key of d", ErrDWNKey)
		}
	}
	s := dwn.NewSigner(priv)
	if doc.URI != "" && doc.URI != s.DID {
		return nil, fmt.Errorf("%w: uri %s is not the did:key of the private key (%s)", ErrDWNKey, doc.URI, s.DID)
	}
	return s, nil
}
