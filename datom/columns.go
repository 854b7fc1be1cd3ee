package datom

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// columnCache holds, per core and attribute, the live entries of the current view keyed by
// entity: what a join reads when it looks one attribute up for many bound entities. Reading it
// from AEVT costs a Badger iterator step or seek per entity, which is most of a large join; the
// cached column answers each entity with one map lookup.
//
// A column is built in the background, by one pass over the attribute's AEVT range in a snapshot
// of its own, and is tagged with the index position (fork, next) of that snapshot; the query that
// asked for it goes on with the indexes, so no query waits for a build. A column serves only
// queries of the current view at exactly its position: any transaction indexed on the core makes
// it stale, and a later join that needs it builds it again. Memory is bounded by max; the least
// recently used columns are dropped first, and a column larger than max is not kept.
type columnCache struct {
	max int64
	bdb *badger.DB
	log *slog.Logger

	mu       sync.Mutex
	used     int64
	clock    uint64
	cols     map[columnKey]*column
	wanted   map[columnKey][2]uint64 // the position at which a column was last asked for, unbuilt
	building map[columnKey]bool
	slot     chan struct{} // one build at a time, so that builds leave the queries a core
	started  int           // builds started, for tests
	closed   bool
	builds   sync.WaitGroup
	stop     context.CancelFunc
	ctx      context.Context // builds run under it; close cancels it
}

type columnKey struct {
	cid uint32
	a   string
}

// column is one attribute's live entries at one index position, in AEVT order, found by
// entity and, once asked for, by value.
type column struct {
	fork, next uint64
	entries    []entry
	byE        map[string][]entry // sub-slices of entries
	size       int64
	lastUse    uint64 // guarded by the cache's mu

	byVOnce sync.Once
	byV     map[string][]int32 // value key → indexes into entries
}

// withValue returns the entries whose value has the key vk.
func (col *column) withValue(vk []byte) []entry {
	col.byVOnce.Do(func() {
		col.byV = map[string][]int32{}
		var kb []byte
		for i := range col.entries {
			kb = col.entries[i].v.key(kb[:0])
			col.byV[string(kb)] = append(col.byV[string(kb)], int32(i))
		}
	})
	idx := col.byV[string(vk)]
	out := make([]entry, len(idx))
	for k, i := range idx {
		out[k] = col.entries[i]
	}
	return out
}

// columnEntryBytes approximates the memory of one cached entry beyond its strings and bytes.
const columnEntryBytes = 256

func newColumnCache(max int64, bdb *badger.DB, log *slog.Logger) *columnCache {
	ctx, stop := context.WithCancel(context.Background())
	return &columnCache{max: max, bdb: bdb, log: log, cols: map[columnKey]*column{}, wanted: map[columnKey][2]uint64{},
		building: map[columnKey]bool{}, slot: make(chan struct{}, 1), ctx: ctx, stop: stop}
}

// close stops the builds in flight, waits for them and refuses new ones.
func (c *columnCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.builds.Wait()
}

// wait waits for the builds in flight; tests use it.
func (c *columnCache) wait() { c.builds.Wait() }

// buildLater starts building the column of attribute a of the core (key, cid) in the background,
// unless it is being built already.
func (c *columnCache) buildLater(key corestore.Key, cid uint32, a string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := columnKey{cid, a}
	if c.closed || c.building[k] {
		return
	}
	c.building[k] = true
	c.started++
	c.builds.Go(func() {
		defer func() {
			c.mu.Lock()
			delete(c.building, k)
			c.mu.Unlock()
		}()
		select {
		case c.slot <- struct{}{}:
			defer func() { <-c.slot }()
		case <-c.ctx.Done():
			return
		}
		if c.ctx.Err() != nil {
			return
		}
		v := &view{txn: c.bdb.NewTransaction(false), key: key, cid: cid, its: map[byte]*badger.Iterator{}}
		defer v.close()
		col, err := buildColumn(c.ctx, v, a)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("datom: build attribute column", "core", key, "attribute", a, "err", err)
			}
			return
		}
		c.put(cid, a, col)
	})
}

// get returns the column of attribute a in core cid at the index position (fork, next), or nil.
func (c *columnCache) get(cid uint32, a string, fork, next uint64) *column {
	if c == nil || c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	col := c.cols[columnKey{cid, a}]
	if col == nil || col.fork != fork || col.next != next {
		return nil
	}
	c.clock++
	col.lastUse = c.clock
	return col
}

// secondAsk reports whether the column of a in cid was already asked for at (fork, next), and
// records that it now has been. A column is built on its second use at one index position: a
// core that changes between every two queries never pays for a column it cannot reuse.
func (c *columnCache) secondAsk(cid uint32, a string, fork, next uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, pos := columnKey{cid, a}, [2]uint64{fork, next}
	if c.wanted[k] == pos {
		delete(c.wanted, k)
		return true
	}
	if len(c.wanted) >= 4096 {
		clear(c.wanted)
	}
	c.wanted[k] = pos
	return false
}

// put keeps col for attribute a of core cid, replacing any older column and evicting the least
// recently used ones to stay within max.
func (c *columnCache) put(cid uint32, a string, col *column) {
	if c == nil || col.size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := columnKey{cid, a}
	if old := c.cols[k]; old != nil {
		c.used -= old.size
		delete(c.cols, k)
	}
	for c.used+col.size > c.max {
		var lru columnKey
		var oldest *column
		for k, x := range c.cols {
			if oldest == nil || x.lastUse < oldest.lastUse {
				lru, oldest = k, x
			}
		}
		c.used -= oldest.size
		delete(c.cols, lru)
	}
	c.clock++
	col.lastUse = c.clock
	c.cols[k] = col
	c.used += col.size
}

// column returns the live entries of attribute a in the view from the cache. When build is set
// and this is the column's second use at this index position, it starts building the column for
// later queries. It returns nil when the view is not of the current database or the column is not
// cached.
func (v *view) column(cache *columnCache, a string, build bool) (*column, error) {
	if v.asOf != nil || cache == nil || cache.max <= 0 {
		return nil, nil
	}
	st, err := v.state()
	if err != nil {
		return nil, err
	}
	col := cache.get(v.cid, a, st.fork, st.next)
	if col == nil && build && cache.secondAsk(v.cid, a, st.fork, st.next) {
		cache.buildLater(v.key, v.cid, a)
	}
	return col, nil
}

// buildColumn reads the live entries of attribute a from the view's AEVT range, tagged with the
// view's index position.
func buildColumn(ctx context.Context, v *view, a string) (*column, error) {
	st, err := v.state()
	if err != nil {
		return nil, err
	}
	col := &column{fork: st.fork, next: st.next}
	// AEVT keys under the attribute's prefix hold e, v and tx; the attribute is known, and only
	// live entries (empty values) are kept, so neither is decoded per entry.
	prefix := appendKeyString(corePrefix(subAEVT, v.cid), a)
	it := v.iter(subAEVT)
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		item := it.Item()
		if item.ValueSize() != 0 {
			continue // retracted
		}
		k := item.Key()
		if len(k) < len(prefix)+8 {
			return nil, fmt.Errorf("%w %x", errBadKey, k)
		}
		en := entry{a: a, live: true, tx: binary.BigEndian.Uint64(k[len(k)-8:])}
		rest := k[len(prefix) : len(k)-8]
		var err error
		if en.e, rest, err = decodeKeyString(rest); err == nil {
			en.v, rest, err = decodeKeyValue(rest)
		}
		if err == nil && len(rest) != 0 {
			err = errBadKey
		}
		if err != nil {
			return nil, fmt.Errorf("%w %x", err, k)
		}
		col.entries = append(col.entries, en)
		col.size += columnEntryBytes + int64(len(en.e)+len(en.v.Str)+len(en.v.Bytes))
	}
	col.byE = make(map[string][]entry, len(col.entries))
	for i := 0; i < len(col.entries); {
		j := i + 1
		for j < len(col.entries) && col.entries[j].e == col.entries[i].e {
			j++
		}
		col.byE[col.entries[i].e] = col.entries[i:j:j]
		i = j
	}
	return col, nil
}
