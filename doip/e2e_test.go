package doip

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A repository and a registry, two services over real TLS on 127.0.0.1: the repository joins
// the registry; a client creates objects with elements on the repository; a search on the
// registry finds them; Retrieve, from the repository and through the registry, returns the
// same bytes; after Quit the registry no longer forwards.
func TestFederationEndToEnd(t *testing.T) {
	ctx := testCtx(t)
	repoNode := newNode(t, "repo", nil)
	regNode := newNode(t, "reg", nil)
	repoPeer := PeerID(repoNode.key.Public().(ed25519.PublicKey))
	repoSvc, repoAddr, _ := repoNode.serve(t)
	regSvc, regAddr, _ := regNode.serve(t, WithAuthorizer(OwnerOnly{Joiners: []string{repoPeer}}),
		WithDialer(&TLSDialer{Key: regNode.key}))

	// The registry holds a metadata object of its own.
	reg := regNode.dial(t, regAddr, WithAuth(regNode.ownerAuth()))
	if _, err := reg.Create(ctx, &DigitalObject{ID: "reg/meta", Type: "Metadata", Attributes: json.RawMessage(`{"title":"galaxy survey index"}`)}, nil); err != nil {
		t.Fatal(err)
	}

	// The repository's owner joins the registry with the repository's key.
	joiner := regNode.dial(t, regAddr, WithAuth(KeyAuth(repoNode.key)))
	if err := joiner.Join(ctx, repoSvc.ID(), "doip://"+repoAddr); err != nil {
		t.Fatal(err)
	}
	// Someone else may not.
	stranger := regNode.dial(t, regAddr, WithAuth(KeyAuth(newKey(t))))
	if err := stranger.Join(ctx, "x/service", "doip://127.0.0.1:1"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("stranger's join: %v, want ErrForbidden", err)
	}

	// A client creates objects with elements on the repository.
	repo := repoNode.dial(t, repoAddr, WithAuth(repoNode.ownerAuth()))
	rnd := rand.New(rand.NewPCG(7, 8))
	payloads := map[string][]byte{}
	var ids []string
	for i := 0; i < 5; i++ {
		data := make([]byte, 1000+rnd.IntN(300000))
		for j := range data {
			data[j] = byte(rnd.IntN(256))
		}
		do := &DigitalObject{Type: "Dataset", Attributes: json.RawMessage(`{"content":{"name":"galaxy survey part ` + string(rune('a'+i)) + `"}}`),
			Elements: []Element{{ID: "data", Type: "application/octet-stream"}}}
		got, err := repo.Create(ctx, do, map[string]io.Reader{"data": bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if got.Element("data").Length != int64(len(data)) {
			t.Fatalf("length %d, want %d", got.Element("data").Length, len(data))
		}
		payloads[got.ID] = data
		ids = append(ids, got.ID)
	}
	slices.Sort(ids)

	// Anyone's search on the registry finds them, merged with the registry's own object.
	anon := regNode.dial(t, regAddr)
	res, err := anon.Search(ctx, SearchRequest{Query: "galaxy", PageSize: -1, IDsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"reg/meta"}, ids...)
	slices.Sort(want)
	if res.Size != 6 || !slices.Equal(res.IDs, want) {
		t.Fatalf("registry search: %d %v, want %v", res.Size, res.IDs, want)
	}
	// Paged and full, the merge still holds.
	res, err = anon.Search(ctx, SearchRequest{Query: "+galaxy +survey", PageNum: 1, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 6 || len(res.Objects) != 2 || res.Objects[0].ID != want[2] || res.Objects[1].ID != want[3] {
		t.Fatalf("page 1: %+v", res)
	}
	if res.Objects[0].Type != "Dataset" || res.Objects[0].Element("data") == nil {
		t.Fatalf("full result %+v", res.Objects[0])
	}
	res, err = anon.Search(ctx, SearchRequest{Query: "type:Dataset", PageSize: 0})
	if err != nil || res.Size != 5 {
		t.Fatalf("count only: %+v %v", res, err)
	}
	// The same repository joined twice: every result comes twice and is counted once.
	if err := joiner.Join(ctx, "mirror/service", "doip://"+repoAddr); err != nil {
		t.Fatal(err)
	}
	res, err = anon.Search(ctx, SearchRequest{Query: "galaxy", PageSize: 4, IDsOnly: true})
	if err != nil || res.Size != 6 || !slices.Equal(res.IDs, want[:4]) {
		t.Fatalf("duplicates: %+v %v", res, err)
	}
	if err := joiner.Quit(ctx, "mirror/service"); err != nil {
		t.Fatal(err)
	}

	// Retrieve returns the same bytes, from the repository and through the registry, which
	// forwards an id of the repository's prefix to it.
	for _, id := range ids {
		for _, c := range []*Client{repo, anon} {
			rc, err := c.RetrieveElement(ctx, id, "data")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(b, payloads[id]) {
				t.Fatalf("element of %s: %d bytes, %v", id, len(b), err)
			}
		}
		do, data, err := anon.RetrieveAll(ctx, id, 1<<20)
		if err != nil || do.ID != id || !bytes.Equal(data["data"], payloads[id]) {
			t.Fatalf("retrieve all of %s through the registry: %v", id, err)
		}
	}
	if _, err := anon.Retrieve(ctx, "repo/nonesuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}

	// After Quit, the registry searches only itself.
	if err := joiner.Quit(ctx, repoSvc.ID()); err != nil {
		t.Fatal(err)
	}
	res, err = anon.Search(ctx, SearchRequest{Query: "galaxy", PageSize: -1, IDsOnly: true})
	if err != nil || !slices.Equal(res.IDs, []string{"reg/meta"}) {
		t.Fatalf("after quit: %+v %v", res, err)
	}
	if _, err := anon.Retrieve(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retrieve through the registry after quit: %v", err)
	}
	if err := joiner.Quit(ctx, repoSvc.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second quit: %v", err)
	}
	_ = regSvc
}

// A joined service that is down is left out of the merge and named.
func TestFederationUnreachable(t *testing.T) {
	ctx := testCtx(t)
	regNode := newNode(t, "reg", nil)
	_, regAddr, _ := regNode.serve(t)
	c := regNode.dial(t, regAddr, WithAuth(regNode.ownerAuth()))
	if _, err := c.Create(ctx, &DigitalObject{ID: "reg/a", Attributes: json.RawMessage(`{"t":"x"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, "gone/service", "doip://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx, Call{TargetID: "reg/service", OperationID: OpSearch, Attributes: map[string]any{"query": "x", "type": "id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	if resp.Err() != nil || !strings.Contains(string(resp.Attributes), "gone/service") {
		t.Fatalf("status %s attributes %s", resp.Status, resp.Attributes)
	}
	b, _ := firstJSON(resp)
	if !strings.Contains(string(b), `"reg/a"`) {
		t.Fatalf("results %s", b)
	}
}
