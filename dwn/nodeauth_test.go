package dwn_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/datomspace/datomspace/dwn"
)

const (
	nodeA = "12D3KooWScpxFHiPfM1f4JkMF2uvwhLbV3JzdmfTQWv7YTUBuGfK"
	nodeB = "12D3KooWAysTjYVHifNwQm8EbPHtPmSamWm9S68Phzpwt92eJcse"
)

func signer(seed byte) *dwn.Signer {
	return dwn.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)))
}

// resign replaces the payload of an authorization by f's edit of it, and signs it again with s.
func resign(t *testing.T, raw []byte, s *dwn.Signer, f func(map[string]any)) []byte {
	t.Helper()
	var jws struct {
		Payload    string            `json:"payload"`
		Signatures []json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &jws); err != nil {
		t.Fatal(err)
	}
	pb, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
	var p map[string]any
	json.Unmarshal(pb, &p)
	f(p)
	pb, _ = json.Marshal(p)
	prot := base64.RawURLEncoding.EncodeToString([]byte(`{"kid":"` + s.KeyID + `","alg":"EdDSA"}`))
	pl := base64.RawURLEncoding.EncodeToString(pb)
	sig := base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.Key, []byte(prot+"."+pl)))
	out, _ := json.Marshal(map[string]any{"payload": pl, "signatures": []any{map[string]string{"protected": prot, "signature": sig}}})
	return out
}

// TestNodeAuthorization: an authorization the tenant signed for a node verifies for that tenant
// and node only, until it expires; every alteration is refused with ErrNodeAuthorization.
func TestNodeAuthorization(t *testing.T) {
	ctx := context.Background()
	tenant, other := signer(1), signer(2)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	raw, err := dwn.AuthorizeNode(tenant, nodeA, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, err := dwn.VerifyNodeAuthorization(ctx, dwn.KeyResolver{}, raw, tenant.DID, nodeA, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if a.Tenant != tenant.DID || a.Node != nodeA || !a.Issued.Equal(now) || !a.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("decoded %+v", a)
	}
	forever, err := dwn.AuthorizeNode(tenant, nodeA, now, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dwn.VerifyNodeAuthorization(ctx, dwn.KeyResolver{}, forever, tenant.DID, nodeA, now.AddDate(10, 0, 0)); err != nil {
		t.Fatalf("an authorization without expiry: %v", err)
	}
	flipSig := bytes.Clone(raw)
	i := bytes.Index(flipSig, []byte(`"signature":"`)) + len(`"signature":"`) + 5
	flipSig[i] ^= 'A' ^ 'B'
	if flipSig[i] == raw[i] {
		flipSig[i] = 'C'
	}
	cases := []struct {
		name         string
		raw          []byte
		tenant, node string
		at           time.Time
		want         string
	}{
		{"another node", raw, tenant.DID, nodeB, now, "names node"},
		{"another tenant", raw, other.DID, nodeA, now, "is of tenant"},
		{"expired", raw, tenant.DID, nodeA, now.Add(time.Hour), "expired"},
		{"issued in the future", raw, tenant.DID, nodeA, now.Add(-time.Hour), "future"},
		{"signature altered", flipSig, tenant.DID, nodeA, now, "invalid node authorization"},
		{"signed by another key", resign(t, raw, other, func(map[string]any) {}), tenant.DID, nodeA, now, "not by the tenant"},
		{"node rewritten, old signature", spliceSignature(t, resign(t, raw, tenant, func(p map[string]any) { p["node"] = nodeB }), raw), tenant.DID, nodeB, now, "Signature verification failed"},
		{"another type", resign(t, raw, tenant, func(p map[string]any) { p["type"] = "x" }), tenant.DID, nodeA, now, "type"},
		{"no node", resign(t, raw, tenant, func(p map[string]any) { delete(p, "node") }), tenant.DID, nodeA, now, "name a tenant and a node"},
		{"bad time", resign(t, raw, tenant, func(p map[string]any) { p["issued"] = "yesterday" }), tenant.DID, nodeA, now, "not a time"},
		{"expires a number", resign(t, raw, tenant, func(p map[string]any) { p["expires"] = 5 }), tenant.DID, nodeA, now, "expires is not a string"},
		{"not JSON", []byte("{"), tenant.DID, nodeA, now, "invalid node authorization"},
		{"an array", []byte("[]"), tenant.DID, nodeA, now, "not a JSON object"},
		{"two signatures", []byte(strings.Replace(string(raw), `"signatures":[`, `"signatures":[{"protected":"e30","signature":"AA"},`, 1)), tenant.DID, nodeA, now, "exactly one signature"},
		{"too large", append(bytes.Clone(raw), bytes.Repeat([]byte(" "), dwn.MaxNodeAuthorization)...), tenant.DID, nodeA, now, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dwn.VerifyNodeAuthorization(ctx, dwn.KeyResolver{}, c.raw, c.tenant, c.node, c.at)
			if !errors.Is(err, dwn.ErrNodeAuthorization) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrNodeAuthorization saying %q", err, c.want)
			}
		})
	}
	if _, err := dwn.AuthorizeNode(tenant, nodeA, now, now); !errors.Is(err, dwn.ErrNodeAuthorization) {
		t.Fatalf("an authorization that expires as it is issued: %v", err)
	}
	if _, err := dwn.AuthorizeNode(tenant, "", now, time.Time{}); !errors.Is(err, dwn.ErrNodeAuthorization) {
		t.Fatalf("an authorization of no node: %v", err)
	}
}

// spliceSignature gives the authorization edited the signature of orig.
func spliceSignature(t *testing.T, edited, orig []byte) []byte {
	t.Helper()
	var e, o map[string]any
	json.Unmarshal(edited, &e)
	json.Unmarshal(orig, &o)
	e["signatures"] = o["signatures"]
	out, _ := json.Marshal(e)
	return out
}

// FuzzNodeAuthorization: no input panics, and whatever verifies names a tenant and node and was
// signed by the tenant (its signer DID is its tenant).
func FuzzNodeAuthorization(f *testing.F) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	raw, err := dwn.AuthorizeNode(signer(1), nodeA, now, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"payload":"e30","signatures":[{"protected":"e30","signature":""}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := dwn.ParseNodeAuthorization(context.Background(), dwn.KeyResolver{}, b)
		if err != nil {
			if !errors.Is(err, dwn.ErrNodeAuthorization) {
				t.Fatalf("error %v is not ErrNodeAuthorization", err)
			}
			return
		}
		if a.Tenant == "" || a.Node == "" {
			t.Fatalf("verified without a tenant or node: %+v", a)
		}
		if err := a.Check(a.Tenant, a.Node, a.Issued); err != nil && a.Expires.After(a.Issued) {
			t.Fatalf("check at its issue time: %v", err)
		}
	})
}
