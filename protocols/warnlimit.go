package protocols

import (
	"sync"
	"time"
)

// warnLimiter lets one warning per key (a peer) through per interval and counts the others, so
// that no peer, and no crowd of identities, can fill the log: a line stands for itself and for
// the occurrences suppressed since the key's last line. It remembers at most max keys; further
// keys share one "other peers" entry until old ones expire.
type warnLimiter struct {
	every time.Duration
	max   int

	mu        sync.Mutex
	keys      map[string]*warnKey
	other     warnKey
	lastPurge time.Time
}

type warnKey struct {
	last time.Time // when a line was last let through
	n    int       // occurrences suppressed since
}

func newWarnLimiter(every time.Duration, max int) *warnLimiter {
	return &warnLimiter{every: every, max: max, keys: map[string]*warnKey{}}
}

// note records one occurrence for key at now. It reports whether to log it, how many occurrences
// the line stands for (at least 1), and whether key was counted with the other peers because too
// many keys are remembered.
func (l *warnLimiter) note(key string, now time.Time) (ok bool, count int, other bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= l.max {
			l.purgeLocked(now)
		}
		if len(l.keys) >= l.max {
			k, other = &l.other, true
		} else {
			k = &warnKey{}
			l.keys[key] = k
		}
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.every {
		k.n++
		return false, 0, other
	}
	count = k.n + 1
	k.last, k.n = now, 0
	return true, count, other
}

// purgeLocked forgets keys whose interval has passed, at most once per quarter interval; counts
// they still held move to the other peers' entry.
func (l *warnLimiter) purgeLocked(now time.Time) {
	if now.Sub(l.lastPurge) < l.every/4 {
		return
	}
	l.lastPurge = now
	for key, k := range l.keys {
		if now.Sub(k.last) >= l.every {
			l.other.n += k.n
			delete(l.keys, key)
		}
	}
}
