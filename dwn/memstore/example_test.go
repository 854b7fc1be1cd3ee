package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// In-memory stores for a DWN node: the node stores an accepted message in them, and the message
// store answers queries on its indexes.
func ExampleNew() {
	ctx := context.Background()
	stores := memstore.New()
	// WithUnit(stores): each message's store writes are one transaction, undone if it fails.
	node, err := dwn.New(append(stores.Options(), dwn.WithUnit(stores))...)
	if err != nil {
		panic(err)
	}
	defer node.Close()

	alice := dwntest.NewPersona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte("a note")
	write := alice.RecordsWrite(clock, dwntest.Write{Data: data, DataFormat: "text/plain", Schema: "https://example.com/note"})
	r, err := node.Process(ctx, alice.DID, write, dwn.WithData(bytes.NewReader(data)))
	if err != nil {
		panic(err)
	}
	fmt.Println("write:", r.Status.Code)

	f := jsv.NewObject()
	f.Set("schema", "https://example.com/note")
	msgs, _, err := stores.Messages.Query(ctx, alice.DID, []dwn.Filter{f}, dwn.Sort{Property: "messageTimestamp"}, nil)
	if err != nil {
		panic(err)
	}
	want, _ := dwn.MessageCID(write)
	got, _ := dwn.MessageCID(msgs[0])
	fmt.Println("stored:", len(msgs), got == want)
	// Output:
	// write: 202
	// stored: 1 true
}

// The data store keeps record data as a UnixFS DAG under its dataCid, only when the data has
// the CID and size the record claims. Records with the same data share its blocks.
func ExampleDataStore() {
	ctx := context.Background()
	d := memstore.NewDataStore()
	data := strings.Repeat("datomspace ", 50_000) // 550 kB: three 256 KiB leaves and a root
	dataCID, size, _ := dwn.DataCID(strings.NewReader(data))

	for _, record := range []string{"record-1", "record-2"} {
		got, n, err := d.Put(ctx, "did:example:alice", record, dataCID, size, strings.NewReader(data))
		if err != nil {
			panic(err)
		}
		fmt.Println(record, got == dataCID, n)
	}
	fmt.Println("blocks:", d.Blocks())

	// Deleting one record's data keeps the other's.
	if err := d.Delete(ctx, "did:example:alice", "record-1", dataCID); err != nil {
		panic(err)
	}
	rc, n, err := d.Get(ctx, "did:example:alice", "record-2", dataCID)
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Println("record-2:", n, string(b) == data)

	// Data that does not match the claimed CID is not kept.
	got, _, _ := d.Put(ctx, "did:example:alice", "record-3", dataCID, size, strings.NewReader("other"))
	_, _, err = d.Get(ctx, "did:example:alice", "record-3", dataCID)
	fmt.Println("mismatch kept:", got == dataCID, err == nil)
	// Output:
	// record-1 true 550000
	// record-2 true 550000
	// blocks: 4
	// record-2: 550000 true
	// mismatch kept: false false
}
