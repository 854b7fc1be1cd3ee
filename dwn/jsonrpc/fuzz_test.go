package jsonrpc

import "testing"

// FuzzParseRequest: any request text parses or fails with a syntax error or a JSON-RPC error,
// never a panic; a parsed request has a method.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"dwn.processMessage","params":{"target":"did:key:z","message":{"descriptor":{}}}}`,
		`{"jsonrpc":"2.0","id":"x","method":"rpc.subscribe.close","subscription":{"id":1}}`,
		`{"method":5}`, `[]`, `{"id":{},"method":"m"}`, `{"method":"m","params":[1]}`, `nope`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if r == nil {
			t.Fatal("nil request without error")
		}
		responseID(r)
	})
}
