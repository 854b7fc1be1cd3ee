package dwncore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/datomspace/datomspace/dwn/dwntest"
	"github.com/datomspace/datomspace/dwn/jsonrpc"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// TestHTTPVectorsOnCores replays the generated history over real HTTP against a core-backed
// node and checks every reply code, then asks the node for the key of its tenant core.
func TestHTTPVectorsOnCores(t *testing.T) {
	s, _ := newStore(t)
	srv, err := jsonrpc.New(s.Node(), jsonrpc.WithTenantCores(jsonrpc.OpenTenantCores(s.TenantCoreKey)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	c := &jsonrpc.Client{URL: hs.URL}
	ctx := context.Background()
	steps := dwntest.ExtSteps(t)
	for _, st := range steps {
		var data *bytes.Reader
		if st.HasData {
			data = bytes.NewReader(st.Data)
		}
		var r *jsonrpc.ClientReply
		var err error
		if data != nil {
			r, err = c.Process(ctx, st.Tenant, []byte(jsv.Stringify(st.Message)), data)
		} else {
			r, err = c.Process(ctx, st.Tenant, []byte(jsv.Stringify(st.Message)), nil)
		}
		if err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		if r.Error != nil {
			// dwn-server reads message.descriptor.interface before dwn-sdk-js sees the message
			if _, isObj := at(st.Message, "descriptor").(*jsv.Object); isObj || r.Error.Code != jsonrpc.CodeInternalError {
				t.Errorf("%s: %v, want %d", st.Name, r.Error, st.Code)
			}
			continue
		}
		if code, detail := r.Status(); code != st.Code {
			t.Errorf("%s: %d %s, want %d", st.Name, code, detail, st.Code)
		}
		if r.Data != nil {
			r.Data.Close()
		}
	}
	tenant := steps[0].Tenant
	key, n, ok := s.CoreKey(tenant)
	if !ok || n == 0 {
		t.Fatal("no tenant core")
	}
	b, _ := jsonFor(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "datomspace.tenantCore", "params": map[string]any{"target": tenant}})
	res := srv.Handle(ctx, mustParse(t, b), jsonrpc.HTTP, nil)
	if got := res.Response; jsv.Stringify(at(got, "result", "key")) != jsv.QuoteString(hex.EncodeToString(key[:])) || at(got, "result", "length") != float64(n) {
		t.Errorf("tenantCore: %s", jsv.Stringify(got))
	}

	// the same over the stream transport, as a tenant's other node asks for it
	a, b2 := net.Pipe()
	go srv.ServeStream(ctx, a)
	defer b2.Close()
	cl := jsonrpc.NewStreamClient(b2)
	got, err := cl.TenantCore(ctx, tenant, nil)
	if err != nil || !bytes.Equal(got.Key, key[:]) || got.Length != n {
		t.Errorf("StreamClient.TenantCore: %x %d %v, want %x %d", got.Key, got.Length, err, key, n)
	}
	if _, err := cl.TenantCore(ctx, "did:example:nobody", nil); err == nil {
		t.Error("a core for a tenant the node does not hold")
	}
}

func jsonFor(v any) ([]byte, error) { return json.Marshal(v) }

func mustParse(t *testing.T, b []byte) *jsonrpc.Request {
	r, err := jsonrpc.ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func at(v any, path ...string) any {
	for _, p := range path {
		o, _ := v.(*jsv.Object)
		v, _ = o.Get(p)
	}
	return v
}
