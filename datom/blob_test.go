package datom

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/corestore/blobs"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// The blobs of DESIGN.md's CID table: the empty file and 1 MiB of zeros.
const (
	emptyCID   = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	zerosCID   = "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"
	zerosBytes = 1 << 20
)

func mustRef(t testing.TB, s string, size uint64) blobs.Ref {
	t.Helper()
	c, err := blobs.ParseCID(s)
	if err != nil {
		t.Fatal(err)
	}
	return blobs.Ref{CID: c, Size: size}
}

// blobSampleTxs are transactions with blob values; testdata/blob_tx_golden.hex holds their
// encodings.
func blobSampleTxs(t testing.TB) []Tx {
	return []Tx{{Time: time.UnixMilli(1700000000000).UTC(), Datoms: []Datom{
		{E: "doc/1", A: "doc/body", V: BlobOf(mustRef(t, zerosCID, zerosBytes), KindString), Added: true},
		{E: "doc/1", A: "doc/scan", V: Blob(mustRef(t, emptyCID, 0)), Added: true},
		{E: "doc/1", A: "doc/old", V: Blob(mustRef(t, zerosCID, zerosBytes)), Added: false},
	}}}
}

// TestBlobTxGolden: blob values encode deterministically, as the golden bytes, and decode back.
func TestBlobTxGolden(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "blob_tx_golden.hex"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(golden))
	for i, tx := range blobSampleTxs(t) {
		b, err := EncodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); i >= len(lines) || got != lines[i] {
			t.Fatalf("tx %d encodes as\n%s", i, got)
		}
		back, err := DecodeTx(b)
		if err != nil {
			t.Fatal(err)
		}
		for j, d := range back.Datoms {
			if !d.V.Equal(tx.Datoms[j].V) || d.V.Blob.CID != tx.Datoms[j].V.Blob.CID || d.V.BlobOf != tx.Datoms[j].V.BlobOf {
				t.Errorf("datom %d: %s decodes as %s", j, tx.Datoms[j], d)
			}
		}
	}
}

// TestBlobValueBadBlocks: a block whose blob value has a bad CID, a CID of an unsupported codec,
// a non-canonical size, trailing bytes or a kind other than string or bytes is malformed.
func TestBlobValueBadBlocks(t *testing.T) {
	ref := mustRef(t, zerosCID, zerosBytes)
	good, _ := ref.MarshalBinary()
	dagCBOR := cid.NewCidV1(cid.DagCBOR, ref.CID.Hash())
	unsupported, _ := blobs.Ref{CID: dagCBOR, Size: 1}.MarshalBinary()
	long := append(slices.Clone(good[:len(good)-3]), 0x80|good[len(good)-3], 0x80|good[len(good)-2], 0x80|good[len(good)-1], 0x00)
	cases := map[string]wireBlob{
		"not a CID":   {Ref: []byte{1, 2, 3}, Of: uint8(KindBytes)},
		"dag-cbor":    {Ref: unsupported, Of: uint8(KindBytes)},
		"long size":   {Ref: long, Of: uint8(KindBytes)},
		"trailing":    {Ref: append(slices.Clone(good), 0), Of: uint8(KindBytes)},
		"of int":      {Ref: good, Of: uint8(KindInt)},
		"of blob":     {Ref: good, Of: uint8(KindBlob)},
		"empty ref":   {Ref: nil, Of: uint8(KindBytes)},
		"fine, check": {Ref: good, Of: uint8(KindBytes)},
	}
	for name, wb := range cases {
		raw, err := defaultCodec.enc.Marshal(wb)
		if err != nil {
			t.Fatal(err)
		}
		block, err := defaultCodec.enc.Marshal(wireTx{Marker: TxMarker, Version: TxVersion, Datoms: []wireDatom{
			{E: "e/1", A: "a/b", K: uint8(KindBlob), V: raw, Added: true}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeTx(block)
		if name == "fine, check" {
			if err != nil {
				t.Fatalf("a good blob value: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrBadTx) {
			t.Errorf("%s: %v, want ErrBadTx", name, err)
		}
	}
}

// TestBlobValueForms: the JSON, text and EDN forms of a blob value read back as the same value.
func TestBlobValueForms(t *testing.T) {
	for _, v := range []Value{Blob(mustRef(t, emptyCID, 0)), BlobOf(mustRef(t, zerosCID, zerosBytes), KindString)} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseValueJSON(b)
		if err != nil || !back.Equal(v) {
			t.Errorf("JSON %s reads back as %v, %v", b, back, err)
		}
		if v.BlobOf == KindBytes {
			back, err = ParseValueText("blob", v.String())
			if err != nil || !back.Equal(v) {
				t.Errorf("text %s reads back as %v, %v", v, back, err)
			}
		}
		q, err := ParseQuery([]byte(`[:find ?e :where [?e :doc/body ` + ednValue(v) + `]]`))
		if err != nil {
			t.Fatalf("EDN %s: %v", ednValue(v), err)
		}
		if got := q.Where[0].Terms[2].Value; !got.Equal(v) {
			t.Errorf("EDN %s reads back as %v", ednValue(v), got)
		}
	}
	if got := string(must(json.Marshal(Blob(mustRef(t, emptyCID, 0))))); got != `{"blob":"`+emptyCID+`","size":0}` {
		t.Errorf("JSON form %s", got)
	}
	// A blob value in an entity map is a value, not a nested entity.
	ds, err := ParseTxJSON([]byte(`[{"db/id":"doc/1","doc/body":{"blob":"` + zerosCID + `","size":1048576,"type":"string"}}]`))
	if err != nil || len(ds) != 1 || ds[0].V.Kind != KindBlob || ds[0].V.BlobOf != KindString {
		t.Fatalf("entity map with a blob value: %v %v", ds, err)
	}
	bad := map[string]string{
		"no size":       `{"blob":"` + emptyCID + `"}`,
		"bad CID":       `{"blob":"bafkreinotacid","size":1}`,
		"negative size": `{"blob":"` + emptyCID + `","size":-1}`,
		"unknown key":   `{"blob":"` + emptyCID + `","size":1,"x":2}`,
		"bad type":      `{"blob":"` + emptyCID + `","size":1,"type":"int64"}`,
		"dag-cbor":      `{"blob":"bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","size":1}`,
	}
	for name, js := range bad {
		if _, err := ParseValueJSON([]byte(js)); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: %v, want ErrBadValue", name, err)
		}
	}
	for _, s := range []string{emptyCID, emptyCID + ":x", "nope:3", ":3"} {
		if _, err := ParseValueText("blob", s); !errors.Is(err, ErrBadValue) {
			t.Errorf("text %q: %v, want ErrBadValue", s, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// newBlobDB returns a DB with a blob store over a fresh store, the blob store, and the key of
// the writable core "main".
func newBlobDB(t testing.TB, opts ...Option) (*DB, *blobs.Store, *corestore.Store, corestore.Key) {
	t.Helper()
	s := openStore(t, t.TempDir())
	d, err := s.Datastore(blobs.DatastorePrefix)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blobs.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	c, err := s.Create(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return openDB(t, s, append([]Option{WithBlobs(bs)}, opts...)...), bs, s, c.Key()
}

// TestTransactBlobs: values over the threshold are stored as blobs and the datoms hold their
// CIDs and sizes; Resolve gives back the value as it was, string or bytes; smaller values stay
// inline; a typed attribute takes a blob of its type; an attribute typed blob keeps every value
// as a blob; the same large value asserted twice is one value.
func TestTransactBlobs(t *testing.T) {
	ctx := context.Background()
	db, bs, _, key := newBlobDB(t, WithBlobThreshold(1000))
	big := strings.Repeat("datoms hold small values; ", 200) // 5,200 bytes
	raw := bytes.Repeat([]byte{0, 1, 2, 3}, 2000)
	tx := []Datom{
		Add("s/1", AttrIdent, String("doc/scan")), Add("s/1", AttrValueType, String("bytes")),
		Add("s/2", AttrIdent, String("doc/title")), Add("s/2", AttrValueType, String("string")),
		Add("s/3", AttrIdent, String("doc/thumb")), Add("s/3", AttrValueType, String("blob")),
		Add("doc/1", "doc/body", String(big)),
		Add("doc/1", "doc/scan", String(base64.StdEncoding.EncodeToString(raw))),
		Add("doc/1", "doc/title", String(strings.Repeat("t", 1001))),
		Add("doc/1", "doc/thumb", Bytes([]byte("tiny"))),
		Add("doc/1", "doc/note", String("short")),
	}
	rep, err := db.Transact(ctx, key, tx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Value{}
	for _, d := range rep.Datoms {
		got[d.A] = d.V
	}
	want := map[string]struct {
		of    Kind
		value Value
	}{
		"doc/body":  {KindString, String(big)},
		"doc/scan":  {KindBytes, Bytes(raw)},
		"doc/title": {KindString, String(strings.Repeat("t", 1001))},
		"doc/thumb": {KindBytes, Bytes([]byte("tiny"))},
	}
	for a, w := range want {
		v := got[a]
		if v.Kind != KindBlob || v.BlobOf != w.of {
			t.Fatalf("%s is %s, want a blob of %s", a, v, w.of)
		}
		if v.Blob.Size != uint64(len(w.value.Str)+len(w.value.Bytes)) {
			t.Errorf("%s: size %d", a, v.Blob.Size)
		}
		back, err := db.Resolve(ctx, v, 1<<20)
		if err != nil || !back.Equal(w.value) {
			t.Errorf("%s resolves to %.40s, %v", a, back, err)
		}
	}
	if v := got["doc/note"]; v.Kind != KindString {
		t.Errorf("a small value became %s", v)
	}
	ent, err := db.Pull(ctx, key, "doc/1")
	if err != nil {
		t.Fatal(err)
	}
	if v := ent.Attrs["doc/body"]; len(v) != 1 || !v[0].Equal(got["doc/body"]) {
		t.Fatalf("pull shows %v", v)
	}
	// The same value again: one value, no new datom; a retraction by the value itself.
	if _, err := db.Transact(ctx, key, []Datom{Add("doc/1", "doc/body", String(big))}); err != nil {
		t.Fatal(err)
	}
	if ent, _ := db.Pull(ctx, key, "doc/1"); len(ent.Attrs["doc/body"]) != 1 {
		t.Fatalf("the value asserted twice: %v", ent.Attrs["doc/body"])
	}
	if _, err := db.Transact(ctx, key, []Datom{Retract("doc/1", "doc/body", String(big))}); err != nil {
		t.Fatalf("retract by the large value: %v", err)
	}
	// A large value of the wrong type is refused, and Resolve needs the whole blob.
	if _, err := db.Transact(ctx, key, []Datom{Add("doc/2", "doc/title", Bytes(raw))}); !errors.Is(err, ErrRejected) {
		t.Fatalf("bytes for a string attribute: %v", err)
	}
	if _, err := db.Resolve(ctx, got["doc/body"], 10); !errors.Is(err, blobs.ErrTooLarge) {
		t.Fatalf("resolve over max: %v", err)
	}
	missing := Blob(mustRef(t, zerosCID, zerosBytes))
	if _, err := db.Resolve(ctx, missing, 2<<20); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("resolve a blob not held: %v", err)
	}
	if ok, _ := bs.Complete(ctx, got["doc/scan"].Blob.CID); !ok {
		t.Fatal("the blob is not in the store")
	}
}

// TestTransactWithoutBlobs: without a blob store a large value is refused as before, and
// Resolve says there is no store.
func TestTransactWithoutBlobs(t *testing.T) {
	ctx := context.Background()
	db, _, key := newDB(t)
	if _, err := db.Transact(ctx, key, []Datom{Add("doc/1", "doc/body", String(strings.Repeat("x", maxValueLen+1)))}); !errors.Is(err, ErrRejected) {
		t.Fatalf("a value over 32 KiB without blobs: %v", err)
	}
	if _, err := db.Resolve(ctx, Blob(mustRef(t, emptyCID, 0)), 1); !errors.Is(err, ErrNoBlobs) {
		t.Fatalf("resolve without blobs: %v", err)
	}
	if _, err := Open(ctx, openStore(t, t.TempDir()), WithBlobThreshold(0)); err == nil {
		t.Fatal("a zero threshold was accepted")
	}
}

// TestBlobRootsAndGC: BlobRoots lists the blobs that datoms refer to, retracted ones included,
// after a reindex too, and not those of a forgotten core; a GC with it keeps them and removes
// the blob nothing refers to.
func TestBlobRootsAndGC(t *testing.T) {
	ctx := context.Background()
	db, bs, s, key := newBlobDB(t)
	a, b := strings.Repeat("a", 5000), strings.Repeat("b", 5000)
	rep := transactJSON(t, db, key, `[{"db/id":"doc/1","doc/body":"`+a+`"}]`)
	refA := rep.Datoms[0].V.Blob.CID
	rep = transactJSON(t, db, key, `[{"db/id":"doc/1","doc/body":"`+b+`"}]`) // retracts a
	refB := rep.Datoms[0].V.Blob.CID
	loose, err := bs.Add(ctx, strings.NewReader(strings.Repeat("c", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	roots := func() []cid.Cid {
		t.Helper()
		var out []cid.Cid
		for c, err := range db.BlobRoots(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	same := func(got []cid.Cid, want ...cid.Cid) bool {
		if len(got) != len(want) {
			return false
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, w.Equals) {
				return false
			}
		}
		return true
	}
	if got := roots(); !same(got, refA, refB) {
		t.Fatalf("BlobRoots: %v, want %s and %s", got, refA, refB)
	}
	if _, err := db.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := roots(); !same(got, refA, refB) {
		t.Fatalf("BlobRoots after a reindex: %v", got)
	}
	res, err := bs.GC(ctx, db.BlobRoots(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Roots) != 1 || !res.Roots[0].Equals(loose.CID) {
		t.Fatalf("GC removed %v, want only %s", res.Roots, loose.CID)
	}
	for _, c := range []cid.Cid{refA, refB} {
		if ok, _ := bs.Complete(ctx, c); !ok {
			t.Fatalf("GC removed %s, which a datom refers to", c)
		}
	}
	// Another core's datoms keep b too; once the first core is forgotten, its blob keys are gone.
	c2, err := s.Create(ctx, "second")
	if err != nil {
		t.Fatal(err)
	}
	transactJSON(t, db, c2.Key(), `[{"db/id":"doc/9","doc/body":"`+b+`"}]`)
	if got := roots(); !same(got, refA, refB) {
		t.Fatalf("BlobRoots with two cores: %v", got)
	}
	if err := db.Forget(ctx, key); err != nil {
		t.Fatal(err)
	}
	var left []cid.Cid
	db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{keyPrefix, subBlob}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			left = append(left, must(cid.Cast(it.Item().KeyCopy(nil)[6:])))
		}
		return nil
	})
	if !same(left, refB) {
		t.Fatalf("blob keys after forgetting a core: %v, want %s", left, refB)
	}
}

// TestBlobRootsWaitForCommits: a blob referenced by a transaction that returned is listed even
// while the index commit is in flight, and a concurrent GC never removes it.
func TestBlobRootsWaitForCommits(t *testing.T) {
	ctx := context.Background()
	db, bs, _, key := newBlobDB(t)
	for i := range 30 {
		body := strings.Repeat(string(rune('a'+i%26)), 5000+i)
		rep := transactJSON(t, db, key, `[{"db/id":"doc/1","doc/body":"`+body+`"}]`)
		if _, err := bs.GC(ctx, db.BlobRoots(ctx)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := bs.Complete(ctx, rep.Datoms[0].V.Blob.CID); !ok {
			t.Fatalf("round %d: GC removed the blob of the transaction that just returned", i)
		}
	}
}
