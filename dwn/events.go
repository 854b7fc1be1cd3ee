package dwn

import "sync"

// eventStream is dwn-sdk-js's EventEmitterStream: listeners per tenant, told of every stored
// message with its indexes.
type eventStream struct {
	mu     sync.Mutex
	next   uint64
	subs   map[string]map[uint64]func(Event, Indexes)
	closed bool
}

func newEventStream() *eventStream {
	return &eventStream{subs: map[string]map[uint64]func(Event, Indexes){}}
}

func (s *eventStream) subscribe(tenant string, fn func(Event, Indexes)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return func() {}
	}
	s.next++
	id := s.next
	if s.subs[tenant] == nil {
		s.subs[tenant] = map[uint64]func(Event, Indexes){}
	}
	s.subs[tenant][id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.subs[tenant], id)
			if len(s.subs[tenant]) == 0 {
				delete(s.subs, tenant)
			}
		})
	}
}

func (s *eventStream) emit(tenant string, e Event, ix Indexes) {
	s.mu.Lock()
	fns := make([]func(Event, Indexes), 0, len(s.subs[tenant]))
	for _, fn := range s.subs[tenant] {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(e, ix)
	}
}

func (s *eventStream) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.subs = map[string]map[uint64]func(Event, Indexes){}
}
