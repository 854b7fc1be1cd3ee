package datom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// contacts opens a datom database over a store in a temporary directory, with one core,
// "contacts", and returns it with the core's key and a function that closes everything.
func contacts() (*datom.DB, corestore.Key, func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "datom-example-")
	if err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	store, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	core, err := store.Create(ctx, "contacts")
	if err != nil {
		log.Fatal(err)
	}
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db, err := datom.Open(ctx, store, datom.WithLogger(quiet), datom.WithClock(func() time.Time { return t }))
	if err != nil {
		log.Fatal(err)
	}
	return db, core.Key(), func() {
		db.Close()
		store.Close()
		os.RemoveAll(dir)
	}
}

// A transaction may install attributes and use them at once; Datomic's type names work.
func ExampleDB_Transact() {
	db, key, done := contacts()
	defer done()
	ctx := context.Background()
	rep, err := db.TransactJSON(ctx, key, []byte(`[
		{"db/ident": "person/email", "db/valueType": "db.type/string", "db/unique": "db.unique/identity"},
		{"db/ident": "person/tag", "db/valueType": "string", "db/cardinality": "many"},
		{"db/ident": "person/age", "db/valueType": "int64"},
		{"person/email": "wang@example.cn", "person/tag": ["friend", "work"], "person/age": 31}
	]`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tx", rep.Tx, "new entity", rep.TempIDs["_:item3"])

	// A retraction of a value the entity does not have is refused.
	_, err = db.Transact(ctx, key, []datom.Datom{datom.Retract(rep.TempIDs["_:item3"], "person/age", datom.Int(30))})
	fmt.Println(errors.Is(err, datom.ErrNothingToRetract))
	// Output:
	// tx 0 new entity e.0.3
	// true
}

// Queries can be written in EDN, as in Datomic; predicates are lists in a vector.
func ExampleParseQuery() {
	db, key, done := contacts()
	defer done()
	ctx := context.Background()
	if _, err := db.TransactJSON(ctx, key, []byte(`[
		{"db/id": "p/1", "person/name": "Ann", "person/city": "Oslo", "person/age": 41},
		{"db/id": "p/2", "person/name": "Bo", "person/city": "Lima", "person/age": 25}
	]`)); err != nil {
		log.Fatal(err)
	}
	q, err := datom.ParseQuery([]byte(`[:find ?name ?city
		:where [?p :person/name ?name] [?p :person/city ?city] [?p :person/age ?age] [(> ?age 30)]]`))
	if err != nil {
		log.Fatal(err)
	}
	res, err := db.Query(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range res.Rows {
		fmt.Println(row.Strings())
	}
	// The same query in JSON:
	q2, _ := datom.ParseQuery([]byte(`{"find": ["?name", "?city"], "where": [["?p", "person/name", "?name"],
		["?p", "person/city", "?city"], ["?p", "person/age", "?age"], [[">", "?age", 30]]]}`))
	fmt.Println(q2)
	// Output:
	// ["Ann" "Oslo"]
	// [:find ?name ?city :where [?p "person/name" ?name] [?p "person/city" ?city] [?p "person/age" ?age] [(> ?age 30)]]
}

// Pull takes a lookup ref on a unique attribute; Entities streams every entity of a core in
// the entity-map form a transaction reads.
func ExampleDB_Pull() {
	db, key, done := contacts()
	defer done()
	ctx := context.Background()
	if _, err := db.TransactJSON(ctx, key, []byte(`[
		{"db/id": "s/email", "db/ident": "person/email", "db/unique": "identity"},
		{"db/id": "p/1", "person/email": "wang@example.cn", "person/name": "Wang"}
	]`)); err != nil {
		log.Fatal(err)
	}
	ent, err := db.Pull(ctx, key, `["person/email", "wang@example.cn"]`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ent.ID, ent.Attrs["person/name"])

	_, err = db.Pull(ctx, key, `["person/name", "Wang"]`)
	fmt.Println(errors.Is(err, datom.ErrNotUnique))

	sch, _ := db.Schema(ctx, key)
	for ent, err := range db.Entities(ctx, key) {
		if err != nil {
			log.Fatal(err)
		}
		b, _ := json.Marshal(ent.Map(sch))
		fmt.Println(string(b))
	}
	// Output:
	// p/1 ["Wang"]
	// true
	// {"db/id":"p/1","person/email":"wang@example.cn","person/name":"Wang"}
	// {"db/id":"s/email","db/ident":"person/email","db/unique":"identity"}
}

// ParseValueText reads a command-line value as the type asked for: JSON-looking text is a
// string unless the type is json.
func ExampleParseValueText() {
	for _, in := range [][2]string{{"", `{"a":1}`}, {"json", `{"ref":"p/1"}`}, {"int64", "42"}, {"time", "2024-01-02"}, {"bytes", "0x00ff"}} {
		v, err := datom.ParseValueText(in[0], in[1])
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.Kind, v)
	}
	_, err := datom.ParseValueText("int64", "forty")
	fmt.Println(err)
	// Output:
	// string "{\"a\":1}"
	// ref p/1
	// int64 42
	// time 2024-01-02T00:00:00Z
	// bytes 0x00ff
	// bad value: "forty" is not an int64 (a decimal integer from -9223372036854775808 to 9223372036854775807)
}

// TableWriter shows the datoms of transaction blocks as the CLI does.
func ExampleTableWriter() {
	block, err := datom.EncodeTx(datom.Tx{Datoms: []datom.Datom{
		datom.Add("p/1", "person/name", datom.String("Ann")),
		datom.Retract("p/1", "person/city", datom.String("Oslo")),
	}})
	if err != nil {
		log.Fatal(err)
	}
	tw := datom.NewTableWriter(os.Stdout)
	if _, err := tw.WriteBlock(7, block); err != nil {
		log.Fatal(err)
	}
	// Output:
	// E                        A                        V                                  TX OP
	// p/1                      person/name              Ann                                 7 add
	// p/1                      person/city              Oslo                                7 retract
}

// All queries of a database share a memory budget; one that would pass it fails cleanly.
func ExampleWithQueryMemory() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "datom-example-")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	store, err := corestore.Open(ctx, dir, corestore.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	core, _ := store.Create(ctx, "people")
	db, err := datom.Open(ctx, store, datom.WithLogger(quiet), datom.WithQueryMemory(8<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var ds []datom.Datom
	for i := range 2000 {
		ds = append(ds, datom.Add(fmt.Sprintf("p/%d", i), "person/name", datom.String(fmt.Sprint("name-", i))))
	}
	if _, err := db.Transact(ctx, core.Key(), ds); err != nil {
		log.Fatal(err)
	}
	q, _ := datom.ParseQuery([]byte(`[:find ?a ?b :where [?a :person/name _] [?b :person/name _]]`))
	_, err = db.Query(ctx, q)
	fmt.Println(errors.Is(err, datom.ErrQueryTooLarge), db.QueryMemory().InUse)
	// Output:
	// true 0
}
