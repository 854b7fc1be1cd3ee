package protocols

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/datomspace/datomspace/corestore"
)

// Access control. Knowing a core's key is enough to replicate it unless an Access says otherwise:
// the layer above (the asset layer's grants) rules, after the capability check of every sync
// stream, whether this node serves the core to the peer, and it can refuse with a reason the
// peer sees. The opener may present a credential in its Open (Open.Credential), and each side
// may tell the other something about the core (Open.Meta, Refuse.Meta): where its grants are.
//
// Both ends rule. A responder that refuses answers the Open with a Refuse and closes the stream.
// An initiator that would not serve the responder still downloads from it, but answers its
// requests with NoData: whoever opened the stream, blocks flow only to a peer the Access allows.

// ErrRefused: the peer's Access refused to serve the core. The error Replicate returns is a
// *Refusal, or what Access.Answered made of it; both match ErrRefused.
var ErrRefused = errors.New("refused")

// Refusal is a responder's refusal as it travels: a short stable code ("no grant"), a message
// that explains, and what the responder wants the opener to know (meta).
type Refusal struct {
	Code    string
	Message string
	Meta    []byte
}

// Limits of a Refuse message's fields, so that it fits in an Open-sized frame.
const (
	maxRefusalCode    = 64
	maxRefusalMessage = 200
	// MaxMeta bounds the meta an Access adds to an Open or a Refuse.
	MaxMeta = 700
	// MaxCredential bounds the credential an Access presents in an Open.
	MaxCredential = 900
)

// Error returns the refusal's code, and its message when it says more.
func (r *Refusal) Error() string {
	switch {
	case r.Message == "" || r.Message == r.Code:
		return "refused: " + r.Code
	case strings.HasPrefix(r.Message, r.Code):
		return "refused: " + r.Message
	}
	return "refused: " + r.Code + ": " + r.Message
}

// Is makes a Refusal match ErrRefused.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// Access is what a Replicator asks before it serves a core (see WithAccess).
type Access interface {
	// Authorize rules whether this node serves core to remote, which presented credential
	// (nil when it presented none; always nil when this node opened the stream). meta is sent
	// to remote with the answer, at most MaxMeta bytes. A non-nil refusal refuses; its code and
	// message reach remote.
	Authorize(ctx context.Context, core *corestore.Core, remote peer.ID, credential []byte) (meta []byte, refusal *Refusal)
	// Credential returns what this node presents when it opens a stream for core with remote
	// (nil for nothing), at most MaxCredential bytes.
	Credential(core *corestore.Core, remote peer.ID) []byte
	// Answered is told what the responder said when this node opened a stream for core: its
	// meta, and its refusal or nil. For a refusal it returns the error Replicate reports (which
	// must match ErrRefused); nil keeps the Refusal itself. It may block briefly (to fetch a
	// key, say): the session starts after it returns.
	Answered(ctx context.Context, core *corestore.Core, remote peer.ID, meta []byte, refusal *Refusal) error
}

// WithAccess makes the Replicator ask a before it serves a core to a peer (see Access).
func WithAccess(a Access) Option {
	return func(c *config) {
		if a != nil {
			c.access = &accessState{a: a}
		}
	}
}

// accessState is the Access and what it ruled on each session this node opened.
type accessState struct {
	a     Access
	gates sync.Map // openKey → error: this node does not serve the peer on that session
	creds sync.Map // openKey → []byte: the credential the peer presented when it opened
}

// refusedServe returns why this node does not serve p core dk on a session it opened, or nil.
func (r *Replicator) refusedServe(dk corestore.Key, p peer.ID) error {
	if r.cfg.access == nil {
		return nil
	}
	if v, ok := r.cfg.access.gates.Load(openKey{dk, p}); ok {
		return v.(error)
	}
	return nil
}

// authorizeOpener rules on a stream p opened for core with credential cred: the meta for the
// answer, and a refusal or nil.
func (r *Replicator) authorizeOpener(ctx context.Context, core *corestore.Core, p peer.ID, cred []byte) ([]byte, *Refusal) {
	as := r.cfg.access
	if as == nil {
		return nil, nil
	}
	meta, ref := as.a.Authorize(ctx, core, p, cred)
	k := openKey{core.DiscoveryKey(), p}
	as.gates.Delete(k)
	if ref == nil {
		as.creds.Store(k, cred)
	}
	return clip(meta, MaxMeta), clipRefusal(ref)
}

// credentialFor returns what this node presents when it opens a stream for core with p.
func (r *Replicator) credentialFor(core *corestore.Core, p peer.ID) []byte {
	if r.cfg.access == nil {
		return nil
	}
	return clip(r.cfg.access.a.Credential(core, p), MaxCredential)
}

// answered handles the responder's answer to a stream this node opened: m is its Open or its
// Refuse. It returns the error to report for a refusal.
func (r *Replicator) answered(ctx context.Context, core *corestore.Core, p peer.ID, m Message) error {
	as := r.cfg.access
	switch m := m.(type) {
	case *Refuse:
		ref := &Refusal{Code: m.Code, Message: m.Message, Meta: m.Meta}
		if ref.Code == "" {
			ref.Code = "refused"
		}
		if as != nil {
			if err := as.a.Answered(ctx, core, p, m.Meta, ref); err != nil {
				if !errors.Is(err, ErrRefused) {
					err = fmt.Errorf("%w: %w", ref, err)
				}
				return err
			}
		}
		return ref
	case *Open:
		if as == nil {
			return nil
		}
		as.a.Answered(ctx, core, p, m.Meta, nil)
		k := openKey{core.DiscoveryKey(), p}
		if _, ref := as.a.Authorize(ctx, core, p, nil); ref != nil {
			as.gates.Store(k, error(ref))
		} else {
			as.gates.Delete(k)
		}
	}
	return nil
}

// Reauthorize rules again on every open session of core, as after a grant changed: a session a
// peer opened whose peer is refused now is closed; on a session this node opened, it stops
// serving the peer (it still downloads), or serves it again, from the peer's next request (a
// peer that was refused a tree asks for it again once the tree changes). It returns the number
// of sessions it closed or gated.
func (r *Replicator) Reauthorize(ctx context.Context, core *corestore.Core) int {
	as := r.cfg.access
	if as == nil {
		return 0
	}
	r.mu.Lock()
	cs := r.cores[core.DiscoveryKey()]
	var ds []*driver
	if cs != nil {
		for _, d := range cs.sessions {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	n := 0
	for _, d := range ds {
		k := openKey{core.DiscoveryKey(), d.peer}
		var cred []byte
		if v, ok := as.creds.Load(k); ok && !d.initiator {
			cred = v.([]byte)
		}
		_, ref := as.a.Authorize(ctx, core, d.peer, cred)
		switch {
		case ref == nil:
			if d.initiator {
				as.gates.Delete(k)
			}
		case d.initiator:
			as.gates.Store(k, error(ref))
			n++
		default:
			r.cfg.log.Debug("closing a session the peer may no longer have", "peer", d.peer, "core", core.Key().String(), "reason", ref.Code)
			d.stream.Reset()
			n++
		}
	}
	return n
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return nil
	}
	return b
}

func clipRefusal(ref *Refusal) *Refusal {
	if ref == nil {
		return nil
	}
	out := *ref
	out.Code, out.Message, out.Meta = clipText(out.Code, maxRefusalCode), clipText(out.Message, maxRefusalMessage), clip(out.Meta, MaxMeta)
	return &out
}

// clipText shortens s to at most n bytes of valid UTF-8.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Refuse answers an Open: the responder does not serve the core to the opener. It is the last
// message of the stream.
type Refuse struct {
	Code    string
	Message string
	Meta    []byte
}

func (*Refuse) field() protowire.Number { return 11 }

func (m *Refuse) appendTo(b []byte) []byte {
	b = appendBytes(b, 1, []byte(m.Code))
	b = appendBytes(b, 2, []byte(m.Message))
	return appendBytes(b, 3, m.Meta)
}

func decodeRefuse(r *fieldReader) *Refuse {
	m := &Refuse{}
	for n, t, ok := r.next(); ok; n, t, ok = r.next() {
		switch n {
		case 1:
			m.Code = string(r.bytes(t))
		case 2:
			m.Message = string(r.bytes(t))
		case 3:
			m.Meta = append([]byte(nil), r.bytes(t)...)
		default:
			r.skip(n, t)
		}
	}
	if len(m.Code) > maxRefusalCode || len(m.Message) > maxRefusalMessage || len(m.Meta) > MaxMeta ||
		!utf8.ValidString(m.Code) || !utf8.ValidString(m.Message) {
		r.fail("refuse fields over their limits or not UTF-8")
	}
	return m
}

// refuse answers an Open with a Refuse and waits, within the open deadline, for the opener to
// close the stream, so that the reset that follows cannot drop the answer before it is read.
func (r *Replicator) refuse(s interface {
	Write([]byte) (int, error)
	Read([]byte) (int, error)
	CloseWrite() error
}, ref *Refusal) {
	if _, err := s.Write(AppendFrame(nil, &Refuse{Code: ref.Code, Message: ref.Message, Meta: ref.Meta})); err != nil {
		return
	}
	s.CloseWrite()
	var buf [64]byte
	for {
		if _, err := s.Read(buf[:]); err != nil {
			return
		}
	}
}
