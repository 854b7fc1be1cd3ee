package dwn_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// A node on in-memory stores: the tenant writes a record, queries it by schema and reads its data.
func ExampleNode() {
	ctx := context.Background()
	stores := memstore.New()
	node, err := dwn.New(stores.Options()...)
	if err != nil {
		panic(err)
	}
	defer node.Close()

	alice := dwntest.NewPersona(1)
	clock := dwntest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	data := []byte("hello")
	write := alice.RecordsWrite(clock, dwntest.Write{Data: data, Schema: "https://example.com/note"})

	r, err := node.Process(ctx, alice.DID, write, dwn.WithData(bytes.NewReader(data)))
	if err != nil {
		panic(err)
	}
	fmt.Println("write:", r.Status.Code)

	q := alice.RecordsQuery(clock, dwntest.Obj("schema", "https://example.com/note"))
	r, _ = node.Process(ctx, alice.DID, q)
	fmt.Println("query:", r.Status.Code, len(r.Entries))

	recordID, _ := write.Get("recordId")
	read := alice.RecordsRead(clock, recordID.(string))
	r, _ = node.Process(ctx, alice.DID, read)
	b, _ := io.ReadAll(r.Data)
	r.Data.Close()
	fmt.Println("read:", r.Status.Code, string(b))

	// A message that fails the schema is rejected with dwn-sdk-js's status and detail.
	r, _ = node.ProcessJSON(ctx, alice.DID, []byte(`{"descriptor":{"interface":"Records","method":"Query"}}`))
	fmt.Println("bad:", r.Status.Code)
	// Output:
	// write: 202
	// query: 200 1
	// read: 200 hello
	// bad: 400
}
