package datom

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

func FuzzDecodeTx(f *testing.F) {
	for _, tx := range append(sampleTxs(), blobSampleTxs(f)...) {
		b, _ := EncodeTx(tx)
		f.Add(b)
	}
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			if !errors.Is(err, ErrNotTx) && !errors.Is(err, ErrBadTx) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// What decodes re-encodes, and the re-encoding is canonical.
		b2, err := EncodeTx(tx)
		if err != nil {
			t.Fatalf("decoded tx does not encode: %v", err)
		}
		tx2, err := DecodeTx(b2)
		if err != nil {
			t.Fatalf("re-encoded tx does not decode: %v", err)
		}
		b3, err := EncodeTx(tx2)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable: %v", err)
		}
		for i := range tx.Datoms {
			if !tx.Datoms[i].V.Equal(tx2.Datoms[i].V) || tx.Datoms[i].E != tx2.Datoms[i].E {
				t.Fatalf("datom %d changed: %s → %s", i, tx.Datoms[i], tx2.Datoms[i])
			}
		}
	})
}

func FuzzParseTxJSON(f *testing.F) {
	var fx contactsFixture
	readFixture(f, "contacts.json", &fx)
	for _, tx := range fx.Transactions {
		f.Add(string(tx))
	}
	for _, r := range fx.Rejections {
		f.Add(string(r.Tx))
	}
	for _, b := range fx.BadTxJSON {
		f.Add(b.JSON)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseTxJSON([]byte(s))
		if err != nil {
			if errors.Is(err, ErrBadJSON) == errors.Is(err, ErrRejected) {
				t.Fatalf("error is not exactly one of ErrBadJSON and ErrRejected: %v", err)
			}
			checkErrorText(t, err)
			return
		}
		if len(ds) == 0 || len(ds) > MaxDatomsPerTx {
			t.Fatalf("%d datoms", len(ds))
		}
	})
}

// FuzzParseQuery parses queries and runs the ones that parse against the contacts fixture.
func FuzzParseQuery(f *testing.F) {
	db, _, key := newDB(f, WithQueryMemory(16<<20)) // cross products fail fast

	fx := loadContacts(f, db, key)
	for _, q := range fx.Queries {
		f.Add(string(q.Query))
	}
	f.Add(`{"find":["?a"],"where":[["?a","?b","?c"],["?c","?d","?e"]]}`)
	f.Add(`{"find":["?a"],"where":[{"pred":"prefix","args":["?a","x"]}],"in":{"?a":["xy",1]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery([]byte(s))
		if err != nil {
			if errors.Is(err, ErrBadJSON) == errors.Is(err, ErrBadQuery) {
				t.Fatalf("error is not exactly one of ErrBadJSON and ErrBadQuery: %v", err)
			}
			checkErrorText(t, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := db.Query(ctx, q)
		if err == nil && len(res.Columns) != len(q.Find) {
			t.Fatalf("columns %v for find %v", res.Columns, q.Find)
		}
	})
}

// goTypeWords are what error text shows when it leaks Go's types.
var goTypeWords = []string{"Go value", "Go struct", "struct {", "interface {}", "map[string]", "[]interface", "json.Number", "json.RawMessage", "*datom.", "datom."}

// checkErrorText fails on error text that shows Go types or is not valid UTF-8.
func checkErrorText(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, w := range goTypeWords {
		if strings.Contains(msg, w) {
			t.Fatalf("error text shows a Go type (%q): %s", w, msg)
		}
	}
}

// FuzzParseQueryEDN parses text queries: an error is ErrBadQuery alone, in words without Go
// types; a query that parses renders back (Query.String) to text that parses to the same query,
// and runs against the contacts fixture without error other than a clean refusal.
func FuzzParseQueryEDN(f *testing.F) {
	db, _, key := newDB(f, WithQueryMemory(16<<20)) // cross products fail fast
	loadContacts(f, db, key)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQueryEDN([]byte(s))
		if err != nil {
			if !errors.Is(err, ErrBadQuery) || errors.Is(err, ErrBadJSON) {
				t.Fatalf("error is not ErrBadQuery alone: %v", err)
			}
			checkErrorText(t, err)
			return
		}
		text := q.String()
		back, err := ParseQueryEDN([]byte(text))
		if err != nil {
			t.Fatalf("%s renders as %s, which does not parse: %v", s, text, err)
		}
		if !reflect.DeepEqual(q, back) {
			t.Fatalf("%s renders as %s, which parses to another query:\n%+v\n%+v", s, text, q, back)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := db.Query(ctx, q)
		if err != nil {
			if !errors.Is(err, ErrQueryTooLarge) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, corestore.ErrNotFound) {
				t.Fatalf("query %s: %v", text, err)
			}
			return
		}
		if len(res.Columns) != len(q.Find) {
			t.Fatalf("columns %v for find %v", res.Columns, q.Find)
		}
	})
}

// FuzzParseLookupRef: text that starts with [ is a lookup ref or an ErrBadLookupRef, other text
// is an entity id; a lookup ref has a namespaced attribute and a valid value.
func FuzzParseLookupRef(f *testing.F) {
	for _, s := range []string{`["person/email", "wang@example.cn"]`, `[:person/email "wang@example.cn"]`, `["a/b", {"ref": "x"}]`,
		`[:a/b #inst "2024-01-02T03:04:05Z"]`, `["a/b"]`, `contact/1`, `[`, `[:a/b {:ref 1}]`, `["a/b", 1, 2]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok, err := ParseLookupRef(s)
		if err != nil {
			if !ok || !errors.Is(err, ErrBadLookupRef) {
				t.Fatalf("error %v, ok %t", err, ok)
			}
			checkErrorText(t, err)
			return
		}
		if !ok {
			if strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "[") {
				t.Fatalf("%q starts with [ but is not read as a lookup ref", s)
			}
			return
		}
		if err := checkAttrName(ref.Attr); err != nil {
			t.Fatalf("attribute %q: %v", ref.Attr, err)
		}
		if err := ref.Value.check(); err != nil {
			t.Fatalf("value %s: %v", ref.Value, err)
		}
	})
}

// FuzzParseValueText: every type either reads the text as a valid value or refuses it with
// ErrBadValue; what it reads renders (Value.String for the scalar kinds) back to the same value.
func FuzzParseValueText(f *testing.F) {
	for _, s := range []string{"", "x", "42", "-1.5e3", "true", "2024-01-02", "2024-01-02T03:04:05.5Z", "0x00ff", "AAE=", `{"a":1}`, "c/1",
		emptyCID + ":0", zerosCID + ":1048576", `{"blob":"` + emptyCID + `","size":0,"type":"string"}`} {
		f.Add(s)
	}
	types := []string{"", "string", "int64", "float64", "bool", "time", "bytes", "ref", "core-ref", "blob", "json", "db.type/long"}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			v, err := ParseValueText(typ, s)
			if err != nil {
				if !errors.Is(err, ErrBadValue) && !errors.Is(err, ErrBadJSON) {
					t.Fatalf("%s %q: error %v", typ, s, err)
				}
				continue
			}
			if err := v.check(); err != nil {
				t.Fatalf("%s %q: invalid value %s: %v", typ, s, v, err)
			}
			switch v.Kind {
			case KindInt, KindBool, KindTime, KindCoreRef, KindBlob:
				if typ == "json" {
					continue
				}
				back, err := ParseValueText(v.Kind.String(), v.String())
				if err != nil || !back.Equal(v) {
					t.Fatalf("%s %q → %s → %s, %v", typ, s, v, back, err)
				}
			}
		}
	})
}
