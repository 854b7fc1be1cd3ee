package peer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

const identityFile = "identity.key"

// LoadIdentity returns the repo's libp2p identity, creating an Ed25519 key on first use, so the
// peer ID stays the same across restarts.
func LoadIdentity(repoPath string) (crypto.PrivKey, error) {
	path := filepath.Join(repoPath, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		raw, err := crypto.MarshalPrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, raw, 0o600); err != nil {
			return nil, fmt.Errorf("save identity %s: %w", path, err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read identity %s: %w", path, err)
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("identity %s is not a libp2p private key: %w", path, err)
	}
	return k, nil
}
