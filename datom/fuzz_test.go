package datom

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzDecodeTx(f *testing.F) {
	for _, tx := range sampleTxs() {
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
	db, _, key := newDB(f)
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
