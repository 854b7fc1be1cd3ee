package corestore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestDerivedDatabase: the derived database is one per store, lives in its own directory, keeps
// what was written across a clean close, and is refused once the store is closed.
func TestDerivedDatabase(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := s.Derived()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.Derived()
	if err != nil || d1 != d2 {
		t.Fatalf("second Derived call: %p %p %v; want the same database", d1, d2, err)
	}
	if d1 == s.DB() {
		t.Fatal("the derived database is the store's own")
	}
	if got := d1.Opts().Dir; got != filepath.Join(dir, DerivedDir) {
		t.Fatalf("derived database in %s", got)
	}
	if err := d1.Update(func(txn *badger.Txn) error { return txn.Set([]byte{0x80, 1}, []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Derived(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Derived after Close: %v; want ErrClosed", err)
	}

	s = openStore(t, dir)
	d, err := s.Derived()
	if err != nil {
		t.Fatal(err)
	}
	err = d.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{0x80, 1})
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if string(v) != "x" {
			t.Errorf("value %q after reopening", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
