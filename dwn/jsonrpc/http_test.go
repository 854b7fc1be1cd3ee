package jsonrpc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/dwn/memstore"
)

// newServer starts a JSON-RPC server on 127.0.0.1 in front of node.
func newServer(t testing.TB, node *dwn.Node, opts ...jsonrpc.Option) (*httptest.Server, *jsonrpc.Server) {
	t.Helper()
	s, err := jsonrpc.New(node, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return hs, s
}

func newMemNode(t testing.TB) (*dwn.Node, *memstore.Stores) {
	t.Helper()
	st := memstore.New()
	n, err := dwn.New(st.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, st
}

// post sends a JSON-RPC request: in the dwn-request header with the data as the body, or (with
// bodyMode) as the body with the data as params.encodedData.
func post(t testing.TB, url, target string, message json.RawMessage, data []byte, bodyMode bool) (*jsv.Object, []byte, *http.Response) {
	t.Helper()
	params := map[string]any{"target": target, "message": message}
	if bodyMode && data != nil {
		params["encodedData"] = base64.RawURLEncoding.EncodeToString(data)
	}
	rb, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "dwn.processMessage", "params": params})
	var req *http.Request
	if bodyMode {
		req, _ = http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(rb))
		req.Header.Set("Content-Type", "application/json")
	} else {
		var body io.Reader
		if data != nil {
			body = bytes.NewReader(data)
		}
		req, _ = http.NewRequest(http.MethodPost, url+"/", body)
		req.Header.Set("dwn-request", string(rb))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := body
	var out []byte
	if h := resp.Header.Get("dwn-response"); h != "" {
		text, out = []byte(h), body
	}
	v, err := jsv.Parse(text)
	if err != nil {
		t.Fatalf("response %q: %v", text, err)
	}
	return v.(*jsv.Object), out, resp
}

func at(v any, path ...string) any {
	for _, p := range path {
		o, _ := v.(*jsv.Object)
		v, _ = o.Get(p)
	}
	return v
}

// TestHTTPVectors replays the 32 dwn-sdk-js steps over real HTTP against a fresh node, half of
// them dwn-server's way (request in the dwn-request header, data as the body) and half as a
// JSON-RPC body with encodedData.
func TestHTTPVectors(t *testing.T) {
	steps, refs := dwntest.Vectors(t)
	node, _ := newMemNode(t)
	hs, _ := newServer(t, node)
	for i, st := range steps {
		var data []byte
		if st.Data != nil {
			data, _ = base64.RawURLEncoding.DecodeString(*st.Data)
		}
		resp, out, hr := post(t, hs.URL, st.Tenant, st.Message, data, i%2 == 1)
		if hr.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d", st.Step, hr.StatusCode)
		}
		if at(resp, "jsonrpc") != "2.0" || at(resp, "id") != float64(7) {
			t.Errorf("%s: response envelope %s", st.Step, jsv.Stringify(resp))
		}
		reply := at(resp, "result", "reply")
		code, _ := at(reply, "status", "code").(float64)
		detail, _ := at(reply, "status", "detail").(string)
		if int(code) != st.Expect.Code || detail != refs[i].Detail {
			t.Errorf("%s: %v %q, want %d %q", st.Step, code, detail, st.Expect.Code, refs[i].Detail)
		}
		entries, _ := at(reply, "entries").([]any)
		if st.Expect.Entries != nil && len(entries) != *st.Expect.Entries {
			t.Errorf("%s: %d entries, want %d", st.Step, len(entries), *st.Expect.Entries)
		}
		if st.Expect.RecordIDs != nil {
			got := map[string]bool{}
			for _, e := range entries {
				id, _ := at(e, "recordId").(string)
				got[id] = true
			}
			for _, id := range st.Expect.RecordIDs {
				if !got[id] || len(got) != len(st.Expect.RecordIDs) {
					t.Errorf("%s: record ids %v, want %v", st.Step, got, st.Expect.RecordIDs)
				}
			}
		}
		if st.Expect.Entry && at(reply, "entry") == nil {
			t.Errorf("%s: no entry", st.Step)
		}
		if st.Expect.DataB64 != nil {
			want, _ := base64.RawURLEncoding.DecodeString(*st.Expect.DataB64)
			if !bytes.Equal(out, want) {
				t.Errorf("%s: data %q, want %q", st.Step, out, want)
			}
			if ct := hr.Header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("%s: content type %q", st.Step, ct)
			}
		}
	}
}

// TestClient uses the Client against a server.
func TestClient(t *testing.T) {
	steps, _ := dwntest.Vectors(t)
	node, _ := newMemNode(t)
	hs, _ := newServer(t, node)
	c := &jsonrpc.Client{URL: hs.URL}
	ctx := context.Background()
	for _, st := range steps[:6] {
		var data io.Reader
		if st.Data != nil {
			b, _ := base64.RawURLEncoding.DecodeString(*st.Data)
			data = bytes.NewReader(b)
		}
		r, err := c.Process(ctx, st.Tenant, st.Message, data)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := r.Status()
		if code != st.Expect.Code {
			t.Errorf("%s: %d, want %d", st.Step, code, st.Expect.Code)
		}
		if r.Data != nil {
			b, _ := io.ReadAll(r.Data)
			r.Data.Close()
			if !strings.Contains(string(b), "note") {
				t.Errorf("%s: data %q", st.Step, b)
			}
		}
	}
}
