package jsonrpc_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
)

func rawPost(t *testing.T, url string, header string, body []byte) (int, *jsv.Object) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if header != "" {
		req.Header.Set("dwn-request", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, err := jsv.Parse(b)
	if err != nil {
		t.Fatalf("HTTP %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, v.(*jsv.Object)
}

func rpc(method string, params any) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "r1", "method": method, "params": params})
	return string(b)
}

// TestMalformedRequests checks the HTTP statuses and JSON-RPC error codes of requests that are not
// well-formed, and that none of them stores anything.
func TestMalformedRequests(t *testing.T) {
	node, st := newMemNode(t)
	hs, _ := newServer(t, node, jsonrpc.WithMaxMessageSize(4096), jsonrpc.WithMaxDataSize(100_000))
	steps, _ := dwntest.Vectors(t)
	write := steps[3] // records-write-by-tenant
	big := strings.Repeat("x", 5000)
	cases := []struct {
		name, header string
		body         []byte
		status, code int
		msg          string
	}{
		{"no header, no body", "", nil, 400, jsonrpc.CodeBadRequest, "request payload required."},
		{"header not JSON", "{nope", nil, 400, jsonrpc.CodeBadRequest, "Expected property name or '}' in JSON at position 1"},
		{"body not JSON", "", []byte("[1,"), 400, jsonrpc.CodeBadRequest, "Unexpected end of JSON input"},
		{"not an object", "5", nil, 400, jsonrpc.CodeInvalidRequest, "request must be a JSON object"},
		{"no method", `{"jsonrpc":"2.0","id":1}`, nil, 400, jsonrpc.CodeInvalidRequest, "method must be a string"},
		{"unknown method", rpc("dwn.nope", map[string]any{}), nil, 500, jsonrpc.CodeMethodNotFound, "method dwn.nope not found"},
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"dwn.processMessage"}`, nil, 500, jsonrpc.CodeInvalidParams, "params must hold target and message"},
		{"no target", rpc("dwn.processMessage", map[string]any{"message": map[string]any{}}), nil, 500, jsonrpc.CodeInvalidParams, "params.target must be a string"},
		{"no message", rpc("dwn.processMessage", map[string]any{"target": write.Tenant}), nil, 500, jsonrpc.CodeInternalError, "Cannot read properties of undefined (reading 'descriptor')"},
		{"message without descriptor", rpc("dwn.processMessage", map[string]any{"target": write.Tenant, "message": map[string]any{}}), nil, 500, jsonrpc.CodeInternalError, "Cannot read properties of undefined (reading 'interface')"},
		{"subscribe over HTTP", rpc("dwn.processMessage", map[string]any{"target": write.Tenant, "message": map[string]any{"descriptor": map[string]any{"interface": "Records", "method": "Subscribe"}}}), nil, 500, jsonrpc.CodeInvalidRequest, "subscribe methods must contain a subscriptionRequest context"},
		{"header too large", rpc("dwn.processMessage", map[string]any{"target": big}), nil, 413, jsonrpc.CodeBadRequest, "request too large"},
		{"body too large", "", []byte(rpc("dwn.processMessage", map[string]any{"target": "x", "message": map[string]any{}, "encodedData": strings.Repeat("A", 200_000)})), 413, jsonrpc.CodeBadRequest, "request too large"},
		{"encodedData not base64url", "", []byte(rpc("dwn.processMessage", map[string]any{"target": "x", "message": map[string]any{}, "encodedData": "!!"})), 500, jsonrpc.CodeInvalidParams, "params.encodedData must be base64url"},
		{"data too large", rpc("dwn.processMessage", map[string]any{"target": write.Tenant, "message": json.RawMessage(write.Message)}), bytes.Repeat([]byte("a"), 100_001), 413, jsonrpc.CodeBadRequest, "request too large"},
	}
	keys, blocks := st.Backend.Len(), st.Data.Blocks()
	for _, c := range cases {
		status, resp := rawPost(t, hs.URL, c.header, c.body)
		code, _ := at(resp, "error", "code").(float64)
		msg, _ := at(resp, "error", "message").(string)
		if status != c.status || int(code) != c.code || msg != c.msg {
			t.Errorf("%s: HTTP %d %v %q, want %d %d %q", c.name, status, code, msg, c.status, c.code, c.msg)
		}
		if at(resp, "jsonrpc") != "2.0" || at(resp, "id") == nil {
			t.Errorf("%s: envelope %s", c.name, jsv.Stringify(resp))
		}
	}
	if st.Backend.Len() != keys || st.Data.Blocks() != blocks {
		t.Errorf("malformed requests stored something: %d keys (was %d), %d blocks (was %d)", st.Backend.Len(), keys, st.Data.Blocks(), blocks)
	}
}

// TestBadMessagesStoreNothing sends messages dwn-sdk-js refuses (schema failure, descriptor CID
// mismatch, bad signature, data CID mismatch, large data with a wrong CID) and checks the status
// and that neither the message store nor the data store changed.
func TestBadMessagesStoreNothing(t *testing.T) {
	node, st := newMemNode(t)
	hs, _ := newServer(t, node)
	steps, _ := dwntest.Vectors(t)
	byName := map[string]dwntest.VectorStep{}
	for _, s := range steps {
		byName[s.Step] = s
	}
	keys, blocks := st.Backend.Len(), st.Data.Blocks()
	for _, name := range []string{"missing-authorization", "tampered-descriptor", "bad-signature", "data-cid-mismatch", "bad-timestamp-format", "records-write-by-stranger"} {
		s := byName[name]
		var data []byte
		if s.Data != nil {
			data, _ = base64.RawURLEncoding.DecodeString(*s.Data)
		}
		resp, _, hr := post(t, hs.URL, s.Tenant, s.Message, data, false)
		code, _ := at(resp, "result", "reply", "status", "code").(float64)
		if hr.StatusCode != 200 || int(code) != s.Expect.Code {
			t.Errorf("%s: HTTP %d code %v, want %d", name, hr.StatusCode, code, s.Expect.Code)
		}
	}
	// a large-data write whose data is not the dataCid's
	big := bytes.Repeat([]byte("z"), 300_000)
	alice, clock := personaAndClock()
	m := alice.RecordsWrite(clock, writeOf(big))
	other := bytes.Repeat([]byte("y"), 300_000)
	resp, _, _ := post(t, hs.URL, alice.DID, json.RawMessage(jsv.Stringify(m)), other, false)
	if code, _ := at(resp, "result", "reply", "status", "code").(float64); code != 400 {
		t.Errorf("large data CID mismatch: %v", jsv.Stringify(resp))
	}
	if st.Backend.Len() != keys || st.Data.Blocks() != blocks {
		t.Errorf("refused messages stored something: %d keys (was %d), %d blocks (was %d)", st.Backend.Len(), keys, st.Data.Blocks(), blocks)
	}
	// and the same write with its data is stored
	resp, _, _ = post(t, hs.URL, alice.DID, json.RawMessage(jsv.Stringify(m)), big, false)
	if code, _ := at(resp, "result", "reply", "status", "code").(float64); code != 202 {
		t.Fatalf("large data write: %v", jsv.Stringify(resp))
	}
	if st.Data.Blocks() == blocks {
		t.Error("large data was not stored")
	}
}
