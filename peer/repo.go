package peer

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/datomspace/datomspace/corestore"
)

// EnvRepoPath names the environment variable that selects the repo.
const EnvRepoPath = "DATOMSPACE_PATH"

// Errors about repos.
var (
	// ErrNoRepo: the directory holds no datomspace repo.
	ErrNoRepo = errors.New("no datomspace repo")
	// ErrRepoExists: init was asked to create a repo where one already is.
	ErrRepoExists = errors.New("a datomspace repo already exists")
	// ErrNoSuchName: a reference that is not a key and names no writable core of the repo. It
	// matches corestore.ErrNotFound too. The error Resolve returns is a *NameError.
	ErrNoSuchName = errors.New("no such core name")
	// ErrCorruptRepo: a file of the repo is damaged.
	ErrCorruptRepo = errors.New("damaged repo file")
)

// DefaultRepoPath returns $DATOMSPACE_PATH, or ~/.datomspace.
func DefaultRepoPath() string {
	if p := os.Getenv(EnvRepoPath); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".datomspace"
	}
	return filepath.Join(home, ".datomspace")
}

// Config is the repo's config.json. Flags override it.
type Config struct {
	// Version of the config format.
	Version int `json:"version"`
	// Listen is the libp2p listen multiaddrs of `serve`.
	Listen []string `json:"listen"`
	// Bootstrap is the DHT bootstrap peers. It is empty by default: a default node dials nothing.
	Bootstrap []string `json:"bootstrap"`
	// Network is the DHT preset: "private" (default) or "amino".
	Network string `json:"network"`
	// Follow is the keys of the replicas a running node keeps up to date (see Node.Follow).
	Follow []string `json:"follow,omitempty"`
	// DOIP is the DOIP service's settings (see DOIPOptions); `serve --doip-prefix` saves the prefix.
	DOIP DOIPConfig `json:"doip,omitzero"`
	// DWN is the DWN service's settings (see DWNOptions); `serve --dwn-tenant` saves tenants.
	DWN DWNConfig `json:"dwn,omitzero"`
	// BlobThreshold is the size in bytes above which a datom's string or bytes value is kept as
	// a blob (0: datom.DefaultBlobThreshold, 4 KiB; at most 32 KiB).
	BlobThreshold int `json:"blobThreshold,omitempty"`
	// BlobMaxSize is the largest blob the repo accepts, added or fetched, in bytes (0: the
	// blob store's default, 64 GiB).
	BlobMaxSize uint64 `json:"blobMaxSize,omitempty"`
}

// DOIPConfig is the DOIP part of the config.
type DOIPConfig struct {
	// Prefix of the node's DOIP ids; set on the first `serve --doip` (default: the peer ID).
	Prefix string `json:"prefix,omitempty"`
}

// DefaultConfig returns the config a new repo gets: loopback only, no bootstrap peers.
func DefaultConfig() Config {
	return Config{Version: 1, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{}, Network: "private"}
}

const (
	configFile = "config.json"
	storeDir   = "store"
)

// Repo is an open repo.
type Repo struct {
	Path   string
	Config Config
	Store  *corestore.Store

	log     *slog.Logger
	blobs   repoBlobs         // Blobs, opened on first use (blobs.go)
	dwnAuth dwnAuthorizations // the DWN node authorizations (dwn_auth.go)
}

type repoOptions struct {
	primaryKey *[32]byte
	logger     *slog.Logger
	durable    bool
}

// RepoOption configures InitRepo and OpenRepo.
type RepoOption func(*repoOptions)

// WithPrimaryKey fixes the corestore primary key of a new repo, for reproducible setups. Everyone
// who knows it can derive every named core's secret key.
func WithPrimaryKey(k [32]byte) RepoOption { return func(o *repoOptions) { o.primaryKey = &k } }

// WithRepoLogger sets the logger.
func WithRepoLogger(l *slog.Logger) RepoOption { return func(o *repoOptions) { o.logger = l } }

// WithBulkImport relaxes durability: appends stay atomic, but a crash may lose the latest ones.
func WithBulkImport() RepoOption { return func(o *repoOptions) { o.durable = false } }

func repoOpts(opts []RepoOption) repoOptions {
	o := repoOptions{logger: slog.Default(), durable: true}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ParsePrimaryKey parses a 64-hex-character primary key.
func ParsePrimaryKey(s string) ([32]byte, error) {
	var k [32]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return k, fmt.Errorf("a primary key is 64 hex characters, got %q", s)
	}
	copy(k[:], b)
	return k, nil
}

// InitRepo creates a repo at path: the directory, the default config and the store with its
// primary key (random unless WithPrimaryKey). It fails with ErrRepoExists if one is there.
func InitRepo(ctx context.Context, path string, opts ...RepoOption) (*Repo, error) {
	o := repoOpts(opts)
	if _, err := os.Stat(filepath.Join(path, configFile)); err == nil {
		return nil, fmt.Errorf("init %s: %w", path, ErrRepoExists)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	// An existing directory may have been made by someone else's umask: the repo holds keys.
	if err := os.Chmod(path, 0o700); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	copts := []corestore.Option{corestore.WithLogger(o.logger)}
	if o.primaryKey != nil {
		copts = append(copts, corestore.WithPrimaryKey(*o.primaryKey))
	}
	st, err := corestore.Open(ctx, filepath.Join(path, storeDir), copts...)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	cfg := DefaultConfig()
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if _, err := LoadAPIToken(path); err != nil {
		st.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	if _, err := LoadIdentity(path); err != nil {
		st.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	if err := writeFileAtomic(filepath.Join(path, configFile), append(b, '\n'), 0o600); err != nil {
		st.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return &Repo{Path: path, Config: cfg, Store: st, log: o.logger}, nil
}

// OpenRepo opens the repo at path. It fails with ErrNoRepo when there is none, and with
// corestore.ErrLocked when another process holds it.
func OpenRepo(ctx context.Context, path string, opts ...RepoOption) (*Repo, error) {
	o := repoOpts(opts)
	b, err := os.ReadFile(filepath.Join(path, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoRepo, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open repo %s: %w", path, err)
	}
	cfg := DefaultConfig()
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("open repo %s: %s is not valid JSON: %w", path, configFile, err)
	}
	st, err := corestore.Open(ctx, filepath.Join(path, storeDir), corestore.WithLogger(o.logger), corestore.WithDurability(o.durable))
	if err != nil {
		return nil, err
	}
	return &Repo{Path: path, Config: cfg, Store: st, log: o.logger}, nil
}

// Close closes the blob store, if it was opened, and the store.
func (r *Repo) Close() error { return errors.Join(r.closeBlobs(), r.Store.Close()) }

// SaveConfig writes r.Config to the repo, atomically.
func (r *Repo) SaveConfig() error {
	b, err := json.MarshalIndent(r.Config, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.Path, configFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the config of %s: %w", r.Path, err)
	}
	return nil
}

// Resolve returns the core named by ref: a core key (64 hex or z-base32 characters) or the name
// of a writable core in this repo. It never creates a core.
func (r *Repo) Resolve(ctx context.Context, ref string) (*corestore.Core, error) {
	if k, err := corestore.ParseKey(ref); err == nil {
		return r.Store.Get(ctx, k)
	}
	if looksLikeKey(ref) {
		return nil, fmt.Errorf("%q (%d hex characters) is not a valid key: %w", ref, len(ref), corestore.ErrBadKey)
	}
	c, err := r.Store.Get(ctx, r.Store.KeyForName(ref))
	if errors.Is(err, corestore.ErrNotFound) {
		return nil, &NameError{Name: ref}
	}
	return c, err
}

// looksLikeKey reports whether ref is a long run of hex digits: a key mistyped, not a name.
func looksLikeKey(ref string) bool {
	if len(ref) < 40 || len(ref) > 80 {
		return false
	}
	for _, c := range ref {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// NameError says that a reference is not a key and names no writable core of the repo. It
// matches ErrNoSuchName and corestore.ErrNotFound.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	return fmt.Sprintf("no core named %q in this repo, and it is not a key", e.Name)
}

// Is reports whether target is ErrNoSuchName or corestore.ErrNotFound.
func (e *NameError) Is(target error) bool {
	return target == ErrNoSuchName || target == corestore.ErrNotFound
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
