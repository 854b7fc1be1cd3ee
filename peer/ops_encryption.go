package peer

import (
	"context"
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/corestore"
)

// encryptionRoutes are the operations on encrypted cores and on forks.
func encryptionRoutes() []route { return []route{OpTruncate, OpSetKey} }

func keyCheckText(kc corestore.KeyCheck) string {
	if kc.IsZero() {
		return ""
	}
	return kc.String()
}

// encryptionOptions returns the corestore options of a create request: a given key, or a new
// random one for a core that does not exist yet (an existing core keeps its own).
func encryptionOptions(ctx context.Context, s *corestore.Store, req CreateRequest) ([]corestore.CoreOption, error) {
	switch {
	case req.EncryptionKey != "" && req.Encrypted:
		return nil, fmt.Errorf("%w: give an encryption key or ask for a new one, not both", ErrBadRequest)
	case req.EncryptionKey != "":
		k, err := corestore.ParseEncryptionKey(req.EncryptionKey)
		if err != nil {
			return nil, err
		}
		return []corestore.CoreOption{corestore.WithEncryptionKey(k)}, nil
	case req.Encrypted:
		if req.Name == "" {
			return nil, fmt.Errorf("%w: a core needs a name", ErrBadRequest)
		}
		c, err := s.Get(ctx, s.KeyForName(req.Name))
		switch {
		case err == nil && c.Encrypted():
			return nil, nil // it has its key already
		case err == nil && c.Length() > 0:
			return nil, fmt.Errorf("core %q: %w: it already holds %d plain blocks", req.Name, corestore.ErrNotEncrypted, c.Length())
		case err != nil && !errors.Is(err, corestore.ErrNotFound):
			return nil, err
		}
		k, err := corestore.GenerateEncryptionKey()
		if err != nil {
			return nil, err
		}
		return []corestore.CoreOption{corestore.WithEncryptionKey(k)}, nil
	}
	return nil, nil
}

// TruncateRequest truncates a writable core to Length blocks.
type TruncateRequest struct {
	Ref    string `json:"ref"`
	Length uint64 `json:"length"`
}

// OpTruncate truncates a writable core (plain or encrypted) to Length blocks; the core moves to
// a new fork, and replicas follow it.
var OpTruncate = Op[TruncateRequest, CoreInfo]{Name: "truncate", Run: func(ctx context.Context, l *Local, req TruncateRequest) (CoreInfo, error) {
	c, err := l.Core(ctx, req.Ref)
	if err != nil {
		return CoreInfo{}, err
	}
	if !c.Writable() {
		return CoreInfo{}, fmt.Errorf("core %s: %w", c.Key(), corestore.ErrReadOnly)
	}
	if req.Length > c.Length() {
		return CoreInfo{}, fmt.Errorf("%w: core %s has length %d; truncating to %d would lengthen it", corestore.ErrOutOfRange, c.Key(), c.Length(), req.Length)
	}
	if err := c.Truncate(ctx, req.Length); err != nil {
		return CoreInfo{}, err
	}
	return l.infoOf(c), nil
}}

// SetKeyRequest gives a core its encryption key (EncryptionKey) or block key (BlockKey).
type SetKeyRequest struct {
	Ref           string `json:"ref"`
	EncryptionKey string `json:"encryptionKey,omitempty"`
	BlockKey      string `json:"blockKey,omitempty"`
}

// OpSetKey gives a core its key: a replica of an encrypted core then reads plaintext. A key that
// fails the core's key check value is refused (corestore.ErrWrongEncryptionKey).
var OpSetKey = Op[SetKeyRequest, CoreInfo]{Name: "setkey", Run: func(ctx context.Context, l *Local, req SetKeyRequest) (CoreInfo, error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return CoreInfo{}, err
	}
	key, kerr := corestore.ParseKey(req.Ref)
	var c *corestore.Core
	if kerr == nil {
		c, err = r.Store.Replica(ctx, key)
	} else {
		c, err = l.Core(ctx, req.Ref)
	}
	if err != nil {
		return CoreInfo{}, err
	}
	switch {
	case req.EncryptionKey != "" && req.BlockKey == "":
		k, err := corestore.ParseEncryptionKey(req.EncryptionKey)
		if err != nil {
			return CoreInfo{}, err
		}
		err = c.SetEncryptionKey(ctx, k)
		if err != nil {
			return CoreInfo{}, err
		}
	case req.BlockKey != "" && req.EncryptionKey == "":
		bk, err := corestore.ParseBlockKey(req.BlockKey)
		if err != nil {
			return CoreInfo{}, err
		}
		if err := c.SetBlockKey(ctx, bk); err != nil {
			return CoreInfo{}, err
		}
	default:
		return CoreInfo{}, fmt.Errorf("%w: give an encryption key or a block key", ErrBadRequest)
	}
	return l.infoOf(c), nil
}}
