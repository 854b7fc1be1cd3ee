package datom

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// ErrQueryTooLarge marks a query refused because it needs more memory than the database's
// query budget has free, or builds more rows than one query may (then it comes with
// ErrTooManyRows). The query asked too much: narrowing it, or a larger budget, helps.
var ErrQueryTooLarge = errors.New("query too large")

// ErrTooManyRows marks a query that builds more than MaxQueryRows rows in one core; it comes
// with ErrQueryTooLarge.
var ErrTooManyRows = errors.New("too many rows")

// MaxQueryRows bounds the rows a query may build in one core, whatever the memory budget.
const MaxQueryRows = 1 << 21

// DefaultQueryMemory is the query memory budget of a database opened without WithQueryMemory on
// a machine with 4 GiB of memory or more; on a smaller one the default is a quarter of its
// memory (at least 64 MiB).
const DefaultQueryMemory = 1 << 30

// defaultQueryMemory returns the budget for a machine with the given physical memory (0 if
// unknown).
func defaultQueryMemory(physical int64) int64 {
	if physical <= 0 {
		return DefaultQueryMemory
	}
	return min(DefaultQueryMemory, max(physical/4, 64<<20))
}

// memBudget is the memory that all the queries of one database may hold at once.
type memBudget struct {
	max     int64
	used    atomic.Int64
	peak    atomic.Int64
	running atomic.Int32
}

// QueryMemoryStats describes the query memory budget of a database.
type QueryMemoryStats struct {
	// Budget is the memory all running queries may hold together, in bytes.
	Budget int64
	// InUse is what they hold now; Peak the most they held at once since Open.
	InUse, Peak int64
	// Running counts the queries being evaluated.
	Running int
}

// QueryMemory reports the query memory budget and its use.
func (db *DB) QueryMemory() QueryMemoryStats {
	b := db.qmem
	return QueryMemoryStats{Budget: b.max, InUse: b.used.Load(), Peak: b.peak.Load(), Running: int(b.running.Load())}
}

// memChunk is how much a query reserves from the budget at a time, so that the budget's
// counter is touched once per megabyte rather than once per row.
const memChunk = 1 << 20

// queryMem is one query's share of the budget. It is used by one goroutine.
type queryMem struct {
	b    *memBudget
	used int64 // accounted
	held int64 // reserved from the budget; used <= held
}

func (b *memBudget) start() *queryMem {
	b.running.Add(1)
	return &queryMem{b: b}
}

// grow accounts n more bytes, reserving them from the budget as needed.
func (m *queryMem) grow(n int64) error {
	m.used += n
	if m.used <= m.held {
		return nil
	}
	need := max(m.used-m.held, memChunk)
	now := m.b.used.Add(need)
	if now > m.b.max {
		m.b.used.Add(-need)
		m.used -= n
		return fmt.Errorf("%w: it needs more memory than is free in the node's query budget of %s, which all running queries share (%d running); narrow it or raise the budget",
			ErrQueryTooLarge, byteSize(m.b.max), m.b.running.Load())
	}
	for {
		p := m.b.peak.Load()
		if now <= p || m.b.peak.CompareAndSwap(p, now) {
			break
		}
	}
	m.held += need
	return nil
}

// shrink gives back n accounted bytes, returning reservations beyond a chunk of slack.
func (m *queryMem) shrink(n int64) {
	m.used = max(m.used-n, 0)
	if excess := m.held - m.used - memChunk; excess > 0 {
		m.b.used.Add(-excess)
		m.held -= excess
	}
}

// done returns everything the query holds.
func (m *queryMem) done() {
	m.b.used.Add(-m.held)
	m.held, m.used = 0, 0
	m.b.running.Add(-1)
}

// Memory accounted for a query's data. Strings of values are shared with the index entries they
// came from and are counted with those.
const (
	valueBytes = int64(unsafe.Sizeof(Value{}))
	entryBytes = int64(unsafe.Sizeof(entry{}))
	rowHeader  = int64(unsafe.Sizeof([]Value{}))
	resultRow  = int64(unsafe.Sizeof(Row{}))
	memoEntry  = 64 // a memo map entry beyond its key
)

func (en *entry) memBytes() int64 {
	return entryBytes + int64(len(en.e)+len(en.a)+len(en.v.Str)+len(en.v.Bytes))
}

// byteSize renders n bytes for people: 512 B, 64 MiB, 1.5 GiB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return trimZero(float64(n)/(1<<30)) + " GiB"
	case n >= 1<<20:
		return trimZero(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10:
		return trimZero(float64(n)/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

func trimZero(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}
