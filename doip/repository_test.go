package doip

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func owner(n *node) Principal {
	pub := n.key.Public().(ed25519.PublicKey)
	return Principal{Kind: Owner, ID: PeerID(pub), PublicKey: pub}
}

func put(t testing.TB, n *node, s string) ElementData {
	t.Helper()
	c, size, err := n.repo.blobs.Put(context.Background(), strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return ElementData{CID: c, Size: size}
}

func mustParse(t testing.TB, js string) *DigitalObject {
	t.Helper()
	do, err := parseObject([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return do
}

func readElement(t testing.TB, n *node, id, el string) string {
	t.Helper()
	rc, _, err := n.repo.OpenElement(context.Background(), id, el)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRepositoryLifecycle(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, "test", NewMemBlobs())
	p := owner(n)
	do := mustParse(t, `{"type":"Document","attributes":{"content":{"name":"Hello World"}},"elements":[{"id":"file","type":"text/plain","attributes":{"filename":"helloworld.txt"}},{"id":"empty"}]}`)
	got, err := n.repo.Create(ctx, p, do, map[string]ElementData{"file": put(t, n, "Hello World\n")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "test/") || got.Type != "Document" || len(got.Elements) != 2 {
		t.Fatalf("created %+v", got)
	}
	if e := got.Element("file"); e.Length != 12 || e.Type != "text/plain" || string(e.Attributes) != `{"filename":"helloworld.txt"}` {
		t.Fatalf("element %+v", e)
	}
	if e := got.Element("empty"); e.Length != 0 {
		t.Fatalf("empty element %+v", e)
	}
	var attrs struct {
		Content  map[string]any `json:"content"`
		Metadata struct {
			CreatedBy string `json:"createdBy"`
			TxnID     uint64 `json:"txnId"`
			CreatedOn int64  `json:"createdOn"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(got.Attributes, &attrs); err != nil {
		t.Fatal(err)
	}
	if attrs.Content["name"] != "Hello World" || attrs.Metadata.CreatedBy != p.ID || attrs.Metadata.TxnID != 1 || attrs.Metadata.CreatedOn == 0 {
		t.Fatalf("attributes %s", got.Attributes)
	}
	if s := readElement(t, n, got.ID, "file"); s != "Hello World\n" {
		t.Fatalf("element bytes %q", s)
	}
	live, err := n.repo.LiveBlobs(ctx)
	if err != nil || len(live) != 2 { // "Hello World\n" and the empty blob
		t.Fatalf("live blobs %v %v", live, err)
	}
	if _, err := n.repo.Create(ctx, p, &DigitalObject{ID: got.ID}, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}

	// An update replaces attributes, keeps the elements it does not list, adds new ones, and
	// removes the ones asked.
	up := mustParse(t, `{"id":"`+got.ID+`","attributes":{"content":{"name":"Bye"}},"elements":[{"id":"new","type":"application/octet-stream"}]}`)
	got2, err := n.repo.Update(ctx, p, up, map[string]ElementData{"new": put(t, n, "\x00\x01")}, []string{"empty"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range got2.Elements {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"file", "new"}) {
		t.Fatalf("elements after update %v", ids)
	}
	if readElement(t, n, got.ID, "file") != "Hello World\n" || readElement(t, n, got.ID, "new") != "\x00\x01" {
		t.Fatal("element bytes after update")
	}
	if _, _, err := n.repo.OpenElement(ctx, got.ID, "empty"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed element: %v", err)
	}
	if !strings.Contains(string(got2.Attributes), `"name":"Bye"`) {
		t.Fatalf("attributes after update %s", got2.Attributes)
	}
	res, err := n.repo.SearchIDs(ctx, p, "hello")
	if err != nil || len(res) != 0 {
		t.Fatalf("old words still match: %v %v", res, err)
	}
	if res, _ := n.repo.SearchIDs(ctx, p, "bye"); !slices.Equal(res, []string{got.ID}) {
		t.Fatalf("new words: %v", res)
	}

	// A delete retracts; the history keeps every version.
	if err := n.repo.Delete(ctx, p, got.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.repo.Get(ctx, got.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := n.repo.Delete(ctx, p, got.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if res, _ := n.repo.SearchIDs(ctx, p, "*:*"); len(res) != 0 {
		t.Fatalf("search after delete: %v", res)
	}
	hist, err := n.repo.History(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sawHello, retracted bool
	for _, d := range hist {
		if d.A == attrAttributes && strings.Contains(d.V.Str, "Hello World") {
			sawHello = sawHello || d.Added
			retracted = retracted || !d.Added
		}
	}
	if !sawHello || !retracted {
		t.Fatalf("history lost the first version: %v", hist)
	}
}

func TestRepositoryBadInput(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, "test", NewMemBlobs())
	p := owner(n)
	for _, js := range []string{
		`{"attributes":[1]}`, `{"attributes":"x"}`, `{"elements":[{"type":"x"}]}`, `{"elements":[{"id":"a"},{"id":"a"}]}`,
		`{"id":"` + strings.Repeat("x", MaxIDLen+1) + `"}`, `{"type":"a\u0000b"}`, `{"attributes":{"acl":{"readers":"x"}}}`,
	} {
		do, err := parseObject([]byte(js))
		if err == nil {
			_, err = n.repo.Create(ctx, p, do, nil)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", js, err)
		}
	}
	do := mustParse(t, `{"elements":[{"id":"a"}]}`)
	if _, err := n.repo.Create(ctx, p, do, map[string]ElementData{"b": put(t, n, "x")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("data for an unlisted element: %v", err)
	}
	if _, err := n.repo.Update(ctx, p, &DigitalObject{ID: "test/none"}, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing object: %v", err)
	}
}

func TestLargeAttributesAreABlob(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, "test", NewMemBlobs())
	big := strings.Repeat("word ", 20000)
	got, err := n.repo.Create(ctx, owner(n), mustParse(t, `{"id":"test/big","attributes":{"text":"`+big+`"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got.Attributes), big) {
		t.Fatal("large attributes lost")
	}
	ent, _ := n.db.Pull(ctx, n.repo.key, objEntity("test/big"))
	if len(ent.Attrs[attrAttributesCID]) != 1 || len(ent.Attrs[attrAttributes]) != 0 {
		t.Fatalf("large attributes not stored as a blob: %v", ent.Attrs)
	}
}
