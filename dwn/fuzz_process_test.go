package dwn_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/datomspace/datomspace/dwn"
)

// FuzzProcess: any message text, with or without data, is judged by a node without panics, and
// gets a reply code dwn-sdk-js uses.
func FuzzProcess(f *testing.F) {
	for _, s := range []string{
		`{"descriptor":{"interface":"Records","method":"Query","messageTimestamp":"2025-01-01T00:00:00.000000Z","filter":{"schema":"https://x"}}}`,
		`{"descriptor":{"interface":"Records","method":"Write"}}`,
		`{"descriptor":{"interface":"Protocols","method":"Query","messageTimestamp":"2025-01-01T00:00:00.000000Z","filter":{"protocol":"a"}}}`,
		`{}`, `[]`, `{"descriptor":{"interface":"General","method":"Jws"}}`,
	} {
		f.Add([]byte(s), []byte("data"))
	}
	n, _ := newMemNode(f)
	f.Fuzz(func(t *testing.T, msg, data []byte) {
		r, err := n.ProcessJSON(context.Background(), "did:key:z6MkopqkSW4A4hLEkb3ocJyqoZcwbdeJXSaRdtmT3WF11WsR", msg, dwn.WithData(bytes.NewReader(data)))
		if err != nil {
			return
		}
		switch r.Status.Code {
		case 200, 202, 204, 400, 401, 404, 409:
		default:
			t.Fatalf("code %d", r.Status.Code)
		}
		if r.Data != nil {
			r.Data.Close()
		}
	})
}
