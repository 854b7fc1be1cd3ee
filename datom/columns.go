package datom

import (
	"context"
	"sync"
)

// columnCache holds, per core and attribute, the live entries of the current view keyed by
// entity: what a join reads when it looks one attribute up for many bound entities. Reading it
// from AEVT costs a Badger iterator step or seek per entity, which is most of a large join; the
// cached column answers each entity with one map lookup.
//
// A column is built by one pass over the attribute's AEVT range, in the view of the query that
// needs it, and is tagged with the index position (fork, next) of that view. It serves only
// queries of the current view at exactly that position: any transaction indexed on the core makes
// it stale, and the next join that needs it builds it again. Memory is bounded by max; the least
// recently used columns are dropped first, and a column larger than max is used once and not
// kept.
type columnCache struct {
	max int64

	mu     sync.Mutex
	used   int64
	clock  uint64
	cols   map[columnKey]*column
	wanted map[columnKey][2]uint64 // the position at which a column was last asked for, unbuilt
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

func newColumnCache(max int64) *columnCache {
	return &columnCache{max: max, cols: map[columnKey]*column{}, wanted: map[columnKey][2]uint64{}}
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

// column returns the live entries of attribute a in the view, from the cache or, when build is
// set and this is the column's second use at this index position, read from the view's AEVT
// range. It returns nil when the view is not of the current database or the column is not
// cached and not built.
func (v *view) column(ctx context.Context, cache *columnCache, a string, build bool) (*column, error) {
	if v.asOf != nil || cache == nil || cache.max <= 0 {
		return nil, nil
	}
	st, err := v.state()
	if err != nil {
		return nil, err
	}
	if col := cache.get(v.cid, a, st.fork, st.next); col != nil || !build || !cache.secondAsk(v.cid, a, st.fork, st.next) {
		return col, nil
	}
	col := &column{fork: st.fork, next: st.next}
	err = v.scan(ctx, subAEVT, appendKeyString(corePrefix(subAEVT, v.cid), a), func(en *entry) bool {
		if en.live {
			en.a = a // one copy of the attribute's name, not one per entry
			col.entries = append(col.entries, *en)
			col.size += columnEntryBytes + int64(len(en.e)+len(en.v.Str)+len(en.v.Bytes))
		}
		return true
	})
	if err != nil {
		return nil, err
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
	cache.put(v.cid, a, col)
	return col, nil
}
