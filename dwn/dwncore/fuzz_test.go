package dwncore

import (
	"bytes"
	"testing"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// FuzzDecodeEntry: blocks from other nodes' cores decode as entries or fail cleanly, and entries
// encode back to the same block.
func FuzzDecodeEntry(f *testing.F) {
	m, _ := jsv.Parse([]byte(`{"descriptor":{"interface":"Records","method":"Delete","messageTimestamp":"2025-01-01T00:00:00.000000Z","recordId":"x","prune":false}}`))
	for _, e := range []Entry{{Message: m.(*jsv.Object)}, {Message: m.(*jsv.Object), Data: []byte("d"), WithData: true, Ingested: true}} {
		b, err := EncodeEntry(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x61, 0x76, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		out, err := EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("entry does not round-trip")
		}
	})
}
