package datomspace_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/datomspace/datomspace"
)

// Contact is what Alice keeps in her json core.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// The seed's story. Alice runs a server on her storage and connects to it as a client; she
// creates a json core and appends her contacts, and gives Bob the core's key. Bob runs his own
// server, which knows Alice's address as a bootstrap peer, opens the core by key, waits for it to
// be ready and reads the contacts, each block downloaded from Alice and verified against her
// signature, and sees her next append as it happens.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "datomspace-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)

	// Alice's server: storage in a temp dir, the API on 127.0.0.1 (port 0 picks one), libp2p
	// on loopback.
	alice, err := datomspace.NewServer(datomspace.ServerOptions{
		Storage: filepath.Join(dir, "alice"),
		Host:    "127.0.0.1:0",
		Listen:  []string{"/ip4/127.0.0.1/tcp/0"},
		Logger:  quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	events := make(chan datomspace.Event, 8)
	alice.On("client-open", func(e datomspace.Event) { events <- e })
	if err := alice.Ready(ctx); err != nil {
		log.Fatal(err)
	}

	client, err := datomspace.NewClient(datomspace.ClientOptions{Host: alice.Host()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	fmt.Println("alice: client-open, remote:", (<-events).Remote)

	contacts, err := client.Corestore().Get(ctx, datomspace.CoreOptions{Name: "contacts", ValueEncoding: "json"})
	if err != nil {
		log.Fatal(err)
	}
	length, err := contacts.Append(ctx,
		Contact{"Bob", "bob@example.com"},
		Contact{"Carol", "carol@example.org"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice: appended, length", length)
	key := contacts.Key() // Alice gives Bob this

	// Bob's server and client.
	bob, err := datomspace.NewServer(datomspace.ServerOptions{
		Storage:   filepath.Join(dir, "bob"),
		Host:      "127.0.0.1:0",
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap: alice.Addrs(),
		Logger:    quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	if err := bob.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	reader, err := datomspace.NewClient(datomspace.ClientOptions{Host: bob.Host()})
	if err != nil {
		log.Fatal(err)
	}
	defer reader.Close()
	core, err := reader.Corestore().Get(ctx, datomspace.CoreOptions{Key: key, ValueEncoding: "json"})
	if err != nil {
		log.Fatal(err)
	}
	if err := core.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob: ready, length", core.Length())
	for i := range core.Length() {
		var c Contact
		if err := core.Get(ctx, i, &c); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("bob: %d %s <%s>\n", i, c.Name, c.Email)
	}
	fmt.Println("alice: client-open, remote:", (<-events).Remote)

	// Alice appends once more; a live read from block 2 on yields each block as it arrives.
	live, stop := context.WithCancel(ctx)
	defer stop()
	if _, err := contacts.Append(ctx, Contact{"Dave", "dave@example.net"}); err != nil {
		log.Fatal(err)
	}
	for b, err := range core.Read(live, datomspace.ReadOptions{Start: 2, Live: true}) {
		if err != nil {
			log.Fatal(err)
		}
		var c Contact
		if err := b.Decode(&c); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("bob: new %d %s <%s>\n", b.Index, c.Name, c.Email)
		break
	}
	// Output:
	// alice: client-open, remote: false
	// alice: appended, length 2
	// bob: ready, length 2
	// bob: 0 Bob <bob@example.com>
	// bob: 1 Carol <carol@example.org>
	// alice: client-open, remote: true
	// bob: new 2 Dave <dave@example.net>
}

// Datoms: Alice keeps her contacts as facts in a datom core; Bob, who knows its key, queries them
// as soon as his session is ready. Each row names the core it came from.
func ExampleCore_Query() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "datomspace-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	serve := func(name string, bootstrap []string) *datomspace.Server {
		s, err := datomspace.NewServer(datomspace.ServerOptions{Storage: filepath.Join(dir, name),
			Host: filepath.Join(dir, name+".sock"), Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: bootstrap, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			log.Fatal(err)
		}
		if err := s.Ready(ctx); err != nil {
			log.Fatal(err)
		}
		return s
	}
	connect := func(s *datomspace.Server) *datomspace.Client {
		c, err := datomspace.NewClient(datomspace.ClientOptions{Host: s.Host()})
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	alice := serve("alice", nil)
	defer alice.Close()
	ac := connect(alice)
	defer ac.Close()
	people, err := ac.Corestore().Get(ctx, datomspace.CoreOptions{Name: "people"})
	if err != nil {
		log.Fatal(err)
	}
	tx, err := people.Transact(ctx, []map[string]any{
		{"db/id": "person/ana", "person/name": "Ana", "person/city": "Lisbon"},
		{"db/id": "person/bo", "person/name": "Bo", "person/city": "Oslo"},
		{"db/id": "person/cy", "person/name": "Cy", "person/city": "Lisbon"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice: tx", tx.Tx, "with", len(tx.Datoms), "datoms")

	bob := serve("bob", alice.Addrs())
	defer bob.Close()
	bc := connect(bob)
	defer bc.Close()
	core, err := bc.Corestore().Get(ctx, datomspace.CoreOptions{Key: people.Key()})
	if err != nil {
		log.Fatal(err)
	}
	if err := core.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	res, err := core.Query(ctx, `{"find": ["?name"], "where": [["?p", "person/city", "Lisbon"], ["?p", "person/name", "?name"]]}`)
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range res.Rows {
		fmt.Println("bob:", string(row.Values[0]))
	}
	ana, err := core.Pull(ctx, "person/ana")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob: ana lives in", string(ana.Attrs["person/city"][0]))
	// Output:
	// alice: tx 0 with 6 datoms
	// bob: "Ana"
	// bob: "Cy"
	// bob: ana lives in "Lisbon"
}

// Appends yields a core's length as its owner appends, here on the owner's own session.
func ExampleCore_Appends() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "datomspace-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := datomspace.NewServer(datomspace.ServerOptions{Storage: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	c, err := datomspace.NewClient(datomspace.ClientOptions{Host: s.Host()}) // the repo's socket
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	feed, err := c.Corestore().Get(ctx, datomspace.CoreOptions{Name: "feed", ValueEncoding: "utf-8"})
	if err != nil {
		log.Fatal(err)
	}
	words := []string{"one", "two", "three"}
	appends := feed.Appends(ctx) // from the length the session knows: 0
	if _, err := feed.Append(ctx, words[0]); err != nil {
		log.Fatal(err)
	}
	for length, err := range appends {
		if err != nil {
			log.Fatal(err)
		}
		var last string
		if err := feed.Get(ctx, length-1, &last); err != nil {
			log.Fatal(err)
		}
		fmt.Println("length", length, "last", last)
		if int(length) == len(words) {
			break
		}
		if _, err := feed.Append(ctx, words[length]); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// length 1 last one
	// length 2 last two
	// length 3 last three
}
