package dwncore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/kvstore"
)

// IngestStats counts what an Ingest did with the entries it read.
type IngestStats struct {
	Read      int // entries read from the core
	Accepted  int // new messages stored (and journaled in the node's own core)
	Known     int // messages the node had, or that were older than its state (409)
	Parked    int // messages refused for now, kept to retry when more arrive
	Invalid   int // blocks that are not journal entries
	Retried   int // parked messages accepted on a retry
	Remaining int // parked messages still waiting
}

// Ingest processes the entries of core, a core of tenant written by another node (usually a
// replica this node keeps in sync), that it has not read yet: each is judged as dwn.Node.Ingest
// judges it. Only the contiguous prefix held locally is read. Messages that cannot be accepted yet
// (a parent or protocol that has not arrived, or a refusal) are parked and retried whenever
// something new is accepted. Ingest is idempotent and resumes where it stopped.
// readBatch is how many core entries are read at once.
const readBatch = 256

func (s *Store) Ingest(ctx context.Context, tenant string, core *corestore.Core) (IngestStats, error) {
	s.ingest.Lock()
	defer s.ingest.Unlock()
	var st IngestStats
	if own, ok := s.ownCore(tenant); ok && own.Key() == core.Key() {
		return st, errors.New("dwncore: a node does not ingest its own core")
	}
	rk := remoteKey(tenant, core.Key())
	next, err := s.getUint(ctx, rk)
	if err != nil {
		return st, err
	}
	end := core.Contiguous()
	for start := next; start < end; start += readBatch {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		stop := min(start+readBatch, end)
		bs, err := core.GetRange(ctx, start, stop)
		if err != nil {
			return st, fmt.Errorf("ingest %s entries %d-%d: %w", tenant, start, stop, err)
		}
		for j, b := range bs {
			st.Read++
			e, err := DecodeEntry(b)
			if err != nil {
				s.cfg.log.Warn("dwn: skipping a block that is not a journal entry", "tenant", tenant, "core", core.Key(), "index", start+uint64(j), "err", err)
				st.Invalid++
				continue
			}
			outcome, err := s.ingestOne(ctx, tenant, e)
			if err != nil {
				return st, err
			}
			switch outcome {
			case accepted:
				st.Accepted++
			case known:
				st.Known++
			case refused:
				if err := s.park(ctx, tenant, e, b); err != nil {
					return st, err
				}
				st.Parked++
			}
		}
		// The position is saved once a batch: after a crash the batch is read again, and what
		// was taken from it is known (409) and what was parked is parked once.
		if err := kvstore.Update(ctx, s.backend, func(tx kvstore.Tx) error {
			return tx.Set(rk, binary.BigEndian.AppendUint64(nil, stop))
		}); err != nil {
			return st, err
		}
	}
	if st.Accepted > 0 {
		n, left, err := s.retryParked(ctx, tenant)
		if err != nil {
			return st, err
		}
		st.Retried, st.Remaining = n, left
	} else {
		st.Remaining, _ = s.countParked(ctx, tenant)
	}
	return st, nil
}

// Follow ingests core now and again after every change, until ctx ends.
func (s *Store) Follow(ctx context.Context, tenant string, core *corestore.Core) error {
	for {
		updated := core.Updated()
		if _, err := s.Ingest(ctx, tenant, core); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-updated:
		}
	}
}

func (s *Store) ownCore(tenant string) (*corestore.Core, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cores[tenant]
	return c, ok
}

type outcome int

const (
	accepted outcome = iota
	known
	refused
)

// ingestOne judges one entry from another node.
func (s *Store) ingestOne(ctx context.Context, tenant string, e Entry) (outcome, error) {
	data, err := s.ingestData(ctx, tenant, e)
	if errors.Is(err, errDataUnavailable) {
		// judged without its data it would be stored as a write without data and never get it:
		// wait until the data can be fetched
		return refused, nil
	}
	if err != nil {
		return 0, err
	}
	r, err := s.node.Ingest(ctx, tenant, e.Message, data)
	if c, ok := data.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return 0, err
	}
	switch {
	case r.Status.Code == 202 || r.Status.Code == 204:
		return accepted, nil
	case r.Status.Code == 409:
		return known, nil
	}
	s.cfg.log.Debug("dwn: ingested message refused for now", "tenant", tenant, "code", r.Status.Code, "detail", r.Status.Detail)
	return refused, nil
}

// ingestData returns the data to judge an ingested write with: the inline data the origin kept,
// or for large data that came with the origin's message, the local copy or a fetched one. A write
// that came without data gets none (it must not borrow data the network happens to have).
func (s *Store) ingestData(ctx context.Context, tenant string, e Entry) (io.Reader, error) {
	if e.Data != nil {
		return bytes.NewReader(e.Data), nil
	}
	rid, cid, large := largeData(e.Message)
	if !large || !e.WithData {
		return nil, nil
	}
	rc, _, err := s.cfg.data.Get(ctx, tenant, rid, cid)
	if err == nil {
		return rc, nil
	}
	if !errors.Is(err, dwn.ErrNotFound) {
		return nil, err
	}
	if s.cfg.fetch == nil {
		return nil, errDataUnavailable
	}
	rc, err = s.cfg.fetch(ctx, cid)
	if err != nil {
		s.cfg.log.Debug("dwn: record data not found for an ingested write", "cid", cid, "err", err)
		return nil, errDataUnavailable
	}
	return rc, nil
}

var errDataUnavailable = errors.New("record data unavailable")

func (s *Store) park(ctx context.Context, tenant string, e Entry, block []byte) error {
	n, err := s.countParked(ctx, tenant)
	if err != nil || n >= s.cfg.parked {
		return err
	}
	cid, err := dwn.MessageCID(e.Message)
	if err != nil {
		return nil // a message without a CID can never be accepted
	}
	return kvstore.Update(ctx, s.backend, func(tx kvstore.Tx) error {
		return tx.Set(append(parkedPrefix(tenant), cid...), block)
	})
}

func (s *Store) countParked(ctx context.Context, tenant string) (int, error) {
	n := 0
	err := kvstore.View(ctx, s.backend, func(tx kvstore.Tx) error {
		return tx.Iterate(parkedPrefix(tenant), nil, false, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// retryParked retries parked entries until a round accepts none.
func (s *Store) retryParked(ctx context.Context, tenant string) (retried int, left int, err error) {
	for {
		type p struct{ key, block []byte }
		var ps []p
		prefix := parkedPrefix(tenant)
		err := kvstore.View(ctx, s.backend, func(tx kvstore.Tx) error {
			return tx.Iterate(prefix, nil, false, func(k, v []byte) (bool, error) {
				ps = append(ps, p{append([]byte(nil), k...), append([]byte(nil), v...)})
				return true, nil
			})
		})
		if err != nil {
			return retried, 0, err
		}
		progress := 0
		for _, x := range ps {
			e, err := DecodeEntry(x.block)
			drop := err != nil
			if err == nil {
				o, err := s.ingestOne(ctx, tenant, e)
				if err != nil {
					return retried, 0, err
				}
				if o == accepted {
					progress++
				}
				drop = o != refused
			}
			if drop {
				if err := kvstore.Update(ctx, s.backend, func(tx kvstore.Tx) error { return tx.Delete(x.key) }); err != nil {
					return retried, 0, err
				}
			}
		}
		retried += progress
		if progress == 0 {
			left, err := s.countParked(ctx, tenant)
			return retried, left, err
		}
	}
}
