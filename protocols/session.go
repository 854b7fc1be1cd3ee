package protocols

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// Local is the local core state a Session reads. *corestore.Core implements it.
type Local interface {
	Info() corestore.Info
	Manifest() *corestore.Manifest
	Has(i uint64) bool
	FirstMissing(from uint64) (uint64, bool)
	Contiguous() uint64
	// RootsHeldUpTo returns the greatest length at most n whose tree roots are held here.
	RootsHeldUpTo(n uint64) uint64
}

var (
	// ErrProtocol marks a peer that broke the protocol: a malformed, unsolicited or oversized
	// message, or a request flood.
	ErrProtocol = errors.New("protocol violation")
	// ErrBadPeer marks a peer that sent data failing verification (bad proof or signature).
	ErrBadPeer = errors.New("peer sent data that failed verification")
	// ErrStalled marks a peer that did not answer a request in time.
	ErrStalled = errors.New("peer stalled")
	// ErrAccess is returned when a peer cannot show it knows the core key, or asks for a core
	// this node does not have.
	ErrAccess = errors.New("capability check failed")
	// ErrBusy is returned by Replicate when the peer had no room for another stream in the
	// capability handshake (its limits, or libp2p's resource limits, were reached); trying again
	// later may succeed.
	ErrBusy = errors.New("peer is busy: no room for another handshake, try again later")
)

// Limits bound what a session sends and accepts.
type Limits struct {
	// MaxMessageSize is the largest frame accepted (and sent).
	MaxMessageSize int
	// MaxInflight is the number of requests a session keeps outstanding with its peer.
	MaxInflight int
	// MaxServing is the number of the peer's requests that may be outstanding at once; a peer
	// that exceeds it is flooding and is disconnected.
	MaxServing int
	// MaxBlocksPerResponse and MaxBytesPerResponse cap one answer; a larger request is answered
	// with a prefix of its range.
	MaxBlocksPerResponse int
	MaxBytesPerResponse  int
	// RequestRate (requests per second) and RequestBurst form the token bucket a peer's requests
	// are admitted through; a request over the rate is answered with NoData.
	RequestRate  float64
	RequestBurst int
	// RequestTimeout is how long a request may stay unanswered, with no other answer arriving
	// from the peer either, before the peer counts as stalled; no request may wait more than four
	// times as long.
	RequestTimeout time.Duration
	// MaxRemoteSpans bounds the have and want ranges remembered per peer.
	MaxRemoteSpans int
}

// DefaultLimits returns the limits used unless configured otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:       DefaultMaxMessageSize,
		MaxInflight:          16,
		MaxServing:           64,
		MaxBlocksPerResponse: maxChunk,
		MaxBytesPerResponse:  8 << 20,
		RequestRate:          2000,
		RequestBurst:         256,
		RequestTimeout:       15 * time.Second,
		MaxRemoteSpans:       4096,
	}
}

// Action is work a Session asks its driver to do: *ServeAction or *ApplyAction. The driver
// reports the outcome with Session.Served or Session.Applied.
type Action interface{ isAction() }

// ServeAction asks the driver to build the proof for the peer's request ID.
type ServeAction struct {
	ID  uint64
	Req corestore.ProofRequest
}

// ApplyAction asks the driver to verify and store a proof the peer sent for request ID.
type ApplyAction struct {
	ID    uint64
	Proof *corestore.Proof
}

func (*ServeAction) isAction() {}
func (*ApplyAction) isAction() {}

// outReq is a request this session sent.
type outReq struct {
	start, end  uint64
	upgrade     bool
	fork, have  uint64 // the local tree the request was made against
	retried     bool   // an upgrade asked for from retry
	upFrom      uint64 // for an upgrade answered: the length the peer proved it from
	remoteFork  uint64 // the peer's fork when the request was made
	sent        time.Time
	chunk       uint64
	hasChunk    bool
	applying    bool
	conflictChk bool
}

// remoteTree is what the peer said of its tree in its last Sync.
type remoteTree struct {
	known                bool
	fork, length, contig uint64
	sig                  []byte
	writable             bool
}

// SessionStats counts what one session moved.
type SessionStats struct {
	BlocksIn, BytesIn, BlocksOut, BytesOut uint64
	Requests, Responses                    uint64
}

// Session is the replication state machine of one stream: one core, one peer. It does no I/O and
// is not safe for concurrent use: a driver feeds it messages (Step), local changes
// (LocalChanged), time (Tick) and the results of the actions it asked for (Served, Applied),
// and after each call drains Ready for the messages to send and the actions to run. A non-nil
// error from Step, Tick or Applied is fatal: the driver must reset the stream; errors.Is tells
// ErrProtocol, ErrBadPeer, ErrStalled and corestore.ErrConflict apart.
type Session struct {
	id          uint64
	lim         Limits
	pausedUntil time.Time // no requests before this: the local disk was full
	local       Local
	sched       *Scheduler
	remote      remoteTree
	have        intervals // blocks the peer said it holds (beyond what remote.contig says)
	wants       intervals // blocks the peer said it wants

	sent struct {
		valid                bool
		fork, length, contig uint64
	}
	out        []Message
	acts       []Action
	nextID     uint64
	reqs       map[uint64]*outReq
	serving    map[uint64]bool // request id → cancelled
	tokens     float64
	refill     time.Time
	lastAnswer time.Time // when the last Data or NoData arrived
	// upgradeRefusals counts upgrades the peer announced and then answered with NoData.
	upgradeRefusals int
	// dropped counts requests refused by the rate limit since dropWindow.
	dropped    int
	dropWindow time.Time

	noUpgrade *remoteTree // the peer's claim it could not prove
	// retry is set when an upgrade to the peer's fork could not be checked from where the forks
	// diverge, as for a sparse replica that lacks the tree nodes there: the next one is asked for
	// from an earlier length whose roots are held. It holds until the peer announces another tree.
	retry         *retryFrom
	conflictCheck bool
	frozen        bool
	err           error
	stats         SessionStats
}

// NewSession returns the state machine of a session with id (unique per core, non-zero) over
// local, sharing sched with the other sessions of the same core.
func NewSession(id uint64, local Local, sched *Scheduler, lim Limits) *Session {
	return &Session{id: id, lim: lim, local: local, sched: sched, reqs: map[uint64]*outReq{},
		serving: map[uint64]bool{}, tokens: float64(lim.RequestBurst),
		have: intervals{max: lim.MaxRemoteSpans}, wants: intervals{max: lim.MaxRemoteSpans}}
}

// Ready returns and clears the messages to send and the actions to run, in order.
func (s *Session) Ready() ([]Message, []Action) {
	m, a := s.out, s.acts
	s.out, s.acts = nil, nil
	return m, a
}

// Err returns the fatal error the session ended with, if any.
func (s *Session) Err() error { return s.err }

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats { return s.stats }

// Remote returns the peer's last announced fork and length, and whether it announced one.
func (s *Session) Remote() (fork, length uint64, known bool) {
	return s.remote.fork, s.remote.length, s.remote.known
}

// CanUpgradeFrom reports whether the peer claims a tree newer than (fork, length) that it has not
// failed to prove.
func (s *Session) CanUpgradeFrom(fork, length uint64) bool {
	return s.remote.known && s.noUpgrade == nil && newer(s.remote.fork, s.remote.length, fork, length)
}

func newer(fa, la, fb, lb uint64) bool { return fa > fb || (fa == fb && la > lb) }

func (s *Session) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}

func (s *Session) violation(format string, args ...any) error {
	return s.fail(fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...))
}

// Start emits the opening Sync, the ranges held beyond the contiguous prefix, and the wants.
func (s *Session) Start(now time.Time) {
	s.refill = now
	s.sendSync()
	s.announceHeld()
	for _, w := range s.sched.WantSpans() {
		length := w.end - w.start
		if w.end == ^uint64(0) {
			length = 0
		}
		s.out = append(s.out, &Want{Start: w.start, Length: length})
	}
	s.schedule(now)
}

func (s *Session) sendSync() {
	in := s.local.Info()
	contig := s.local.Contiguous()
	if s.sent.valid && s.sent.fork == in.Fork && s.sent.length == in.Length && s.sent.contig == contig {
		return
	}
	s.sent.valid, s.sent.fork, s.sent.length, s.sent.contig = true, in.Fork, in.Length, contig
	s.out = append(s.out, &Sync{Fork: in.Fork, Length: in.Length, Signature: in.Signature, Contiguous: contig, Writable: in.Writable})
}

// announceHeld sends Range messages for held runs past the contiguous prefix, within a bounded
// scan.
func (s *Session) announceHeld() {
	in := s.local.Info()
	i := s.local.Contiguous()
	const budget, maxSpans = 1 << 18, 256
	scanned, spans := 0, 0
	for i < in.Length && scanned < budget && spans < maxSpans {
		for i < in.Length && !s.local.Has(i) && scanned < budget {
			i++
			scanned++
		}
		j := i
		for j < in.Length && s.local.Has(j) && scanned < budget {
			j++
			scanned++
		}
		if j > i {
			s.out = append(s.out, &Range{Start: i, Length: j - i})
			spans++
		}
		i = j
	}
}

// AnnounceRange tells the peer that blocks [start, end) are now held here.
func (s *Session) AnnounceRange(start, end uint64) {
	if s.err == nil && end > start && start >= s.sent.contig {
		s.out = append(s.out, &Range{Start: start, Length: end - start})
	}
}

// LocalChanged tells the session the local core changed: it announces a new tree or contiguous
// length and schedules requests.
func (s *Session) LocalChanged(now time.Time) {
	if s.err != nil {
		return
	}
	s.sendSync()
	s.schedule(now)
}

// Tick advances time: it fails the session when a request has waited too long, and schedules
// requests (wants may have changed).
func (s *Session) Tick(now time.Time) error {
	if s.err != nil {
		return s.err
	}
	// A peer is stalled when a request has waited RequestTimeout and no other answer arrived
	// meanwhile (a peer busy streaming earlier answers is not stalled), or when any request has
	// waited four times that.
	for id, r := range s.reqs {
		if r.applying || s.lim.RequestTimeout <= 0 {
			continue
		}
		since := r.sent
		if s.lastAnswer.After(since) {
			since = s.lastAnswer
		}
		if now.Sub(since) > s.lim.RequestTimeout || now.Sub(r.sent) > 4*s.lim.RequestTimeout {
			return s.fail(fmt.Errorf("%w: request %d for blocks [%d, %d) unanswered after %v", ErrStalled, id, r.start, r.end, now.Sub(r.sent).Round(time.Millisecond)))
		}
	}
	s.schedule(now)
	return nil
}

// Requested returns the block range of request id this session sent, while it is outstanding.
func (s *Session) Requested(id uint64) (start, end uint64, ok bool) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, 0, false
	}
	return r.start, r.end, true
}

// Close releases everything the session holds in the shared scheduler.
func (s *Session) Close() { s.sched.dropSession(s.id) }

// Step consumes one message from the peer.
func (s *Session) Step(now time.Time, m Message) error {
	if s.err != nil {
		return s.err
	}
	var err error
	switch m := m.(type) {
	case *Open:
		err = s.violation("second open")
	case *Sync:
		err = s.onSync(m)
	case *Request:
		err = s.onRequest(now, m)
	case *Cancel:
		if _, ok := s.serving[m.ID]; ok {
			s.serving[m.ID] = true
		}
	case *Data:
		s.lastAnswer = now
		err = s.onData(m)
	case *NoData:
		s.lastAnswer = now
		err = s.onNoData(m)
	case *Want:
		end := m.Start + m.Length
		if m.Length == 0 || end < m.Start {
			end = ^uint64(0)
		}
		s.wants.add(m.Start, end)
	case *Unwant:
		end := m.Start + m.Length
		if m.Length == 0 || end < m.Start {
			end = ^uint64(0)
		}
		s.wants.remove(m.Start, end)
	case *Range:
		end := m.Start + m.Length
		if end < m.Start {
			return s.violation("range [%d, +%d) overflows", m.Start, m.Length)
		}
		if m.Drop {
			s.have.remove(m.Start, end)
		} else {
			s.have.add(m.Start, end)
		}
	case *Bitfield:
		err = s.onBitfield(m)
	default:
		err = s.violation("unknown message %T", m)
	}
	if err != nil {
		return err
	}
	s.schedule(now)
	return nil
}

func (s *Session) onSync(m *Sync) error {
	if m.Contiguous > m.Length {
		return s.violation("sync: contiguous %d past length %d", m.Contiguous, m.Length)
	}
	if m.Fork != s.remote.fork || !s.remote.known {
		s.have.clear()
	}
	if s.noUpgrade != nil && (s.noUpgrade.fork != m.Fork || s.noUpgrade.length != m.Length) {
		s.noUpgrade = nil
	}
	if m.Fork != s.remote.fork || m.Length != s.remote.length {
		s.retry = nil
	}
	if !bytes.Equal(s.remote.sig, m.Signature) {
		s.conflictCheck = false
	}
	s.remote = remoteTree{known: true, fork: m.Fork, length: m.Length, contig: m.Contiguous,
		sig: bytes.Clone(m.Signature), writable: m.Writable}
	return nil
}

// maxBitfieldBytes bounds one Bitfield message (a million blocks).
const maxBitfieldBytes = 1 << 17

func (s *Session) onBitfield(m *Bitfield) error {
	if len(m.Bits) > maxBitfieldBytes {
		return s.violation("bitfield of %d bytes, limit %d", len(m.Bits), maxBitfieldBytes)
	}
	if uint64(len(m.Bits)) > (^uint64(0)-m.Start)/8 {
		return s.violation("bitfield at %d overflows", m.Start)
	}
	// Add runs of set bits, not single bits.
	n := uint64(len(m.Bits)) * 8
	bit := func(k uint64) bool { return m.Bits[k/8]&(1<<(k%8)) != 0 }
	for k := uint64(0); k < n; {
		if !bit(k) {
			k++
			continue
		}
		j := k
		for j < n && bit(j) {
			j++
		}
		s.have.add(m.Start+k, m.Start+j)
		k = j
	}
	return nil
}

func (s *Session) onRequest(now time.Time, m *Request) error {
	if _, dup := s.serving[m.ID]; dup {
		return s.violation("request id %d reused while outstanding", m.ID)
	}
	if len(s.serving) >= s.lim.MaxServing {
		return s.violation("request flood: more than %d requests outstanding", s.lim.MaxServing)
	}
	if m.End < m.Start {
		return s.violation("request %d: range [%d, %d)", m.ID, m.Start, m.End)
	}
	s.stats.Requests++
	// Token bucket.
	if dt := now.Sub(s.refill); dt > 0 {
		s.tokens = min(float64(s.lim.RequestBurst), s.tokens+dt.Seconds()*s.lim.RequestRate)
		s.refill = now
	}
	if s.tokens < 1 {
		if now.Sub(s.dropWindow) > time.Second {
			s.dropWindow, s.dropped = now, 0
		}
		s.dropped++
		if s.dropped > s.lim.RequestBurst {
			return s.violation("request flood: %d requests over the rate limit within a second", s.dropped)
		}
		s.out = append(s.out, &NoData{ID: m.ID})
		return nil
	}
	s.tokens--
	end := m.End
	if n := uint64(s.lim.MaxBlocksPerResponse); end-m.Start > n {
		end = m.Start + n
	}
	if in := s.local.Info(); in.Length > 0 && end > m.Start {
		avg := max(in.ByteLength/in.Length, 1)
		if n := max(uint64(s.lim.MaxBytesPerResponse)/avg, 1); end-m.Start > n {
			end = m.Start + n
		}
	}
	s.serving[m.ID] = false
	s.acts = append(s.acts, &ServeAction{ID: m.ID, Req: corestore.ProofRequest{Start: m.Start, End: end,
		Upgrade: m.Upgrade, HaveFork: m.Fork, HaveLength: m.HaveLength, NeedManifest: m.NeedManifest}})
	return nil
}

// Served reports the outcome of a ServeAction: the proof, or why there is none. An error wrapping
// ErrMessageTooLarge (the proof of even one block does not fit in a message) is answered with
// NoData giving NoDataTooLarge, any other with a plain NoData.
func (s *Session) Served(id uint64, p *corestore.Proof, err error) {
	cancelled, ok := s.serving[id]
	if !ok || s.err != nil {
		return
	}
	delete(s.serving, id)
	if cancelled {
		return
	}
	if err != nil || p == nil {
		nd := &NoData{ID: id}
		if errors.Is(err, ErrMessageTooLarge) {
			nd.Reason = NoDataTooLarge
		}
		s.out = append(s.out, nd)
		return
	}
	s.stats.Responses++
	s.stats.BlocksOut += uint64(len(p.Blocks))
	for _, b := range p.Blocks {
		s.stats.BytesOut += uint64(len(b))
	}
	s.out = append(s.out, dataOf(id, p))
}

func (s *Session) onData(m *Data) error {
	r, ok := s.reqs[m.ID]
	if !ok || r.applying {
		return s.violation("data for request %d, which is not outstanding", m.ID)
	}
	n := uint64(len(m.Blocks))
	if n > 0 && (m.Start < r.start || m.Start+n > r.end || m.Start+n < m.Start) {
		return s.violation("data for request %d: blocks [%d, +%d) outside the requested [%d, %d)", m.ID, m.Start, n, r.start, r.end)
	}
	if r.upgrade != (m.Upgrade != nil) {
		return s.violation("data for request %d: upgrade requested %v, sent %v", m.ID, r.upgrade, m.Upgrade != nil)
	}
	if n == 0 && m.Upgrade == nil {
		return s.violation("data for request %d carries nothing", m.ID)
	}
	r.applying = true
	if m.Upgrade != nil {
		r.upFrom = m.Upgrade.From
	}
	s.stats.BlocksIn += n
	for _, b := range m.Blocks {
		s.stats.BytesIn += uint64(len(b))
	}
	s.acts = append(s.acts, &ApplyAction{ID: m.ID, Proof: proofOf(m)})
	return nil
}

// maxUpgradeRefusals is how many announced trees a peer may fail to prove before it counts as
// misbehaving: each upgrade attempt holds back the core's block downloads while it is in flight.
const maxUpgradeRefusals = 3

func (s *Session) onNoData(m *NoData) error {
	r, ok := s.reqs[m.ID]
	if !ok || r.applying {
		return nil
	}
	s.finish(m.ID, r)
	if r.conflictChk {
		return nil
	}
	if r.upgrade {
		rt := s.remote
		s.noUpgrade = &rt
		if s.upgradeRefusals++; s.upgradeRefusals > maxUpgradeRefusals {
			return s.violation("announced %d trees it then refused to prove", s.upgradeRefusals)
		}
		return nil
	}
	if m.Reason == NoDataTooLarge && r.end > r.start+1 {
		// The responder shortens an answer until it fits, so it is the first block that does not:
		// the rest of the range can still be had from it.
		if r.start < s.remote.contig {
			s.have.add(r.start+1, s.remote.contig)
			s.remote.contig = r.start
		}
		s.have.remove(r.start, r.start+1)
		return nil
	}
	s.have.remove(r.start, r.end)
	if r.start < s.remote.contig {
		s.remote.contig = r.start
	}
	return nil
}

func (s *Session) finish(id uint64, r *outReq) {
	delete(s.reqs, id)
	if r.hasChunk {
		s.sched.release(s.id, r.chunk)
	}
	if r.upgrade && !r.conflictChk {
		s.sched.endUpgrade(s.id)
	}
}

// Applied reports the outcome of an ApplyAction. A bad proof or signature from the peer is fatal
// (ErrBadPeer), as is a conflict (corestore.ErrConflict); a stale proof, or one that failed only
// because the local tree moved since the request, is not.
func (s *Session) Applied(now time.Time, id uint64, res corestore.ApplyResult, err error) error {
	r, ok := s.reqs[id]
	if !ok || s.err != nil {
		return s.err
	}
	s.finish(id, r)
	switch {
	case err == nil, errors.Is(err, corestore.ErrStale):
	case errors.Is(err, corestore.ErrBadSignature):
		return s.fail(fmt.Errorf("%w: %w", ErrBadPeer, err))
	case errors.Is(err, corestore.ErrBadProof):
		in := s.local.Info()
		switch {
		case in.Fork != r.fork || in.Length != r.have:
			// The local tree moved since the request: the proof is stale, not bad.
		case r.upgrade && r.remoteFork != r.fork:
			// An upgrade across forks can fail to verify from the shared prefix when the peer is
			// a replica that does not know where the forks diverged. Ask again from earlier.
			if err := s.retryUpgrade(r); err != nil {
				return err
			}
		default:
			return s.fail(fmt.Errorf("%w: %w", ErrBadPeer, err))
		}
	case errors.Is(err, corestore.ErrNotAvailable) && r.upgrade && r.remoteFork != r.fork:
		// A sparse replica lacks the tree nodes at the shared prefix the upgrade starts from.
		if err := s.retryUpgrade(r); err != nil {
			return err
		}
	case errors.Is(err, corestore.ErrConflict):
		s.frozen = true
		return s.fail(err)
	case errors.Is(err, corestore.ErrFrozen):
		s.frozen = true
	case errors.Is(err, corestore.ErrDiskFull):
		// Nothing can be stored until space is freed: ask for nothing more for a while, rather
		// than download the same blocks again and again to throw them away.
		s.pausedUntil = now.Add(DiskFullBackoff)
	default:
		// A local failure (storage, cancellation): not the peer's fault.
	}
	s.schedule(now)
	return nil
}

// retryFrom is a length to ask upgrades to another fork from, while the local fork is fork.
type retryFrom struct{ fork, length uint64 }

// retryUpgrade follows a failed upgrade across forks, r. It counts against the peer, which could
// otherwise keep announcing trees it cannot prove. The next upgrade is asked for from the greatest
// length, no later than where the peer proved r from, whose roots are held here; if r already was,
// the peer's tree is given up on until it announces another.
func (s *Session) retryUpgrade(r *outReq) error {
	if s.upgradeRefusals++; s.upgradeRefusals > maxUpgradeRefusals {
		return s.violation("announced %d trees it then failed to prove", s.upgradeRefusals)
	}
	if r.retried {
		rt := s.remote
		s.noUpgrade = &rt
		return nil
	}
	s.retry = &retryFrom{fork: r.fork, length: s.local.RootsHeldUpTo(min(r.upFrom, r.have))}
	return nil
}

// schedule sends the requests the session can make now: a tree upgrade when the peer is ahead, a
// conflict check when the peer signed a different tree of the same length, and block ranges.
// DiskFullBackoff is how long a session asks for nothing after the local store refused a proof
// for lack of disk space.
const DiskFullBackoff = 5 * time.Second

func (s *Session) schedule(now time.Time) {
	if s.err != nil || s.frozen || !s.remote.known || now.Before(s.pausedUntil) {
		return
	}
	in := s.local.Info()
	if in.Frozen != "" || in.Writable {
		s.sched.wantUpgrade(s.id, false)
		return
	}
	wantUp := s.CanUpgradeFrom(in.Fork, in.Length) && !s.hasUpgrade()
	s.sched.wantUpgrade(s.id, wantUp)
	if wantUp && s.sched.tryUpgrade(s.id) {
		q := &Request{ID: s.newID(), Upgrade: true, Fork: in.Fork, HaveLength: in.Length, NeedManifest: s.local.Manifest() == nil}
		retried := s.retry != nil && s.retry.fork == in.Fork && s.remote.fork != in.Fork
		if retried {
			q.HaveLength = min(s.retry.length, in.Length)
		}
		if s.remote.fork == in.Fork {
			if end := min(s.remoteRun(in.Length), s.remote.length, in.Length+s.chunkFor(in), s.sched.wantedUntil(in.Length)); end > in.Length {
				q.Start, q.End = in.Length, end
			}
		}
		s.send(now, q, &outReq{start: q.Start, end: q.End, upgrade: true, retried: retried})
	}
	if !s.conflictCheck && s.remote.fork == in.Fork && s.remote.length == in.Length && in.Length > 0 &&
		len(s.remote.sig) > 0 && !bytes.Equal(s.remote.sig, in.Signature) {
		s.conflictCheck = true
		q := &Request{ID: s.newID(), Upgrade: true, Fork: in.Fork, HaveLength: 0}
		s.send(now, q, &outReq{upgrade: true, conflictChk: true})
	}
	if s.remote.fork != in.Fork || s.remote.length < in.Length || in.Length == 0 {
		return
	}
	for len(s.reqs) < s.lim.MaxInflight {
		start, end, c, ok := s.sched.next(s.id, s.local, in.Length, in.ByteLength, s)
		if !ok {
			return
		}
		q := &Request{ID: s.newID(), Fork: in.Fork, Start: start, End: end, HaveLength: in.Length}
		s.send(now, q, &outReq{start: start, end: end, chunk: c, hasChunk: true})
	}
}

func (s *Session) chunkFor(in corestore.Info) uint64 {
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	return s.sched.chunkSizeLocked(in.Length, in.ByteLength)
}

func (s *Session) hasUpgrade() bool {
	for _, r := range s.reqs {
		if r.upgrade && !r.conflictChk {
			return true
		}
	}
	return false
}

func (s *Session) newID() uint64 {
	s.nextID++
	return s.nextID
}

func (s *Session) send(now time.Time, q *Request, r *outReq) {
	in := s.local.Info()
	r.fork, r.have, r.sent, r.remoteFork = in.Fork, in.Length, now, s.remote.fork
	s.reqs[q.ID] = r
	s.out = append(s.out, q)
}

// runFrom returns the end of the run of blocks from i the peer holds (remoteView).
func (s *Session) runFrom(i uint64) uint64 {
	if i < s.remote.contig {
		return max(s.remote.contig, s.have.runFrom(s.remote.contig))
	}
	return s.have.runFrom(i)
}

// nextFrom returns the first block at or after i the peer holds (remoteView).
func (s *Session) nextFrom(i uint64) (uint64, bool) {
	if i < s.remote.contig {
		return i, true
	}
	return s.have.nextFrom(i)
}

func (s *Session) remoteRun(i uint64) uint64 { return s.runFrom(i) }
