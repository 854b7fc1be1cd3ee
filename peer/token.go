package peer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// APITokenFile is the file in the repo that holds the TCP API's bearer token (mode 0600).
const APITokenFile = "api.token"

// LoadAPIToken returns the repo's API token, creating a random one on first use.
func LoadAPIToken(repoPath string) (string, error) {
	path := filepath.Join(repoPath, APITokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		rand.Read(k[:])
		tok := hex.EncodeToString(k[:])
		if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("save API token %s: %w", path, err)
		}
		return tok, nil
	}
	if err != nil {
		return "", fmt.Errorf("read API token %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("API token %s: %w: too short; delete it and a new one is made", path, ErrCorruptRepo)
	}
	return tok, nil
}
