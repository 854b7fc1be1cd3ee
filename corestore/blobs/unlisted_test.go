package blobs

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
)

// TestUnlisted: a blob added or committed unlisted is held (Roots) but not listed (ListedRoots);
// adding it listed lists it for good; a GC that removes it removes its mark, so that a later
// listed add of the same bytes is listed.
func TestUnlisted(t *testing.T) {
	ctx := context.Background()
	s := newDirStore(t)
	listed := func() []cid.Cid {
		t.Helper()
		rs, err := s.ListedRoots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []cid.Cid
		for _, r := range rs {
			out = append(out, r.CID)
		}
		return out
	}
	held := func(c cid.Cid) bool {
		rs, _ := s.Roots(ctx)
		return slices.ContainsFunc(rs, func(r Ref) bool { return r.CID == c })
	}
	private := bytes.Repeat([]byte("private "), 100_000)
	public := []byte("public")
	p, err := s.Add(ctx, bytes.NewReader(private), WithUnlisted())
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.Add(ctx, bytes.NewReader(public))
	if err != nil {
		t.Fatal(err)
	}
	if !held(p.CID) || !held(q.CID) || !slices.Equal(listed(), []cid.Cid{q.CID}) {
		t.Fatalf("listed %v, want only %s", listed(), q.CID)
	}
	// Unlisted again: still unlisted. A listed blob added unlisted stays listed.
	if _, err := s.Add(ctx, bytes.NewReader(private), WithUnlisted()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, bytes.NewReader(public), WithUnlisted()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listed(), []cid.Cid{q.CID}) {
		t.Fatalf("listed %v, want only %s", listed(), q.CID)
	}
	// A GC removes the unlisted blob and its mark.
	if _, err := s.GC(ctx, LiveRoots(q.CID)); err != nil {
		t.Fatal(err)
	}
	if held(p.CID) {
		t.Fatal("GC kept a blob nothing keeps")
	}
	if ok, _ := s.meta.Has(ctx, metaKey(unlistedPrefix, p.CID)); ok {
		t.Fatal("GC left the unlisted mark of a blob it removed")
	}
	// Added listed, then committed unlisted by a fetch's lease: listed.
	l := s.NewLease()
	if _, err := s.Add(ctx, bytes.NewReader(private), WithLease(l)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Commit(ctx, p.CID, Unlisted()); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if !slices.Contains(listed(), p.CID) {
		t.Fatal("a blob added listed is unlisted after a fetch committed it unlisted")
	}
}
