package peer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/datomspace/datomspace/corestore"
)

func TestRepoLifecycle(t *testing.T) {
	ctx := context.Background()
	quiet := WithRepoLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	path := filepath.Join(t.TempDir(), "repo")
	if _, err := OpenRepo(ctx, path, quiet); !errors.Is(err, ErrNoRepo) {
		t.Fatalf("open before init: %v", err)
	}
	pk, err := ParsePrimaryKey("0101010101010101010101010101010101010101010101010101010101010101") // the vectors' key
	if err != nil {
		t.Fatal(err)
	}
	r, err := InitRepo(ctx, path, quiet, WithPrimaryKey(pk))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Config.Bootstrap) != 0 {
		t.Fatal("a new repo must have no bootstrap peers")
	}
	c, err := r.Store.Create(ctx, "notes")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := InitRepo(ctx, path, quiet); !errors.Is(err, ErrRepoExists) {
		t.Fatalf("init twice: %v", err)
	}
	r, err = OpenRepo(ctx, path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cases := []struct {
		ref     string
		want    corestore.Key
		wantErr error
	}{
		{"notes", c.Key(), nil},
		{c.Key().String(), c.Key(), nil},
		{corestore.EncodeZBase32(c.Key().Bytes()), c.Key(), nil},
		{"missing", corestore.Key{}, corestore.ErrNotFound},
		{corestore.Key{9}.String(), corestore.Key{}, corestore.ErrNotFound},
	}
	for _, tc := range cases {
		got, err := r.Resolve(ctx, tc.ref)
		if !errors.Is(err, tc.wantErr) || (err == nil && got.Key() != tc.want) {
			t.Errorf("Resolve(%q) = %v, %v", tc.ref, got, err)
		}
	}
	if c, _ := r.Resolve(ctx, "notes"); c.Key().String() != "c7e301a9282f31f7804b06af440a97868b31e6647ed7514a9d44a9b83b14e64d" {
		t.Errorf("named core key %s does not match the hypercore vector", c.Key())
	}
}

func TestParsePrimaryKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"0101010101010101010101010101010101010101010101010101010101010101", true}, {"xyz", false}, {"0101", false}} {
		if _, err := ParsePrimaryKey(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParsePrimaryKey(%q): %v", tc.in, err)
		}
	}
}
