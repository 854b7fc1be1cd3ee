package datom

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValueJSONRoundTrip(t *testing.T) {
	for _, d := range sampleTxs()[0].Datoms {
		b, err := json.Marshal(d.V)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseValueJSON(b)
		if err != nil {
			t.Fatalf("%s: %s: %v", d.V, b, err)
		}
		if !back.Equal(d.V) {
			t.Errorf("%s → %s → %s", d.V, b, back)
		}
	}
}

func TestResultJSON(t *testing.T) {
	db, _, key := newDB(t)
	rep, err := db.TransactJSON(context.Background(), key, []byte(`[{"db/id":"p/1","p/name":"Ann","p/friend":{"ref":"p/2"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep.Datoms)
	if !strings.Contains(string(b), `{"e":"p/1","a":"p/friend","v":{"ref":"p/2"},"tx":0,"op":"add"}`) {
		t.Errorf("datoms JSON %s", b)
	}
	res, err := db.QueryJSON(context.Background(), []byte(`{"find":["?e","?n"],"where":[["?e","p/name","?n"]]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(res)
	want := `{"Columns":["?e","?n"],"Rows":[{"core":"` + key.String() + `","values":[{"ref":"p/1"},"Ann"]}],"Notes":null}`
	if string(b) != want {
		t.Errorf("result JSON\n%s\nwant\n%s", b, want)
	}
}

func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{String("Alice"), "Alice"},
		{String("two words"), "two words"},
		{String(""), `""`},
		{String(" padded"), `" padded"`},
		{String("line\nbreak"), `"line\nbreak"`},
		{String("tab\there"), `"tab\there"`},
		{Ref("contact/1"), "contact/1"},
		{Int(-3), "-3"},
		{Float(1.5), "1.5"},
		{Bool(true), "true"},
		{Bytes([]byte{0, 1}), "0x0001"},
		{Time(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), "2024-01-02T03:04:05Z"},
	} {
		if got := tc.v.Text(); got != tc.want {
			t.Errorf("%#v.Text() = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestTableWriter: the table of the sample transactions matches testdata/table.golden, and a
// block that is not a datom transaction writes nothing.
func TestTableWriter(t *testing.T) {
	var b strings.Builder
	tw := NewTableWriter(&b)
	for i, tx := range sampleTxs() {
		block, err := EncodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := tw.WriteBlock(uint64(i), block)
		if !ok || err != nil {
			t.Fatalf("block %d: %t, %v", i, ok, err)
		}
	}
	if ok, err := tw.WriteBlock(3, []byte("raw bytes")); ok || err != nil {
		t.Fatalf("raw block: %t, %v", ok, err)
	}
	golden := filepath.Join("testdata", "table.golden")
	if os.Getenv("DATOM_WRITE_SEEDS") != "" {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("table\n%s\nwant\n%s", b.String(), want)
	}
	if n := strings.Count(b.String(), "\n"); n != 1+9+3 {
		t.Errorf("%d lines, want a header and 12 rows", n)
	}
}

// TestDatomJSONRoundTrip: datoms marshalled as JSON transact again as the same datoms, floats
// that are integral included.
func TestDatomJSONRoundTrip(t *testing.T) {
	ds := append(sampleTxs()[0].Datoms[:8:8], Add("c/1", "c/two", Float(2)), Add("c/1", "c/neg", Float(-0.5)), Add("c/1", "c/big", Float(1e300)))
	b, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTxJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	for i := range ds {
		if !back[i].V.Equal(ds[i].V) || back[i].E != ds[i].E || back[i].A != ds[i].A || back[i].Added != ds[i].Added {
			t.Errorf("datom %d: %s → %s", i, ds[i], back[i])
		}
	}
	if !strings.Contains(string(b), `"v":2.0`) {
		t.Errorf("an integral float64 is written without its decimal point: %s", b)
	}
	if _, err := ParseTxJSON([]byte(`[{"e":"c/1","a":"c/x","v":1,"tx":-1}]`)); !errors.Is(err, ErrRejected) {
		t.Errorf("a negative tx: %v", err)
	}
}
