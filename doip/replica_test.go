package doip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// A replica of a repository's core, on another store, answers Retrieve and Search with the
// owner gone, and declines writes.
func TestReplicaAnswers(t *testing.T) {
	ctx := testCtx(t)
	blobs := NewMemBlobs() // the element bytes, fetched by the blob layer in a real node
	owner := newNode(t, "own", blobs)
	svc, addr, _ := owner.serve(t)
	c := owner.dial(t, addr, WithAuth(owner.ownerAuth()))
	data := bytes.Repeat([]byte("replicated "), 5000)
	created, err := c.Create(ctx, &DigitalObject{Type: "Doc", Attributes: json.RawMessage(`{"title":"kept on a replica"}`),
		Elements: []Element{{ID: "e"}}}, map[string]io.Reader{"e": bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, &DigitalObject{ID: created.ID, Attributes: json.RawMessage(`{"title":"kept on a replica, updated"}`)}, nil); err != nil {
		t.Fatal(err)
	}

	// Copy the core to a replica on another store, as replication would.
	rs, err := corestore.Open(ctx, t.TempDir(), corestore.WithLogger(quiet()), corestore.WithDurability(false))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	src, err := owner.store.Get(ctx, owner.repo.Key())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rs.Replica(ctx, owner.repo.Key())
	if err != nil {
		t.Fatal(err)
	}
	p, err := src.Prove(ctx, corestore.ProofRequest{Start: 0, End: src.Length(), Upgrade: true, NeedManifest: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ApplyProof(ctx, p); err != nil {
		t.Fatal(err)
	}
	rdb, err := datom.Open(ctx, rs, datom.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// The owner goes away.
	c.Close()
	svc.Close()

	rrepo, err := NewRepository(rdb, owner.repo.Key(), blobs, WithPrefix("own"), WithRepoLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	rnode := &node{store: rs, db: rdb, key: newKey(t), repo: rrepo}
	_, raddr, _ := rnode.serve(t)
	rc := rnode.dial(t, raddr)
	got, err := rc.Retrieve(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "Doc" || !bytes.Contains(got.Attributes, []byte("updated")) || got.Element("e").Length != int64(len(data)) {
		t.Fatalf("replica's object %+v", got)
	}
	er, err := rc.RetrieveElement(ctx, created.ID, "e")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(er)
	er.Close()
	if !bytes.Equal(b, data) {
		t.Fatal("replica's element bytes differ")
	}
	res, err := rc.Search(ctx, SearchRequest{Query: "+kept +updated", PageSize: -1, IDsOnly: true})
	if err != nil || res.Size != 1 || res.IDs[0] != created.ID {
		t.Fatalf("replica's search %+v %v", res, err)
	}
	// The replica's node owns nothing here: its owner may try, and is declined.
	oc := rnode.dial(t, raddr, WithAuth(rnode.ownerAuth()))
	if err := oc.Delete(ctx, created.ID); !errors.Is(err, ErrDeclined) {
		t.Fatalf("delete on a replica: %v, want ErrDeclined", err)
	}
	_ = context.Background
}
