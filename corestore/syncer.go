package corestore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// syncer implements group commit. Writers commit their Badger transaction without syncing,
// take a ticket, and wait: one waiter at a time becomes the leader and syncs everything committed
// so far, so concurrent appenders share one fsync.
type syncer struct {
	sync func() error

	// started and ended count durable appends that began and that committed (or failed). The
	// sync leader waits, briefly, for the appends that began before it, so that one sync covers a
	// whole wave of concurrent appends instead of the first of them alone.
	started, ended atomic.Int64
	progress       chan struct{} // signalled at every end

	mu        sync.Mutex
	committed uint64 // tickets handed out
	synced    uint64 // every ticket <= synced is durable
	leading   bool
	done      chan struct{} // closed when the current leader finishes
	err       error
}

func newSyncer(sync func() error) *syncer {
	return &syncer{sync: sync, done: make(chan struct{}), progress: make(chan struct{}, 1)}
}

// ticket records a commit and returns its number; call it after the transaction committed.
func (s *syncer) ticket() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed++
	return s.committed
}

// wait returns once the commit with ticket t is durable.
func (s *syncer) wait(ctx context.Context, t uint64) error {
	for {
		s.mu.Lock()
		if s.synced >= t {
			s.mu.Unlock()
			return nil
		}
		if !s.leading {
			s.leading = true
			s.mu.Unlock()
			s.gather()
			s.mu.Lock()
			target := s.committed
			s.mu.Unlock()
			err := s.sync()
			s.mu.Lock()
			s.leading = false
			if err == nil && target > s.synced {
				s.synced = target
			}
			s.err = err
			close(s.done)
			s.done = make(chan struct{})
			s.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		done := s.done
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// maxCommitDelay bounds how long a sync waits for appends that are committing.
const maxCommitDelay = time.Millisecond

// gather waits, at most maxCommitDelay, for the appends that began before it to commit.
func (s *syncer) gather() {
	target := s.started.Load()
	if s.ended.Load() >= target {
		return
	}
	t := time.NewTimer(maxCommitDelay)
	defer t.Stop()
	for s.ended.Load() < target {
		select {
		case <-s.progress:
		case <-t.C:
			return
		}
	}
}

// begin and end bracket a durable append from its start to its commit.
func (s *syncer) begin() { s.started.Add(1) }

func (s *syncer) end() {
	s.ended.Add(1)
	select {
	case s.progress <- struct{}{}:
	default:
	}
}
