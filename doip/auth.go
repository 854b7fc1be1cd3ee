package doip

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// PrincipalKind says how a client authenticated.
type PrincipalKind uint8

// The kinds of principal.
const (
	Anonymous PrincipalKind = iota // no authentication
	Owner                          // the node's owner: its key, an owner key, or an owner token
	User                           // a username and password the owner added
	Key                            // a client key: a JWT signed by it, or the transport's peer
)

// String names the kind.
func (k PrincipalKind) String() string {
	return [...]string{"anonymous", "owner", "user", "key"}[k]
}

// Principal is who sent a request.
type Principal struct {
	Kind PrincipalKind
	// ID is the client id: a did:key or peer ID for keys and owners by key, the username of a
	// user, "" when anonymous.
	ID string
	// PublicKey is the client's Ed25519 key, for Key and for an Owner that signed.
	PublicKey ed25519.PublicKey
}

// Anonymous reports whether p did not authenticate.
func (p Principal) Anonymous() bool { return p.Kind == Anonymous }

// Names returns every id p answers to in an ACL: its id and, for a key, both its did:key and
// its peer ID.
func (p Principal) Names() []string {
	if p.Kind == Anonymous {
		return nil
	}
	names := []string{p.ID}
	if len(p.PublicKey) == ed25519.PublicKeySize {
		for _, n := range []string{DIDKey(p.PublicKey), PeerID(p.PublicKey)} {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// ConnInfo describes the connection a request came on.
type ConnInfo struct {
	Local, Remote net.Addr // nil when unknown (a libp2p stream gives multiaddrs instead)
	// ClientID and PublicKey name the peer when the transport authenticated it: the remote
	// peer of a libp2p stream, or the Ed25519 key of a TLS client certificate.
	ClientID  string
	PublicKey ed25519.PublicKey
	// Protocol is "2.0" or "2.1"; servers set it.
	Protocol string
}

// Claims are the JWT claims of a key token.
type Claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud,omitempty"`
	Jti string `json:"jti,omitempty"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// MaxKeyTokenLife is how long after its iat a client's key token may expire (CNRI's client
// uses exactly this).
const MaxKeyTokenLife = 10 * time.Minute

// OwnerAudience marks an owner token, which may live longer than a key token.
const OwnerAudience = "datomspace/doip/owner"

// ErrBadToken marks a token that is not a valid Ed25519 JWT.
var ErrBadToken = errors.New("invalid token")

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))

// SignJWT returns the compact JWS of claims signed with key (alg EdDSA).
func SignJWT(key ed25519.PrivateKey, c Claims) (string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	in := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in))), nil
}

func newJTI() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// KeyToken returns a token that authenticates as clientID, which must name key's public key
// (its did:key or peer ID): iss = sub = clientID, expiring MaxKeyTokenLife after now. Send it
// as {"token": T} with clientId set.
func KeyToken(key ed25519.PrivateKey, clientID string, now time.Time) (string, error) {
	pub, err := PublicKeyOf(clientID)
	if err != nil {
		return "", err
	}
	if !pub.Equal(key.Public()) {
		return "", fmt.Errorf("client id %s does not name the signing key", clientID)
	}
	return SignJWT(key, Claims{Iss: clientID, Sub: clientID, Jti: newJTI(), Iat: now.Unix(), Exp: now.Add(MaxKeyTokenLife).Unix()})
}

// OwnerToken returns a token for the node's owner, signed with the node key and valid for ttl
// (what `datomspace doip token` prints). It is a bearer secret: whoever holds it is the owner
// until it expires.
func OwnerToken(nodeKey ed25519.PrivateKey, ttl time.Duration, now time.Time) (string, error) {
	if ttl <= 0 {
		return "", errors.New("owner token lifetime must be positive")
	}
	id := PeerID(nodeKey.Public().(ed25519.PublicKey))
	return SignJWT(nodeKey, Claims{Iss: id, Sub: id, Aud: OwnerAudience, Jti: newJTI(), Iat: now.Unix(), Exp: now.Add(ttl).Unix()})
}

// parseJWT checks a token's form and signature against the key its iss names and returns its
// claims and that key.
func parseJWT(token string) (Claims, ed25519.PublicKey, error) {
	var c Claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, nil, fmt.Errorf("%w: not a compact JWS", ErrBadToken)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return c, nil, fmt.Errorf("%w: header is not base64url", ErrBadToken)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || (hdr.Alg != "EdDSA" && hdr.Alg != "Ed25519") {
		return c, nil, fmt.Errorf("%w: alg is not EdDSA", ErrBadToken)
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, nil, fmt.Errorf("%w: claims are not base64url", ErrBadToken)
	}
	dec := json.NewDecoder(bytes.NewReader(cb))
	if err := dec.Decode(&c); err != nil {
		return c, nil, fmt.Errorf("%w: claims: %v", ErrBadToken, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return c, nil, fmt.Errorf("%w: signature is not 64 base64url bytes", ErrBadToken)
	}
	pub, err := PublicKeyOf(c.Iss)
	if err != nil {
		return c, nil, fmt.Errorf("%w: iss: %w", ErrBadToken, err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return c, nil, fmt.Errorf("%w: signature does not verify against %s", ErrBadToken, c.Iss)
	}
	return c, pub, nil
}

// UserStore checks the passwords of the users an owner added.
type UserStore interface {
	// CheckPassword reports whether password is the user's; an unknown user is false, nil.
	CheckPassword(ctx context.Context, username, password string) (bool, error)
}

// Authenticator turns a request's clientId and authentication into a Principal, in the forms
// Cordra accepts: {"token": T} (an owner token or a key token: a JWT signed by the client's
// Ed25519 key, iss = sub = clientId, exp at most 10 minutes after iat), {"username",
// "password"}, {"password"} with a top-level clientId, or none (anonymous, or the transport's
// authenticated peer).
type Authenticator struct {
	node   ed25519.PublicKey
	owners []ed25519.PublicKey
	users  UserStore
	now    func() time.Time
	skew   time.Duration
	maxOwn time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached // verified tokens and passwords
}

type cached struct {
	p   Principal
	exp time.Time
}

// maxCache bounds the verified credentials an Authenticator remembers.
const maxCache = 4096

// AuthOption configures an Authenticator.
type AuthOption func(*Authenticator) error

// WithOwnerKeys makes clients holding these keys owners too (the node key always is).
func WithOwnerKeys(keys ...ed25519.PublicKey) AuthOption {
	return func(a *Authenticator) error {
		for _, k := range keys {
			if len(k) != ed25519.PublicKeySize {
				return errors.New("owner key is not an Ed25519 public key")
			}
		}
		a.owners = append(a.owners, keys...)
		return nil
	}
}

// WithUsers sets the store of username/password users.
func WithUsers(u UserStore) AuthOption {
	return func(a *Authenticator) error { a.users = u; return nil }
}

// WithAuthClock sets the clock tokens are checked against.
func WithAuthClock(now func() time.Time) AuthOption {
	return func(a *Authenticator) error { a.now = now; return nil }
}

// WithMaxOwnerTokenLife bounds how long an owner token may be valid (default 30 days).
func WithMaxOwnerTokenLife(d time.Duration) AuthOption {
	return func(a *Authenticator) error {
		if d <= 0 {
			return errors.New("owner token lifetime must be positive")
		}
		a.maxOwn = d
		return nil
	}
}

// NewAuthenticator returns an Authenticator whose owner is the holder of nodeKey.
func NewAuthenticator(nodeKey ed25519.PublicKey, opts ...AuthOption) (*Authenticator, error) {
	if len(nodeKey) != ed25519.PublicKeySize {
		return nil, errors.New("node key is not an Ed25519 public key")
	}
	a := &Authenticator{node: nodeKey, owners: []ed25519.PublicKey{nodeKey}, now: time.Now, skew: time.Minute,
		maxOwn: 30 * 24 * time.Hour, cache: map[[32]byte]cached{}}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Authenticator) isOwner(pub ed25519.PublicKey) bool {
	return slices.ContainsFunc(a.owners, func(k ed25519.PublicKey) bool { return k.Equal(pub) })
}

// keyPrincipal is the principal of a client that proved it holds pub, under the id it gave.
func (a *Authenticator) keyPrincipal(id string, pub ed25519.PublicKey) Principal {
	if a.isOwner(pub) {
		return Principal{Kind: Owner, ID: id, PublicKey: pub}
	}
	return Principal{Kind: Key, ID: id, PublicKey: pub}
}

func (a *Authenticator) lookup(k [32]byte) (Principal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[k]
	if !ok {
		return Principal{}, false
	}
	if a.now().After(c.exp) {
		delete(a.cache, k)
		return Principal{}, false
	}
	return c.p, true
}

func (a *Authenticator) remember(k [32]byte, p Principal, exp time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCache {
		now := a.now()
		for key, c := range a.cache {
			if now.After(c.exp) || len(a.cache) >= maxCache {
				delete(a.cache, key)
			}
		}
	}
	a.cache[k] = cached{p, exp}
}

// Authenticate returns the principal of a request. Credentials that do not verify fail with
// an error wrapping ErrUnauthenticated.
func (a *Authenticator) Authenticate(ctx context.Context, clientID string, authentication json.RawMessage, conn ConnInfo) (Principal, error) {
	t := bytes.TrimSpace(authentication)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("{}")) {
		if conn.ClientID != "" && len(conn.PublicKey) == ed25519.PublicKeySize {
			if clientID != "" && clientID != conn.ClientID {
				pub, err := PublicKeyOf(clientID)
				if err != nil || !pub.Equal(conn.PublicKey) {
					return Principal{}, fmt.Errorf("%w: no authentication provided for %s", ErrUnauthenticated, clientID)
				}
				return a.keyPrincipal(clientID, conn.PublicKey), nil
			}
			return a.keyPrincipal(conn.ClientID, conn.PublicKey), nil
		}
		if clientID != "" {
			return Principal{}, fmt.Errorf("%w: no authentication provided for %s", ErrUnauthenticated, clientID)
		}
		return Principal{Kind: Anonymous}, nil
	}
	var auth struct {
		Token    *string `json:"token"`
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if t[0] != '{' || json.Unmarshal(t, &auth) != nil {
		return Principal{}, fmt.Errorf("%w: unable to parse authentication (not an object of strings)", ErrUnauthenticated)
	}
	switch {
	case auth.Token != nil:
		return a.token(*auth.Token, clientID)
	case auth.Password != nil:
		user := clientID
		if auth.Username != nil {
			if clientID != "" && *auth.Username != clientID {
				return Principal{}, fmt.Errorf("%w: no support for authenticating with both username and clientId", ErrUnauthenticated)
			}
			user = *auth.Username
		}
		if user == "" {
			return Principal{}, fmt.Errorf("%w: unable to parse authentication (neither username nor clientId)", ErrUnauthenticated)
		}
		return a.password(ctx, user, *auth.Password)
	}
	return Principal{}, fmt.Errorf("%w: unable to parse authentication (neither token nor password)", ErrUnauthenticated)
}

func (a *Authenticator) token(tok, clientID string) (Principal, error) {
	k := sha256.Sum256([]byte("token\x00" + clientID + "\x00" + tok))
	if p, ok := a.lookup(k); ok {
		return p, nil
	}
	c, pub, err := parseJWT(tok)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	now := a.now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	switch {
	case c.Iat == 0 || c.Exp == 0:
		return Principal{}, fmt.Errorf("%w: token has no iat or exp", ErrUnauthenticated)
	case now.After(exp.Add(a.skew)):
		return Principal{}, fmt.Errorf("%w: token expired at %s", ErrUnauthenticated, exp.UTC().Format(time.RFC3339))
	case iat.After(now.Add(a.skew)):
		return Principal{}, fmt.Errorf("%w: token issued in the future", ErrUnauthenticated)
	case c.Sub != c.Iss:
		return Principal{}, fmt.Errorf("%w: token sub %q is not its iss %q", ErrUnauthenticated, c.Sub, c.Iss)
	case clientID != "" && clientID != c.Iss:
		return Principal{}, fmt.Errorf("%w: token iss %q is not the clientId %q", ErrUnauthenticated, c.Iss, clientID)
	}
	life := exp.Sub(iat)
	owner := c.Aud == OwnerAudience
	switch {
	case owner && !a.isOwner(pub):
		return Principal{}, fmt.Errorf("%w: owner token not signed by an owner key", ErrUnauthenticated)
	case owner && life > a.maxOwn:
		return Principal{}, fmt.Errorf("%w: owner token valid for %s, longer than %s", ErrUnauthenticated, life, a.maxOwn)
	case !owner && life > MaxKeyTokenLife:
		return Principal{}, fmt.Errorf("%w: token valid for %s, longer than %s", ErrUnauthenticated, life, MaxKeyTokenLife)
	}
	p := a.keyPrincipal(c.Iss, pub)
	a.remember(k, p, exp.Add(a.skew))
	return p, nil
}

func (a *Authenticator) password(ctx context.Context, user, password string) (Principal, error) {
	if a.users == nil {
		return Principal{}, fmt.Errorf("%w: this service has no password users", ErrUnauthenticated)
	}
	k := sha256.Sum256([]byte("password\x00" + user + "\x00" + password))
	if p, ok := a.lookup(k); ok {
		return p, nil
	}
	ok, err := a.users.CheckPassword(ctx, user, password)
	if err != nil {
		return Principal{}, err
	}
	if !ok {
		return Principal{}, fmt.Errorf("%w: wrong username or password", ErrUnauthenticated)
	}
	p := Principal{Kind: User, ID: user}
	a.remember(k, p, a.now().Add(5*time.Minute))
	return p, nil
}
