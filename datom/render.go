package datom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/datomspace/datomspace/corestore"
)

// TransactJSON parses a transaction with ParseTxJSON and transacts it on the core with key.
func (db *DB) TransactJSON(ctx context.Context, key corestore.Key, b []byte) (*TxReport, error) {
	ds, err := ParseTxJSON(b)
	if err != nil {
		return nil, err
	}
	return db.Transact(ctx, key, ds)
}

// MarshalJSON writes the value in the form ParseValueJSON reads back as the same value: as
// JSON does, except that an integral float64 keeps a decimal point (2.0), so that it does not
// read back as an int64.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Kind == KindFloat && !math.IsInf(v.Float, 0) && !math.IsNaN(v.Float) {
		b := strconv.AppendFloat(nil, v.Float, 'g', -1, 64)
		if !bytes.ContainsAny(b, ".eE") {
			b = append(b, '.', '0')
		}
		return b, nil
	}
	return json.Marshal(v.JSON())
}

// MarshalJSON writes the datom as {"e","a","v","tx","op"}, the datom form ParseTxJSON reads plus
// its tx.
func (d Datom) MarshalJSON() ([]byte, error) {
	op := "add"
	if !d.Added {
		op = "retract"
	}
	return json.Marshal(struct {
		E  string `json:"e"`
		A  string `json:"a"`
		V  Value  `json:"v"`
		Tx uint64 `json:"tx"`
		Op string `json:"op"`
	}{d.E, d.A, d.V, d.Tx, op})
}

// MarshalJSON writes the row as {"core": "<hex key>", "values": [...]}.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Core   string  `json:"core"`
		Values []Value `json:"values"`
	}{r.Core.String(), r.Values})
}

// MarshalJSON writes the entity as {"core", "id", "attrs": {attribute: [values]}}.
func (e Entity) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Core  string             `json:"core"`
		ID    string             `json:"id"`
		Attrs map[string][]Value `json:"attrs"`
	}{e.Core.String(), e.ID, e.Attrs})
}

// Strings renders the row's values for a table, as Value.String does.
func (r Row) Strings() []string {
	out := make([]string, len(r.Values))
	for i, v := range r.Values {
		out[i] = v.String()
	}
	return out
}

// Text renders the value for a table cell: strings and refs as they are (quoted, as Go quotes,
// when they are empty, have control characters or leading or trailing spaces, so that a cell is
// always one line), other kinds as String does.
func (v Value) Text() string {
	switch v.Kind {
	case KindString, KindRef:
		if needsQuotes(v.Str) {
			return strconv.Quote(v.Str)
		}
		return v.Str
	case KindBlob:
		return fmt.Sprintf("blob %s (%d bytes)", v.Blob.CID, v.Blob.Size)
	}
	return v.String()
}

func needsQuotes(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// TableWriter writes datoms as a table with the columns E, A, V, TX and OP: the header before
// the first row, then one line per datom. Columns have fixed minimum widths, so that rows can be
// written as blocks arrive without holding them back to measure them.
type TableWriter struct {
	w      io.Writer
	header bool
}

// NewTableWriter returns a TableWriter that writes to w.
func NewTableWriter(w io.Writer) *TableWriter { return &TableWriter{w: w} }

// Write writes one row per datom: its entity, attribute, value (as Value.Text renders it), tx
// and op (add or retract).
func (t *TableWriter) Write(ds []Datom) error {
	var b strings.Builder
	if !t.header {
		fmt.Fprintf(&b, "%-24s %-24s %-30s %6s %s\n", "E", "A", "V", "TX", "OP")
		t.header = true
	}
	for _, d := range ds {
		op := "add"
		if !d.Added {
			op = "retract"
		}
		fmt.Fprintf(&b, "%-24s %-24s %-30s %6d %s\n", cell(d.E), cell(d.A), d.V.Text(), d.Tx, op)
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

func cell(s string) string {
	if needsQuotes(s) {
		return strconv.Quote(s)
	}
	return s
}

// WriteBlock writes the datoms of block i of a core when it is a datom transaction and reports
// whether it was one: false, with nothing written, for a block of another format or a malformed
// datom block, which callers show raw.
func (t *TableWriter) WriteBlock(i uint64, block []byte) (bool, error) {
	tx, err := DecodeTxAt(block, i)
	if err != nil {
		return false, nil
	}
	return true, t.Write(tx.Datoms)
}
