package datom

import (
	"context"
	"encoding/json"

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

// MarshalJSON writes the value in the form ParseValueJSON reads.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.JSON()) }

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
