package corestore

import (
	"context"
	"errors"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestCorruptionIsReported: damaged stored bytes are reported as ErrCorrupt with the core and the
// index they concern, never served and never a panic.
func TestCorruptionIsReported(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		corrupt func(s *Store, c *Core) error
		read    func(s *Store, c *Core) error
		says    string
	}{
		{"flipped block byte", func(s *Store, c *Core) error {
			return rewrite(s, posKey(kindSegment, c.id, 0), func(v []byte) []byte { v[len(v)-1] ^= 1; return v })
		}, func(s *Store, c *Core) error { _, err := c.Get(ctx, 9); return err }, "block 9"},
		{"truncated segment", func(s *Store, c *Core) error {
			return rewrite(s, posKey(kindSegment, c.id, 0), func(v []byte) []byte { return v[:len(v)-3] })
		}, func(s *Store, c *Core) error { _, err := c.Get(ctx, 2); return err }, "segment at 0"},
		{"node page garbage", func(s *Store, c *Core) error {
			return rewrite(s, posKey(kindNodePage, c.id, 0), func(v []byte) []byte { return v[:5] })
		}, func(s *Store, c *Core) error { _, err := c.Get(ctx, 1); return err }, "nodes 0..31"},
		{"node page naming a slot past 31", func(s *Store, c *Core) error {
			return rewrite(s, posKey(kindNodePage, c.id, 0), func(v []byte) []byte {
				v[5] |= 1 // mask bit 40
				return append(v, make([]byte, 40)...)
			})
		}, func(s *Store, c *Core) error { _, err := c.Get(ctx, 1); return err }, "nodes 0..31"},
		{"header garbage", func(s *Store, c *Core) error {
			return rewrite(s, coreRecordKey(kindHeader, c.id), func(v []byte) []byte { return append(v, 1, 2, 3) })
		}, func(s *Store, c *Core) error { _, err := s.Get(ctx, c.Key()); return err }, "header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			c, _ := s.Create(ctx, "c")
			c.Append(ctx, blocksN(10, "v")...)
			if err := tc.corrupt(s, c); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = openStore(t, dir) // no cached pages: read what is on disk
			c2, err := s.Get(ctx, c.Key())
			if err == nil {
				err = tc.read(s, c2)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.Key().String()) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v; want ErrCorrupt naming the core and %q", err, tc.says)
			}
		})
	}
}

func rewrite(s *Store, key []byte, f func([]byte) []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set(key, f(v))
	})
}
