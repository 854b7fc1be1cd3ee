package datom

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
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
