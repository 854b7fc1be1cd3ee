package dwncore

import (
	"errors"
	"fmt"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// ErrEntry is returned for a core block that is not a DWN journal entry.
var ErrEntry = errors.New("invalid DWN journal entry")

// Entry is one block of a tenant core: a message the node accepted, as strict DAG-CBOR
//
//	{"d": inline data (bytes, optional), "i": ingested (bool), "m": message (map), "s": came with data (bool), "v": 1}
type Entry struct {
	Message *jsv.Object
	// Data is the record data when it is kept inline (30,000 bytes or less), whether it came with
	// the message or was carried over from the previous write.
	Data []byte
	// WithData: the message came with a data stream (an initial write without one is stored as
	// not yet the record's state).
	WithData bool
	// Ingested: the message came from another node's core.
	Ingested bool
}

// MaxEntrySize bounds a journal entry (a message with inline data is far smaller).
const MaxEntrySize = 4 << 20

// EncodeEntry encodes e.
func EncodeEntry(e Entry) ([]byte, error) {
	o := jsv.NewObject()
	o.Set("v", float64(1))
	o.Set("m", e.Message)
	if e.Data != nil {
		o.Set("d", e.Data)
	}
	o.Set("s", e.WithData)
	o.Set("i", e.Ingested)
	b, err := jsv.EncodeCBOR(o)
	if err != nil {
		return nil, fmt.Errorf("encode journal entry: %w", err)
	}
	return b, nil
}

// DecodeEntry decodes a block, which may come from another node and is checked strictly.
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrEntry, len(b))
	}
	v, err := jsv.DecodeCBOR(b)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrEntry, err)
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		return Entry{}, fmt.Errorf("%w: not a map", ErrEntry)
	}
	for _, k := range o.Keys() {
		switch k {
		case "v", "m", "d", "s", "i":
		default:
			return Entry{}, fmt.Errorf("%w: unknown field %q", ErrEntry, k)
		}
	}
	if ver, _ := o.Get("v"); ver != float64(1) {
		return Entry{}, fmt.Errorf("%w: version %v", ErrEntry, ver)
	}
	var e Entry
	mv, _ := o.Get("m")
	if e.Message, ok = mv.(*jsv.Object); !ok {
		return Entry{}, fmt.Errorf("%w: message is not a map", ErrEntry)
	}
	if dv, has := o.Get("d"); has {
		if e.Data, ok = dv.([]byte); !ok {
			return Entry{}, fmt.Errorf("%w: data is not bytes", ErrEntry)
		}
	}
	sv, _ := o.Get("s")
	iv, _ := o.Get("i")
	if e.WithData, ok = sv.(bool); !ok {
		return Entry{}, fmt.Errorf("%w: s is not a bool", ErrEntry)
	}
	if e.Ingested, ok = iv.(bool); !ok {
		return Entry{}, fmt.Errorf("%w: i is not a bool", ErrEntry)
	}
	return e, nil
}
