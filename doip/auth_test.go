package doip

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIdentities(t *testing.T) {
	k := newKey(t)
	pub := k.Public().(ed25519.PublicKey)
	did, pid := DIDKey(pub), PeerID(pub)
	if !strings.HasPrefix(did, "did:key:z6Mk") || !strings.HasPrefix(pid, "12D3KooW") {
		t.Fatalf("did %s peer %s", did, pid)
	}
	for _, id := range []string{did, pid} {
		got, err := PublicKeyOf(id)
		if err != nil || !got.Equal(pub) {
			t.Fatalf("PublicKeyOf(%s) = %x, %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "did:key:zabc", "did:key:" + did[8:len(did)-2], "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "bob"} {
		if _, err := PublicKeyOf(bad); !errors.Is(err, ErrBadClientID) {
			t.Errorf("PublicKeyOf(%q) = %v", bad, err)
		}
	}
	j := NewJWK(pub)
	b, _ := json.Marshal(j)
	if got, err := ParseJWK(b); err != nil || !got.Equal(pub) || j.Kty != "OKP" || j.Crv != "Ed25519" {
		t.Fatalf("JWK %s: %v", b, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	node, other := newKey(t), newKey(t)
	nodePub, otherPub := node.Public().(ed25519.PublicKey), other.Public().(ed25519.PublicKey)
	users, _ := OpenUsers("")
	users.n = 1 << 10
	users.Add("alice", "wonderland")
	now := time.Unix(1_800_000_000, 0)
	a, err := NewAuthenticator(nodePub, WithUsers(users), WithAuthClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	tok := func(t testing.TB, key ed25519.PrivateKey, c Claims) json.RawMessage {
		s, err := SignJWT(key, c)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"token": s})
		return b
	}
	oid, nid := PeerID(otherPub), PeerID(nodePub)
	good := Claims{Iss: oid, Sub: oid, Iat: now.Unix(), Exp: now.Add(10 * time.Minute).Unix()}
	ownerTok, _ := OwnerToken(node, 24*time.Hour, now)
	ownerAuth, _ := json.Marshal(map[string]string{"token": ownerTok})
	for _, tc := range []struct {
		name     string
		clientID string
		auth     json.RawMessage
		conn     ConnInfo
		kind     PrincipalKind
		id       string
		err      string
	}{
		{"anonymous", "", nil, ConnInfo{}, Anonymous, "", ""},
		{"empty object", "", json.RawMessage(`{}`), ConnInfo{}, Anonymous, "", ""},
		{"key token", oid, tok(t, other, good), ConnInfo{}, Key, oid, ""},
		{"key token without clientId", "", tok(t, other, good), ConnInfo{}, Key, oid, ""},
		{"did:key token", DIDKey(otherPub), tok(t, other, Claims{Iss: DIDKey(otherPub), Sub: DIDKey(otherPub), Iat: good.Iat, Exp: good.Exp}), ConnInfo{}, Key, DIDKey(otherPub), ""},
		{"the node's key is the owner", nid, tok(t, node, Claims{Iss: nid, Sub: nid, Iat: good.Iat, Exp: good.Exp}), ConnInfo{}, Owner, nid, ""},
		{"owner token", "", ownerAuth, ConnInfo{}, Owner, nid, ""},
		{"eleven minutes", oid, tok(t, other, Claims{Iss: oid, Sub: oid, Iat: good.Iat, Exp: now.Add(11 * time.Minute).Unix()}), ConnInfo{}, 0, "", "longer than"},
		{"expired", oid, tok(t, other, Claims{Iss: oid, Sub: oid, Iat: now.Add(-20 * time.Minute).Unix(), Exp: now.Add(-12 * time.Minute).Unix()}), ConnInfo{}, 0, "", "expired"},
		{"from the future", oid, tok(t, other, Claims{Iss: oid, Sub: oid, Iat: now.Add(5 * time.Minute).Unix(), Exp: now.Add(10 * time.Minute).Unix()}), ConnInfo{}, 0, "", "future"},
		{"sub is not iss", oid, tok(t, other, Claims{Iss: oid, Sub: "someone", Iat: good.Iat, Exp: good.Exp}), ConnInfo{}, 0, "", "sub"},
		{"clientId is not iss", nid, tok(t, other, good), ConnInfo{}, 0, "", "not the clientId"},
		{"signed by another key", oid, tok(t, node, good), ConnInfo{}, 0, "", "does not verify"},
		{"owner token by a stranger", "", tok(t, other, Claims{Iss: oid, Sub: oid, Aud: OwnerAudience, Iat: good.Iat, Exp: good.Exp}), ConnInfo{}, 0, "", "owner token not signed"},
		{"no exp", oid, tok(t, other, Claims{Iss: oid, Sub: oid, Iat: good.Iat}), ConnInfo{}, 0, "", "no iat or exp"},
		{"password", "", json.RawMessage(`{"username":"alice","password":"wonderland"}`), ConnInfo{}, User, "alice", ""},
		{"password with clientId", "alice", json.RawMessage(`{"password":"wonderland"}`), ConnInfo{}, User, "alice", ""},
		{"wrong password", "", json.RawMessage(`{"username":"alice","password":"x"}`), ConnInfo{}, 0, "", "wrong username or password"},
		{"unknown user", "", json.RawMessage(`{"username":"bob","password":"x"}`), ConnInfo{}, 0, "", "wrong username or password"},
		{"username and clientId", "carol", json.RawMessage(`{"username":"alice","password":"wonderland"}`), ConnInfo{}, 0, "", "both username and clientId"},
		{"neither", "", json.RawMessage(`{"foo":"bar"}`), ConnInfo{}, 0, "", "neither token nor password"},
		{"not an object", "", json.RawMessage(`"token"`), ConnInfo{}, 0, "", "unable to parse"},
		{"clientId without proof", oid, nil, ConnInfo{}, 0, "", "no authentication provided"},
		{"transport peer", "", nil, ConnInfo{ClientID: oid, PublicKey: otherPub}, Key, oid, ""},
		{"transport peer named by did:key", DIDKey(otherPub), nil, ConnInfo{ClientID: oid, PublicKey: otherPub}, Key, DIDKey(otherPub), ""},
		{"transport peer claiming another id", nid, nil, ConnInfo{ClientID: oid, PublicKey: otherPub}, 0, "", "no authentication provided"},
	} {
		p, err := a.Authenticate(ctx, tc.clientID, tc.auth, tc.conn)
		if tc.err != "" {
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want ErrUnauthenticated with %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || p.Kind != tc.kind || p.ID != tc.id {
			t.Errorf("%s: %+v %v, want %v %q", tc.name, p, err, tc.kind, tc.id)
		}
	}
	// alg "none" and a mangled signature are refused.
	s, _ := SignJWT(other, good)
	parts := strings.Split(s, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	for _, bad := range []string{none, parts[0] + "." + parts[1] + ".AAAA", "a.b", parts[0] + ".!!." + parts[2]} {
		b, _ := json.Marshal(map[string]string{"token": bad})
		if _, err := a.Authenticate(ctx, "", b, ConnInfo{}); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

func TestUsersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	u, err := OpenUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	u.n = 1 << 10
	if err := u.Add("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	u2, err := OpenUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, _ := u2.CheckPassword(ctx, "alice", "pw"); !ok {
		t.Fatal("password lost on reopen")
	}
	if ok, _ := u2.CheckPassword(ctx, "alice", "PW"); ok {
		t.Fatal("wrong password accepted")
	}
	if err := u2.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	if err := u2.Remove("alice"); !errors.Is(err, ErrNoUser) {
		t.Fatal(err)
	}
	if err := u2.Add("", "x"); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

// Rights over the wire: anonymous clients read public objects; private ones need a reader;
// writes need the owner, an ACL writer, or a creator's own object.
func TestAuthorization(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "acl", nil)
	friend, writer, stranger, creator := newKey(t), newKey(t), newKey(t), newKey(t)
	pid := func(k ed25519.PrivateKey) string { return PeerID(k.Public().(ed25519.PublicKey)) }
	svc, addr, _ := n.serve(t, WithAuthorizer(OwnerOnly{Creators: []string{pid(creator)}}))
	own := n.dial(t, addr, WithAuth(n.ownerAuth()))
	attrs := `{"title":"private","acl":{"readers":["` + DIDKey(friend.Public().(ed25519.PublicKey)) + `"],"writers":["` + pid(writer) + `"]}}`
	if _, err := own.Create(ctx, &DigitalObject{ID: "acl/private", Attributes: json.RawMessage(attrs)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Create(ctx, &DigitalObject{ID: "acl/public", Attributes: json.RawMessage(`{"title":"public"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	anon := n.dial(t, addr)
	if _, err := anon.Retrieve(ctx, "acl/public"); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Retrieve(ctx, "acl/private"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("anonymous private retrieve: %v", err)
	}
	if _, err := n.dial(t, addr, WithAuth(KeyAuth(stranger))).Retrieve(ctx, "acl/private"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("stranger: %v", err)
	}
	// The friend is named by did:key in the ACL and authenticates with a peer ID token.
	fc := n.dial(t, addr, WithAuth(KeyAuth(friend)))
	if _, err := fc.Retrieve(ctx, "acl/private"); err != nil {
		t.Fatalf("friend: %v", err)
	}
	if res, err := fc.Search(ctx, SearchRequest{Query: "private", PageSize: -1, IDsOnly: true}); err != nil || res.Size != 1 {
		t.Fatalf("friend's search: %+v %v", res, err)
	}
	if res, err := anon.Search(ctx, SearchRequest{Query: "private", PageSize: -1, IDsOnly: true}); err != nil || res.Size != 0 {
		t.Fatalf("anonymous search: %+v %v", res, err)
	}
	if _, err := fc.Update(ctx, &DigitalObject{ID: "acl/private", Attributes: json.RawMessage(attrs)}, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("reader's update: %v", err)
	}
	if _, err := n.dial(t, addr, WithAuth(KeyAuth(writer))).Update(ctx, &DigitalObject{ID: "acl/private", Type: "Changed", Attributes: json.RawMessage(attrs)}, nil); err != nil {
		t.Fatalf("writer's update: %v", err)
	}
	if err := anon.Delete(ctx, "acl/public"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("anonymous delete: %v", err)
	}
	// A creator, known by its TLS client certificate alone, creates and deletes its own object.
	cc, err := Dial(ctx, addr, creator, WithPin(n.key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	mine, err := cc.Create(ctx, &DigitalObject{Type: "Mine", Elements: []Element{{ID: "e"}}}, map[string]io.Reader{"e": strings.NewReader("x")})
	if err != nil {
		t.Fatalf("creator's create: %v", err)
	}
	if err := cc.Delete(ctx, "acl/public"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("creator deleting another's object: %v", err)
	}
	if err := cc.Delete(ctx, mine.ID); err != nil {
		t.Fatalf("creator deleting its own: %v", err)
	}
	_ = svc
}

// Hello's key is pinned: a client pinned to another key does not connect.
func TestPinning(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "pin", nil)
	_, addr, _ := n.serve(t)
	if _, err := Dial(ctx, addr, nil, WithPin(newKey(t).Public().(ed25519.PublicKey))); err == nil || !strings.Contains(err.Error(), ErrPin.Error()) {
		t.Fatalf("dial with the wrong pin: %v", err)
	}
	c, err := Dial(ctx, "doip://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.ServerKey().Equal(n.key.Public().(ed25519.PublicKey)) || !c.PublicKey().Equal(c.ServerKey()) {
		t.Fatal("server key not reported")
	}
}

// On a transport without TLS (a libp2p stream, here a pipe), a pinned client checks the key
// Hello publishes.
func TestPinningHello(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "pin2", nil)
	svc, err := NewService(n.repo, n.key, WithServiceLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(svc, WithServerLogger(quiet()))
	defer srv.Close()
	for _, tc := range []struct {
		pin  ed25519.PublicKey
		fail bool
	}{{n.key.Public().(ed25519.PublicKey), false}, {newKey(t).Public().(ed25519.PublicKey), true}} {
		a, b := net.Pipe()
		go srv.ServeConn(ctx, a, ConnInfo{})
		c, err := NewClient(b, WithPin(tc.pin))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Hello(ctx)
		if tc.fail != errors.Is(err, ErrPin) {
			t.Fatalf("pin %x: %v", tc.pin[:4], err)
		}
		c.Close()
	}
}
