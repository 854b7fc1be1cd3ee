package memstore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"

	"github.com/datomspace/datomspace/dwn/kvstore"
)

const maxLevel = 24

type node struct {
	key, val []byte
	next     []*node
	prev     *node // level-0 back link, for reverse iteration
}

// Backend is an ordered in-memory key-value store (a skiplist) for kvstore. Update transactions
// are serialized and applied as they go; a failing Update is rolled back from an undo log.
type Backend struct {
	mu    sync.RWMutex
	head  node
	level int
	n     int
	rng   *rand.Rand
}

// NewBackend returns an empty backend.
func NewBackend() *Backend {
	return &Backend{level: 1, head: node{next: make([]*node, maxLevel)}, rng: rand.New(rand.NewPCG(1, 2))}
}

// Len returns the number of keys.
func (b *Backend) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.n
}

// View implements kvstore.Backend.
func (b *Backend) View(ctx context.Context, fn func(kvstore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return fn(&tx{b: b, ro: true})
}

// Update implements kvstore.Backend.
func (b *Backend) Update(ctx context.Context, fn func(kvstore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := &tx{b: b}
	if err := fn(t); err != nil {
		for i := len(t.undo) - 1; i >= 0; i-- {
			u := t.undo[i]
			if u.had {
				b.set(u.key, u.val)
			} else {
				b.del(u.key)
			}
		}
		return err
	}
	return nil
}

type undo struct {
	key, val []byte
	had      bool
}

type tx struct {
	b    *Backend
	ro   bool
	undo []undo
}

func (t *tx) Get(key []byte) ([]byte, bool, error) {
	n := t.b.find(key)
	if n == nil {
		return nil, false, nil
	}
	return n.val, true, nil
}

func (t *tx) Set(key, val []byte) error {
	if t.ro {
		return errReadOnly
	}
	old := t.b.find(key)
	if old != nil {
		t.undo = append(t.undo, undo{key: old.key, val: old.val, had: true})
	} else {
		t.undo = append(t.undo, undo{key: append([]byte(nil), key...)})
	}
	t.b.set(append([]byte(nil), key...), append([]byte(nil), val...))
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.ro {
		return errReadOnly
	}
	if old := t.b.find(key); old != nil {
		t.undo = append(t.undo, undo{key: old.key, val: old.val, had: true})
		t.b.del(key)
	}
	return nil
}

func (t *tx) Iterate(prefix, start []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	if !reverse {
		from := start
		if from == nil || bytes.Compare(from, prefix) < 0 {
			from = prefix
		}
		for n := t.b.seek(from); n != nil && bytes.HasPrefix(n.key, prefix); {
			next := n.next[0]
			ok, err := fn(n.key, n.val)
			if err != nil || !ok {
				return err
			}
			n = next
		}
		return nil
	}
	var n *node
	if start == nil {
		n = t.b.lastWithPrefix(prefix)
	} else {
		n = t.b.seek(start)
		if n == nil || !bytes.Equal(n.key, start) {
			if n == nil {
				n = t.b.last()
			} else {
				n = n.prev
			}
		}
	}
	for ; n != nil && n != &t.b.head && bytes.HasPrefix(n.key, prefix); n = n.prev {
		ok, err := fn(n.key, n.val)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}

// seek returns the first node with key >= k.
func (b *Backend) seek(k []byte) *node {
	x := &b.head
	for i := b.level - 1; i >= 0; i-- {
		for x.next[i] != nil && bytes.Compare(x.next[i].key, k) < 0 {
			x = x.next[i]
		}
	}
	return x.next[0]
}

func (b *Backend) find(k []byte) *node {
	n := b.seek(k)
	if n != nil && bytes.Equal(n.key, k) {
		return n
	}
	return nil
}

func (b *Backend) last() *node {
	x := &b.head
	for i := b.level - 1; i >= 0; i-- {
		for x.next[i] != nil {
			x = x.next[i]
		}
	}
	if x == &b.head {
		return nil
	}
	return x
}

// lastWithPrefix returns the last node whose key has prefix.
func (b *Backend) lastWithPrefix(prefix []byte) *node {
	// the first key after every key with prefix is prefix+1 (with carries)
	end := append([]byte(nil), prefix...)
	for len(end) > 0 && end[len(end)-1] == 0xff {
		end = end[:len(end)-1]
	}
	var n *node
	if len(end) == 0 {
		n = b.last()
	} else {
		end[len(end)-1]++
		n = b.seek(end)
		if n == nil {
			n = b.last()
		} else {
			n = n.prev
		}
	}
	if n == nil || n == &b.head || !bytes.HasPrefix(n.key, prefix) {
		return nil
	}
	return n
}

func (b *Backend) randomLevel() int {
	l := 1
	for l < maxLevel && b.rng.Uint32()&3 == 0 {
		l++
	}
	return l
}

func (b *Backend) set(k, v []byte) {
	var update [maxLevel]*node
	x := &b.head
	for i := b.level - 1; i >= 0; i-- {
		for x.next[i] != nil && bytes.Compare(x.next[i].key, k) < 0 {
			x = x.next[i]
		}
		update[i] = x
	}
	if n := x.next[0]; n != nil && bytes.Equal(n.key, k) {
		n.val = v
		return
	}
	l := b.randomLevel()
	if l > b.level {
		for i := b.level; i < l; i++ {
			update[i] = &b.head
		}
		b.level = l
	}
	n := &node{key: k, val: v, next: make([]*node, l)}
	for i := 0; i < l; i++ {
		n.next[i] = update[i].next[i]
		update[i].next[i] = n
	}
	n.prev = update[0]
	if n.next[0] != nil {
		n.next[0].prev = n
	}
	b.n++
}

func (b *Backend) del(k []byte) {
	var update [maxLevel]*node
	x := &b.head
	for i := b.level - 1; i >= 0; i-- {
		for x.next[i] != nil && bytes.Compare(x.next[i].key, k) < 0 {
			x = x.next[i]
		}
		update[i] = x
	}
	n := x.next[0]
	if n == nil || !bytes.Equal(n.key, k) {
		return
	}
	for i := 0; i < len(n.next); i++ {
		if update[i].next[i] != n {
			break
		}
		update[i].next[i] = n.next[i]
	}
	if n.next[0] != nil {
		n.next[0].prev = n.prev
	}
	for b.level > 1 && b.head.next[b.level-1] == nil {
		b.level--
	}
	b.n--
}
