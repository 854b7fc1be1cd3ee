package corestore

import (
	"context"
	"sync"
)

// syncer implements group commit. Writers commit their Badger transaction without syncing,
// take a ticket, and wait: one waiter at a time becomes the leader and syncs everything committed
// so far, so concurrent appenders share one fsync.
type syncer struct {
	sync func() error

	mu        sync.Mutex
	committed uint64 // tickets handed out
	synced    uint64 // every ticket <= synced is durable
	leading   bool
	done      chan struct{} // closed when the current leader finishes
	err       error
}

func newSyncer(sync func() error) *syncer { return &syncer{sync: sync, done: make(chan struct{})} }

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
