package peer

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace/doip"
)

// DOIPTokenRequest asks for an owner token.
type DOIPTokenRequest struct {
	// TTL is how long it is valid (default 24 hours, at most 30 days).
	TTL time.Duration `json:"ttl,omitempty"`
}

// DOIPToken is an owner token of the node's DOIP service.
type DOIPToken struct {
	Token    string    `json:"token"`
	ClientID string    `json:"clientId"`
	Expires  time.Time `json:"expires"`
}

// maxOwnerTokenLife is the Authenticator's default bound on owner tokens.
const maxOwnerTokenLife = 30 * 24 * time.Hour

// OpDOIPToken returns a token that authenticates its bearer as the owner of this node's DOIP
// service ({"token": T}), signed with the node key.
var OpDOIPToken = Op[DOIPTokenRequest, DOIPToken]{Name: "doip-token", Run: func(ctx context.Context, l *Local, req DOIPTokenRequest) (DOIPToken, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	if ttl < 0 || ttl > maxOwnerTokenLife {
		return DOIPToken{}, fmt.Errorf("%w: a token lives between 1 s and %s, not %s", ErrBadRequest, maxOwnerTokenLife, ttl)
	}
	if _, err := os.Stat(filepath.Join(l.path, configFile)); err != nil {
		return DOIPToken{}, fmt.Errorf("%w at %s", ErrNoRepo, l.path)
	}
	key, err := nodeKey(l.path)
	if err != nil {
		return DOIPToken{}, err
	}
	now := time.Now()
	tok, err := doip.OwnerToken(key, ttl, now)
	if err != nil {
		return DOIPToken{}, err
	}
	return DOIPToken{Token: tok, ClientID: doip.PeerID(key.Public().(ed25519.PublicKey)), Expires: now.Add(ttl).UTC().Truncate(time.Second)}, nil
}}

// DOIPUsersRequest adds, removes or lists the password users of this node's DOIP service.
type DOIPUsersRequest struct {
	// Action is "add" (or change the password), "rm" or "ls".
	Action   string `json:"action"`
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
}

// DOIPUsers lists the users afterwards.
type DOIPUsers struct {
	Users []string `json:"users"`
}

// OpDOIPUsers manages the users who authenticate with a username and password, kept in the
// repo (doip-users.json, scrypt hashes, never in a core). A running service sees the change at
// once; a password it verified in the last five minutes may still be accepted that long.
var OpDOIPUsers = Op[DOIPUsersRequest, DOIPUsers]{Name: "doip-users", Run: func(ctx context.Context, l *Local, req DOIPUsersRequest) (DOIPUsers, error) {
	var users *doip.Users
	if n := l.Node(); n != nil {
		if d := n.doipService(); d != nil {
			users = d.users
		}
	}
	if users == nil {
		if _, err := os.Stat(filepath.Join(l.path, configFile)); err != nil {
			return DOIPUsers{}, fmt.Errorf("%w at %s", ErrNoRepo, l.path)
		}
		var err error
		if users, err = doip.OpenUsers(filepath.Join(l.path, doipUsersFile)); err != nil {
			return DOIPUsers{}, err
		}
	}
	var err error
	switch req.Action {
	case "add":
		err = users.Add(req.Name, req.Password)
	case "rm":
		err = users.Remove(req.Name)
	case "ls":
	default:
		err = fmt.Errorf("%w: user action %q is not add, rm or ls", ErrBadRequest, req.Action)
	}
	if err != nil {
		return DOIPUsers{}, err
	}
	return DOIPUsers{Users: users.List()}, nil
}}
