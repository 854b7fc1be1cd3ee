package dwn

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Accessors for message fields. Messages are jsv values; after schema validation the fields a
// schema types have those types, and these helpers only look.

func getObj(o *jsv.Object, key string) *jsv.Object {
	v, _ := o.Get(key)
	x, _ := v.(*jsv.Object)
	return x
}

func getStr(o *jsv.Object, key string) (string, bool) {
	v, _ := o.Get(key)
	s, ok := v.(string)
	return s, ok
}

func strOr(o *jsv.Object, key string) string {
	s, _ := getStr(o, key)
	return s
}

func getNum(o *jsv.Object, key string) (float64, bool) {
	v, _ := o.Get(key)
	f, ok := v.(float64)
	return f, ok
}

func getBool(o *jsv.Object, key string) (bool, bool) {
	v, _ := o.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// isTrue is `x === true`.
func isTrue(o *jsv.Object, key string) bool {
	b, ok := getBool(o, key)
	return ok && b
}

func getArr(o *jsv.Object, key string) []any {
	v, _ := o.Get(key)
	a, _ := v.([]any)
	return a
}

var errBase64 = errors.New("Non-base64url character")

// decodeBase64URL decodes as multiformats' base64url.baseDecode: trailing '=' are dropped, the
// rest must be base64url without leftover bits.
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) && int(ce) < len(s) && strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[int(ce)]) < 0 {
			return nil, jsError("Non-base64url character")
		}
		return nil, jsError("Unexpected end of data")
	}
	return b, nil
}

func encodeBase64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// base64URLToObject is Encoder.base64UrlToObject: base64url, then UTF-8 with replacement, then
// JSON.parse.
func base64URLToObject(s string) (any, error) {
	b, err := decodeBase64URL(s)
	if err != nil {
		return nil, err
	}
	v, err := jsv.Parse(b)
	if err != nil {
		return nil, jsError(err.Error())
	}
	return v, nil
}

// lastPathSegment returns the text after the last '/' of a protocol path.
func lastPathSegment(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
