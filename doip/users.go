package doip

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/scrypt"
)

// Users is a UserStore of scrypt password hashes, kept in a JSON file of its own (never in a
// core: hashes must not replicate) or only in memory.
type Users struct {
	path string
	mu   sync.RWMutex
	m    map[string]passwordHash
	n    int // scrypt cost, a power of two
}

type passwordHash struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
	N    int    `json:"n"`
	R    int    `json:"r"`
	P    int    `json:"p"`
}

// ErrNoUser is returned for removing a user that does not exist.
var ErrNoUser = errors.New("no such user")

// scryptN is the scrypt cost of new hashes.
const scryptN = 1 << 15

// OpenUsers reads the users file at path, or starts an empty one; "" keeps users in memory.
func OpenUsers(path string) (*Users, error) {
	u := &Users{path: path, m: map[string]passwordHash{}, n: scryptN}
	if path == "" {
		return u, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	var f struct {
		Users map[string]passwordHash `json:"users"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	for name, h := range f.Users {
		if len(h.Salt) == 0 || len(h.Hash) == 0 || h.N < 2 || h.R < 1 || h.P < 1 {
			return nil, fmt.Errorf("users file %s: user %q has a malformed hash", path, name)
		}
		u.m[name] = h
	}
	return u, nil
}

func (u *Users) save() error {
	if u.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(struct {
		Users map[string]passwordHash `json:"users"`
	}{u.m}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(u.path), ".users-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), u.path)
}

// Add sets the password of user, adding the user if new.
func (u *Users) Add(user, password string) error {
	if err := checkName("username", user, 256); err != nil || user == "" {
		return fmt.Errorf("%w: username must be 1 to 256 bytes of text", ErrInvalid)
	}
	if password == "" {
		return fmt.Errorf("%w: empty password", ErrInvalid)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	h, err := scrypt.Key([]byte(password), salt, u.n, 8, 1, 32)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.m[user] = passwordHash{Salt: salt, Hash: h, N: u.n, R: 8, P: 1}
	return u.save()
}

// Remove deletes a user.
func (u *Users) Remove(user string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.m[user]; !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	delete(u.m, user)
	return u.save()
}

// List returns the usernames, sorted.
func (u *Users) List() []string {
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]string, 0, len(u.m))
	for n := range u.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// CheckPassword implements UserStore.
func (u *Users) CheckPassword(ctx context.Context, user, password string) (bool, error) {
	u.mu.RLock()
	h, ok := u.m[user]
	u.mu.RUnlock()
	if !ok {
		return false, nil
	}
	got, err := scrypt.Key([]byte(password), h.Salt, h.N, h.R, h.P, len(h.Hash))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, h.Hash) == 1, nil
}
