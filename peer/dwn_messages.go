package peer

import (
	"fmt"
	"strings"
	"time"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// Messages the CLI builds and signs in its own process, where the key is, as dwn-sdk-js's
// RecordsQuery.create, RecordsWrite.create, RecordsRead.create and RecordsDelete.create build
// them: the descriptor, its CID in DAG-CBOR, and a General JWS by the signer over the signature
// payload. A nil signer leaves a query or read unsigned (anonymous: published records only).

// DWNFilter selects records (a RecordsFilter); empty fields are left out.
type DWNFilter struct {
	Schema       string
	Protocol     string
	ProtocolPath string
	RecordID     string
	ContextID    string
	ParentID     string
	Recipient    string
	Author       string
	DataFormat   string
	DataCID      string
	// Published, when set, selects published (true) or unpublished (false) records.
	Published *bool
}

// object returns the filter as a RecordsFilter, with protocol and schema normalized as
// dwn-sdk-js normalizes them.
func (f DWNFilter) object() (*jsv.Object, error) {
	o := jsv.NewObject()
	set := func(k, v string) {
		if v != "" {
			o.Set(k, v)
		}
	}
	for _, u := range []struct {
		k string
		v *string
	}{{"protocol", &f.Protocol}, {"schema", &f.Schema}} {
		if *u.v == "" {
			continue
		}
		n, err := dwn.NormalizeURL(*u.v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q is not a URI", ErrBadRequest, u.k, *u.v)
		}
		*u.v = n
	}
	set("protocol", f.Protocol)
	set("protocolPath", f.ProtocolPath)
	set("author", f.Author)
	set("recipient", f.Recipient)
	set("contextId", f.ContextID)
	set("schema", f.Schema)
	set("recordId", f.RecordID)
	set("parentId", f.ParentID)
	if f.Published != nil {
		o.Set("published", *f.Published)
	}
	set("dataFormat", f.DataFormat)
	set("dataCid", f.DataCID)
	if o.Len() == 0 {
		return nil, fmt.Errorf("%w: a records query needs at least one filter (schema, protocol, record id, ...)", ErrBadRequest)
	}
	return o, nil
}

// DWNQueryOptions are a RecordsQuery's sort and page.
type DWNQueryOptions struct {
	// DateSort is createdAscending, createdDescending, publishedAscending or publishedDescending
	// ("" for the node's default, createdAscending).
	DateSort string
	// Limit bounds the entries of one reply (0: no limit).
	Limit int
	// Cursor continues a query: the cursor of the previous page's reply (JSON).
	Cursor string
}

// BuildRecordsQuery builds a RecordsQuery of the records f selects, signed by s (nil: none).
func BuildRecordsQuery(f DWNFilter, o DWNQueryOptions, s *dwn.Signer, now time.Time) (*jsv.Object, error) {
	filter, err := f.object()
	if err != nil {
		return nil, err
	}
	desc := jsv.NewObject()
	desc.Set("interface", dwn.InterfaceRecords)
	desc.Set("method", "Query")
	desc.Set("messageTimestamp", dwn.Timestamp(now))
	desc.Set("filter", filter)
	switch o.DateSort {
	case "":
	case "createdAscending", "createdDescending", "publishedAscending", "publishedDescending":
		desc.Set("dateSort", o.DateSort)
	default:
		return nil, fmt.Errorf("%w: date sort %q (createdAscending, createdDescending, publishedAscending or publishedDescending)", ErrBadRequest, o.DateSort)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("%w: a negative limit", ErrBadRequest)
	}
	if o.Limit > 0 || o.Cursor != "" {
		page := jsv.NewObject()
		if o.Limit > 0 {
			page.Set("limit", float64(o.Limit))
		}
		if o.Cursor != "" {
			c, err := jsv.Parse([]byte(o.Cursor))
			if err != nil {
				return nil, fmt.Errorf("%w: the cursor is not the JSON a reply gave: %v", ErrBadRequest, err)
			}
			page.Set("cursor", c)
		}
		desc.Set("pagination", page)
	}
	return dwn.SignMessage(s, desc)
}

// BuildRecordsRead builds a RecordsRead of the record recordID, signed by s (nil: none).
func BuildRecordsRead(recordID string, s *dwn.Signer, now time.Time) (*jsv.Object, error) {
	if recordID == "" {
		return nil, fmt.Errorf("%w: no record id", ErrBadRequest)
	}
	f := jsv.NewObject()
	f.Set("recordId", recordID)
	desc := jsv.NewObject()
	desc.Set("interface", dwn.InterfaceRecords)
	desc.Set("method", "Read")
	desc.Set("filter", f)
	desc.Set("messageTimestamp", dwn.Timestamp(now))
	return dwn.SignMessage(s, desc)
}

// BuildRecordsDelete builds a RecordsDelete of the record recordID, signed by s; prune deletes
// its descendants too.
func BuildRecordsDelete(recordID string, prune bool, s *dwn.Signer, now time.Time) (*jsv.Object, error) {
	if recordID == "" {
		return nil, fmt.Errorf("%w: no record id", ErrBadRequest)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: a delete must be signed", ErrBadRequest)
	}
	desc := jsv.NewObject()
	desc.Set("interface", dwn.InterfaceRecords)
	desc.Set("method", "Delete")
	desc.Set("messageTimestamp", dwn.Timestamp(now))
	desc.Set("recordId", recordID)
	desc.Set("prune", prune)
	return dwn.SignMessage(s, desc)
}

// DWNWrite describes a new record.
type DWNWrite struct {
	// DataCID and DataSize are the data's (dwn.DataCID).
	DataCID  string
	DataSize int64
	// DataFormat is the data's media type (default application/json).
	DataFormat string
	Schema     string
	// Protocol and ProtocolPath place the record in a protocol; ParentContextID is the parent
	// record's contextId for a child record.
	Protocol        string
	ProtocolPath    string
	ParentContextID string
	Recipient       string
	Published       bool
}

// BuildRecordsWrite builds the initial RecordsWrite of a new record, signed by s.
func BuildRecordsWrite(w DWNWrite, s *dwn.Signer, now time.Time) (*jsv.Object, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: a write must be signed", ErrBadRequest)
	}
	if w.DataCID == "" || w.DataSize < 0 {
		return nil, fmt.Errorf("%w: a write needs its data's CID and size", ErrBadRequest)
	}
	for _, u := range []*string{&w.Protocol, &w.Schema} {
		if *u == "" {
			continue
		}
		n, err := dwn.NormalizeURL(*u)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a URI", ErrBadRequest, *u)
		}
		*u = n
	}
	if (w.Protocol == "") != (w.ProtocolPath == "") {
		return nil, fmt.Errorf("%w: a protocol record needs both a protocol and a protocol path", ErrBadRequest)
	}
	if w.ParentContextID != "" && w.Protocol == "" {
		return nil, fmt.Errorf("%w: only a protocol record has a parent", ErrBadRequest)
	}
	format := w.DataFormat
	if format == "" {
		format = "application/json"
	}
	ts := dwn.Timestamp(now)
	desc := jsv.NewObject()
	desc.Set("interface", dwn.InterfaceRecords)
	desc.Set("method", dwn.MethodWrite)
	set := func(k, v string) {
		if v != "" {
			desc.Set(k, v)
		}
	}
	set("protocol", w.Protocol)
	set("protocolPath", w.ProtocolPath)
	set("recipient", w.Recipient)
	set("schema", w.Schema)
	if w.ParentContextID != "" {
		desc.Set("parentId", w.ParentContextID[strings.LastIndexByte(w.ParentContextID, '/')+1:])
	}
	desc.Set("dataCid", w.DataCID)
	desc.Set("dataSize", float64(w.DataSize))
	desc.Set("dateCreated", ts)
	desc.Set("messageTimestamp", ts)
	if w.Published {
		desc.Set("published", true)
		desc.Set("datePublished", ts)
	}
	desc.Set("dataFormat", format)
	entry := desc.Clone()
	entry.Set("author", s.DID)
	recordID, err := dwn.ComputeCID(entry)
	if err != nil {
		return nil, err
	}
	descCID, err := dwn.ComputeCID(desc)
	if err != nil {
		return nil, err
	}
	var contextID string
	if w.Protocol != "" {
		contextID = recordID
		if w.ParentContextID != "" {
			contextID = w.ParentContextID + "/" + recordID
		}
	}
	payload := jsv.NewObject()
	payload.Set("recordId", recordID)
	payload.Set("descriptorCid", descCID)
	if contextID != "" {
		payload.Set("contextId", contextID)
	}
	m := jsv.NewObject()
	m.Set("recordId", recordID)
	if contextID != "" {
		m.Set("contextId", contextID)
	}
	m.Set("descriptor", desc)
	auth := jsv.NewObject()
	auth.Set("signature", s.JWS(payload))
	m.Set("authorization", auth)
	return m, nil
}
