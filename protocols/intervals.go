package protocols

import "sort"

// span is the half-open block range [start, end).
type span struct{ start, end uint64 }

// intervals is a set of blocks kept as sorted, disjoint, non-adjacent spans. It refuses to grow
// past max spans so that a peer cannot make it use unbounded memory.
type intervals struct {
	s   []span
	max int
}

// add inserts [start, end); it reports false when the set is full and the span was not merged.
func (iv *intervals) add(start, end uint64) bool {
	if start >= end {
		return true
	}
	// First span whose end reaches start (touching spans merge).
	i := sort.Search(len(iv.s), func(k int) bool { return iv.s[k].end >= start })
	j := i
	for j < len(iv.s) && iv.s[j].start <= end {
		start = min(start, iv.s[j].start)
		end = max(end, iv.s[j].end)
		j++
	}
	if i == j && iv.max > 0 && len(iv.s) >= iv.max {
		return false
	}
	ns := append(iv.s[:i:i], span{start, end})
	iv.s = append(ns, iv.s[j:]...)
	return true
}

// remove deletes [start, end) from the set.
func (iv *intervals) remove(start, end uint64) {
	if start >= end {
		return
	}
	var out []span
	for _, sp := range iv.s {
		if sp.end <= start || sp.start >= end {
			out = append(out, sp)
			continue
		}
		if sp.start < start {
			out = append(out, span{sp.start, start})
		}
		if sp.end > end {
			out = append(out, span{end, sp.end})
		}
	}
	iv.s = out
}

// runFrom returns the end of the span that contains i, or i when i is not in the set.
func (iv *intervals) runFrom(i uint64) uint64 {
	k := sort.Search(len(iv.s), func(k int) bool { return iv.s[k].end > i })
	if k < len(iv.s) && iv.s[k].start <= i {
		return iv.s[k].end
	}
	return i
}

// has reports whether i is in the set.
func (iv *intervals) has(i uint64) bool { return iv.runFrom(i) > i }

// clear empties the set.
func (iv *intervals) clear() { iv.s = iv.s[:0] }

// len returns the number of spans.
func (iv *intervals) len() int { return len(iv.s) }
