// Package dwntest helps test DWN code: it signs messages as dwn-sdk-js would (Ed25519 did:key
// personas, a fixed clock), and it holds the conformance suites every store implementation runs
// (TestMessageStore, TestEventLog, TestDataStore, TestNode).
package dwntest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// Persona is an Ed25519 did:key identity.
type Persona struct {
	DID   string
	KeyID string
	Key   ed25519.PrivateKey
}

// NewPersona derives a persona from a one-byte seed (the seed repeated 32 times), as
// dwn/anchor/gen.mjs does.
func NewPersona(seed byte) *Persona {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	did := dwn.DIDKeyFromEd25519(priv.Public().(ed25519.PublicKey))
	return &Persona{DID: did, KeyID: did + "#" + strings.TrimPrefix(did, "did:key:"), Key: priv}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Signer is the persona as a dwn.Signer.
func (p *Persona) Signer() *dwn.Signer { return &dwn.Signer{DID: p.DID, KeyID: p.KeyID, Key: p.Key} }

// Sign returns a General JWS over the JSON of payload, with the protected header {kid, alg}.
func (p *Persona) Sign(payload *jsv.Object) *jsv.Object { return p.Signer().JWS(payload) }

// Clock hands out increasing timestamps in dwn-sdk-js's format (microseconds, Z).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC()} }

// Next returns the next timestamp, one millisecond after the previous.
func (c *Clock) Next() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return Timestamp(c.t)
}

// Timestamp formats t as dwn-sdk-js does.
func Timestamp(t time.Time) string { return dwn.Timestamp(t) }

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// obj builds an object from alternating keys and values, skipping nil values.
func obj(kv ...any) *jsv.Object {
	o := jsv.NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			continue
		}
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// authorize signs a descriptor with the generic payload {descriptorCid, ...extra}.
func (p *Persona) authorize(desc *jsv.Object, extra ...any) *jsv.Object {
	pl := obj(append([]any{"descriptorCid", must(dwn.ComputeCID(desc))}, extra...)...)
	return obj("signature", p.Sign(pl))
}

// Write describes a RecordsWrite.
type Write struct {
	Data          []byte
	DataFormat    string // default application/json
	Schema        string
	Protocol      string
	ProtocolPath  string
	ParentContext string // contextId of the parent record
	Recipient     string
	Tags          *jsv.Object
	Published     bool
	Timestamp     string // messageTimestamp; default from the clock
	DateCreated   string // default Timestamp
	ProtocolRole  string
	// Of makes this an update of the given initial write: recordId, dateCreated and the immutable
	// properties are taken from it.
	Of *jsv.Object
}

// RecordsWrite builds a signed RecordsWrite.
func (p *Persona) RecordsWrite(c *Clock, w Write) *jsv.Object {
	ts := w.Timestamp
	if ts == "" {
		ts = c.Next()
	}
	created := w.DateCreated
	if created == "" {
		created = ts
	}
	format := w.DataFormat
	if format == "" {
		format = "application/json"
	}
	var recordID, contextID any
	if w.Of != nil {
		d, _ := w.Of.Get("descriptor")
		od := d.(*jsv.Object)
		created = str(od, "dateCreated")
		w.Schema, w.Protocol, w.ProtocolPath, w.Recipient = str(od, "schema"), str(od, "protocol"), str(od, "protocolPath"), str(od, "recipient")
		recordID, _ = w.Of.Get("recordId")
		contextID, _ = w.Of.Get("contextId")
	}
	dataCID, size, err := dwn.DataCID(bytes.NewReader(w.Data))
	if err != nil {
		panic(err)
	}
	var parentID any
	if w.ParentContext != "" {
		parts := strings.Split(w.ParentContext, "/")
		parentID = parts[len(parts)-1]
	}
	if w.Of != nil {
		d, _ := w.Of.Get("descriptor")
		parentID, _ = d.(*jsv.Object).Get("parentId")
	}
	desc := obj("interface", "Records", "method", "Write",
		"protocol", nz(w.Protocol), "protocolPath", nz(w.ProtocolPath), "recipient", nz(w.Recipient),
		"schema", nz(w.Schema), "tags", nilIfNil(w.Tags), "parentId", parentID,
		"dataCid", dataCID, "dataSize", float64(size), "dateCreated", created, "messageTimestamp", ts)
	if w.Published {
		desc.Set("published", true)
		desc.Set("datePublished", ts)
	}
	desc.Set("dataFormat", format)
	if recordID == nil {
		in := desc.Clone()
		in.Set("author", p.DID)
		recordID = must(dwn.ComputeCID(in))
		if w.Protocol != "" {
			if w.ParentContext != "" {
				contextID = w.ParentContext + "/" + recordID.(string)
			} else {
				contextID = recordID
			}
		}
	}
	pl := obj("recordId", recordID, "descriptorCid", must(dwn.ComputeCID(desc)), "contextId", contextID, "protocolRole", nz(w.ProtocolRole))
	m := obj("recordId", recordID, "contextId", contextID, "descriptor", desc)
	m.Set("authorization", obj("signature", p.Sign(pl)))
	return m
}

func str(o *jsv.Object, k string) string {
	v, _ := o.Get(k)
	s, _ := v.(string)
	return s
}

func nz(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfNil(o *jsv.Object) any {
	if o == nil {
		return nil
	}
	return o
}

// RecordsQuery builds a RecordsQuery; a nil persona leaves it unsigned.
func (p *Persona) RecordsQuery(c *Clock, filter *jsv.Object, extra ...any) *jsv.Object {
	desc := obj(append([]any{"interface", "Records", "method", "Query", "messageTimestamp", c.Next(), "filter", filter}, extra...)...)
	return signed(p, desc)
}

// RecordsRead builds a RecordsRead of a record; a nil persona leaves it unsigned.
func (p *Persona) RecordsRead(c *Clock, recordID string) *jsv.Object {
	desc := obj("interface", "Records", "method", "Read", "filter", obj("recordId", recordID), "messageTimestamp", c.Next())
	return signed(p, desc)
}

// RecordsSubscribe builds a RecordsSubscribe; a nil persona leaves it unsigned.
func (p *Persona) RecordsSubscribe(c *Clock, filter *jsv.Object) *jsv.Object {
	desc := obj("interface", "Records", "method", "Subscribe", "messageTimestamp", c.Next(), "filter", filter)
	return signed(p, desc)
}

// RecordsDelete builds a signed RecordsDelete.
func (p *Persona) RecordsDelete(c *Clock, recordID string, prune bool) *jsv.Object {
	desc := obj("interface", "Records", "method", "Delete", "messageTimestamp", c.Next(), "recordId", recordID, "prune", prune)
	return signed(p, desc)
}

// ProtocolsConfigure builds a signed ProtocolsConfigure of definition (JSON).
func (p *Persona) ProtocolsConfigure(c *Clock, definition string) *jsv.Object {
	def, err := jsv.Parse([]byte(definition))
	if err != nil {
		panic(fmt.Sprintf("definition: %v", err))
	}
	desc := obj("interface", "Protocols", "method", "Configure", "messageTimestamp", c.Next(), "definition", def)
	return signed(p, desc)
}

// MessagesQuery builds a signed MessagesQuery.
func (p *Persona) MessagesQuery(c *Clock, filters []any, cursor *jsv.Object) *jsv.Object {
	desc := obj("interface", "Messages", "method", "Query", "filters", filters, "messageTimestamp", c.Next(), "cursor", nilIfNil(cursor))
	return signed(p, desc)
}

// MessagesSubscribe builds a signed MessagesSubscribe.
func (p *Persona) MessagesSubscribe(c *Clock, filters []any) *jsv.Object {
	desc := obj("interface", "Messages", "method", "Subscribe", "filters", filters, "messageTimestamp", c.Next())
	return signed(p, desc)
}

func signed(p *Persona, desc *jsv.Object) *jsv.Object {
	m := obj("descriptor", desc)
	if p != nil {
		m.Set("authorization", p.authorize(desc))
	}
	return m
}

// Obj builds a *jsv.Object from alternating keys and values (nil values are left out).
func Obj(kv ...any) *jsv.Object { return obj(kv...) }
