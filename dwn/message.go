package dwn

import (
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Interface and method names.
const (
	InterfaceRecords   = "Records"
	InterfaceProtocols = "Protocols"
	InterfaceMessages  = "Messages"

	MethodWrite     = "Write"
	MethodRead      = "Read"
	MethodQuery     = "Query"
	MethodSubscribe = "Subscribe"
	MethodDelete    = "Delete"
	MethodConfigure = "Configure"
)

// MaxDataSizeAllowedToBeEncoded is dwn-sdk-js's threshold: record data up to this size is kept
// inline with the message (as encodedData); larger data goes to the DataStore.
const MaxDataSizeAllowedToBeEncoded = 30_000

// msg is a parsed generic message (dwn-sdk-js's AbstractMessage).
type msg struct {
	raw       *jsv.Object
	desc      *jsv.Object
	auth      *jsv.Object // nil without authorization
	signer    string
	author    string
	payload   *jsv.Object // signature payload, nil without authorization
	hasAuthor bool
}

func (m *msg) iface() string     { return strOr(m.desc, "interface") }
func (m *msg) method() string    { return strOr(m.desc, "method") }
func (m *msg) timestamp() string { return strOr(m.desc, "messageTimestamp") }

// newMsg is AbstractMessage's constructor.
func newMsg(raw *jsv.Object) (*msg, error) {
	m := &msg{raw: raw, desc: getObj(raw, "descriptor"), auth: getObj(raw, "authorization")}
	if m.auth == nil {
		return m, nil
	}
	var err error
	if m.signer, err = signerOf(raw); err != nil {
		return nil, err
	}
	if g := getObj(m.auth, "authorDelegatedGrant"); g != nil {
		if m.author, err = signerOf(g); err != nil {
			return nil, err
		}
	} else {
		m.author = m.signer
	}
	m.hasAuthor = true
	if m.payload, err = decodePlainObjectPayload(getObj(m.auth, "signature")); err != nil {
		return nil, err
	}
	return m, nil
}

// payloadStr returns a string property of the signature payload.
func (m *msg) payloadStr(k string) (string, bool) {
	if m.payload == nil {
		return "", false
	}
	return getStr(m.payload, k)
}

// authorOf is Message.getAuthor.
func authorOf(raw *jsv.Object) (string, error) {
	auth := getObj(raw, "authorization")
	if auth == nil {
		return "", nil
	}
	if g := getObj(auth, "authorDelegatedGrant"); g != nil {
		return signerOf(g)
	}
	return signerOf(raw)
}

// compareMessages is Message.compareMessageTimestamp: by messageTimestamp, then by message CID.
func compareMessages(a, b *jsv.Object) (int, error) {
	ta := strOr(getObj(a, "descriptor"), "messageTimestamp")
	tb := strOr(getObj(b, "descriptor"), "messageTimestamp")
	if c := jsv.CompareStrings(ta, tb); c != 0 {
		return c, nil
	}
	ca, err := MessageCID(a)
	if err != nil {
		return 0, err
	}
	cb, err := MessageCID(b)
	if err != nil {
		return 0, err
	}
	return jsv.CompareStrings(ca, cb), nil
}

func isNewer(a, b *jsv.Object) (bool, error) {
	c, err := compareMessages(a, b)
	return c > 0, err
}

func isOlder(a, b *jsv.Object) (bool, error) {
	c, err := compareMessages(a, b)
	return c < 0, err
}

// newestMessage is Message.getNewestMessage.
func newestMessage(ms []*jsv.Object) (*jsv.Object, error) {
	var cur *jsv.Object
	for _, m := range ms {
		if cur == nil {
			cur = m
			continue
		}
		n, err := isNewer(m, cur)
		if err != nil {
			return nil, err
		}
		if n {
			cur = m
		}
	}
	return cur, nil
}

// oldestMessage is Message.getOldestMessage.
func oldestMessage(ms []*jsv.Object) (*jsv.Object, error) {
	var cur *jsv.Object
	for _, m := range ms {
		if cur == nil {
			cur = m
			continue
		}
		o, err := isOlder(m, cur)
		if err != nil {
			return nil, err
		}
		if o {
			cur = m
		}
	}
	return cur, nil
}

func isRecordsWrite(m *jsv.Object) bool {
	d := getObj(m, "descriptor")
	return strOr(d, "interface") == InterfaceRecords && strOr(d, "method") == MethodWrite
}

// jsString is JavaScript's String(v) for values in template literals; absent is "undefined".
func jsString(v any, present bool) string {
	if !present {
		return "undefined"
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return jsv.NumberString(x)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if e != nil {
				parts[i] = jsString(e, true)
			}
		}
		return strings.Join(parts, ",")
	case *jsv.Object:
		return "[object Object]"
	}
	return fmt.Sprint(v)
}

func jsStr(o *jsv.Object, k string) string {
	v, ok := o.Get(k)
	return jsString(v, ok)
}
