package peer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datomspace/datomspace/corestore"
)

// newTestAPI runs a started node with its API on the unix socket and on a loopback TCP port.
func newTestAPI(t *testing.T, opts ...APIOption) (*Node, *API, string) {
	t.Helper()
	n := newTestNode(t)
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := NewAPI(n, append([]APIOption{WithTCP("127.0.0.1:0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return n, a, a.Addrs()[1]
}

type rawResp struct {
	status int
	body   string
}

func rawDo(t *testing.T, method, url string, hdr map[string]string, body string) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResp{res.StatusCode, string(b)}
}

// TestTCPAPIGuards: the TCP API refuses requests without the token, for a foreign host name
// (DNS rebinding), from a foreign origin, and with a body a web page can send without a CORS
// preflight; with the token, from no origin or its own, it answers.
func TestTCPAPIGuards(t *testing.T) {
	_, a, addr := newTestAPI(t)
	url := "http://" + addr + "/v1/create"
	auth := "Bearer " + a.Token()
	body := `{"name":"notes"}`
	cases := []struct {
		name   string
		method string
		hdr    map[string]string
		body   string
		status int
	}{
		{"no token", "POST", map[string]string{"Content-Type": "application/json"}, body, 401},
		{"wrong token", "POST", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + strings.Repeat("0", 64)}, body, 401},
		{"foreign host", "POST", map[string]string{"Content-Type": "application/json", "Authorization": auth, "Host": "attacker.example:80"}, body, 403},
		{"foreign host GET", "GET", map[string]string{"Host": "attacker.example"}, "", 403},
		{"foreign origin", "POST", map[string]string{"Content-Type": "application/json", "Authorization": auth, "Origin": "http://attacker.example"}, body, 403},
		{"null origin", "POST", map[string]string{"Content-Type": "application/json", "Authorization": auth, "Origin": "null"}, body, 403},
		{"text/plain", "POST", map[string]string{"Content-Type": "text/plain", "Authorization": auth}, body, 415},
		{"form", "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth}, "name=x", 415},
		{"GET of an op", "GET", map[string]string{"Authorization": auth}, "", 400},
		{"token", "POST", map[string]string{"Content-Type": "application/json", "Authorization": auth}, body, 200},
		{"own origin", "POST", map[string]string{"Content-Type": "application/json", "Authorization": auth, "Origin": "http://" + addr}, body, 200},
		{"localhost name", "POST", map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": auth, "Host": "localhost:1"}, body, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDo(t, tc.method, url, tc.hdr, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 200 && !strings.Contains(r.body, `"name":"notes"`) {
				t.Fatalf("body %s", r.body)
			}
		})
	}
	// A refused request changed nothing: only the authorized creates made the core.
	c, err := DialAPIAddr(context.Background(), addr, a.Token())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cores, err := Call(context.Background(), c, OpCores, None{})
	if err != nil || len(cores) != 1 {
		t.Fatalf("cores: %v %v", cores, err)
	}
	if _, err := DialAPIAddr(context.Background(), addr, "wrong"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("dial with a wrong token: %v", err)
	}
	if _, err := DialAPIAddr(context.Background(), "10.0.0.1:5001", a.Token()); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("dial of a non-loopback address: %v", err)
	}
}

// TestAPIErrorsKeepIdentity: errors.Is gives the same answer through the API as on the repo.
func TestAPIErrorsKeepIdentity(t *testing.T) {
	n, _, _ := newTestAPI(t)
	ctx := context.Background()
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := daemonLocal(n)
	replica, err := n.Repo.Store.Replica(ctx, corestore.Key{7})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func(b Backend) error
		want []error
	}{
		{"unknown name", func(b Backend) error { _, err := Call(ctx, b, OpInfo, CoreRef{"nope"}); return err },
			[]error{ErrNoSuchName, corestore.ErrNotFound}},
		{"unknown key", func(b Backend) error {
			_, err := Call(ctx, b, OpInfo, CoreRef{corestore.Key{9}.String()})
			return err
		}, []error{corestore.ErrNotFound}},
		{"append to a replica", func(b Backend) error {
			_, err := Call(ctx, b, OpAppend, AppendRequest{Ref: replica.Key().String(), Blocks: [][]byte{{1}}})
			return err
		}, []error{corestore.ErrReadOnly}},
		{"append of nothing", func(b Backend) error {
			_, err := Call(ctx, b, OpAppend, AppendRequest{Ref: "x"})
			return err
		}, []error{ErrBadRequest}},
		{"blocks past the end", func(b Backend) error {
			Call(ctx, b, OpCreate, CreateRequest{"e"})
			_, err := Stream(ctx, b, OpBlocks, BlocksRequest{Ref: "e", End: 5}, nil)
			return err
		}, []error{corestore.ErrOutOfRange}},
		{"peers of a stopped node", func(b Backend) error {
			if b.Daemon() {
				return ErrNotRunning // a daemon runs; the local case checks the real path
			}
			_, err := Call(ctx, NewLocal(t.TempDir(), quietLog()), OpPeers, None{})
			return err
		}, []error{ErrNotRunning}},
	}
	for _, tc := range cases {
		for _, b := range []Backend{local, c} {
			err := tc.call(b)
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Errorf("%s (daemon %v): %v is not %v", tc.name, b.Daemon(), err, want)
				}
			}
		}
	}
}

// TestAPIBadBodies: trailing data, null blocks and bodies over the limit are 4xx, never 500.
func TestAPIBadBodies(t *testing.T) {
	_, a, addr := newTestAPI(t, WithBodyBudget(4<<20))
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + a.Token()}
	base := "http://" + addr + "/v1/"
	rawDo(t, "POST", base+"create", hdr, `{"name":"c"}`)
	cases := []struct {
		op, body string
		status   int
		says     string
	}{
		{"create", `{"name":"d"}}`, 400, "invalid JSON"},
		{"create", `{"name":"d"} x`, 400, "invalid JSON"},
		{"create", `{"name":5}`, 400, `must be a string, not number`},
		{"append", `{"ref":"c","blocks":null}`, 400, "at least one block"},
		{"append", `{"ref":"c","blocks":"x"}`, 400, "must be an array"},
		{"query", `{"query":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "limit"},
		{"nosuchop", `{}`, 404, "unknown operation"},
		{"create", ``, 400, "JSON"},
	}
	for _, tc := range cases {
		r := rawDo(t, "POST", base+tc.op, hdr, tc.body)
		if r.status != tc.status || !strings.Contains(r.body, tc.says) || strings.Contains(r.body, "Go ") {
			t.Errorf("%s %.40q: %d %s; want %d and %q", tc.op, tc.body, r.status, r.body, tc.status, tc.says)
		}
	}
	// A body larger than the whole budget is refused at once, not buffered.
	big := `{"ref":"c","blocks":["` + strings.Repeat("A", 6<<20) + `"]}`
	if r := rawDo(t, "POST", base+"append", hdr, big); r.status != 413 || !strings.Contains(r.body, "budget") {
		t.Fatalf("a body over the budget: %d %s", r.status, r.body)
	}
}

// TestAPIConcurrentCanceledFetches: many fetches of unknown keys with short timeouts, some
// canceled by their clients, leave the daemon alive and answering (a progress goroutine once
// wrote to finished responses and crashed it). Run it with -race.
func TestAPIConcurrentCanceledFetches(t *testing.T) {
	n, _, _ := newTestAPI(t)
	ctx := context.Background()
	c, err := DialAPI(ctx, n.Repo.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			var key corestore.Key
			key[0], key[1] = byte(i), byte(i>>8)
			fctx, cancel := context.WithTimeout(ctx, time.Duration(50+i%7*40)*time.Millisecond)
			defer cancel()
			Stream(fctx, c, OpFetch, FetchRequest{Key: key.String(), Timeout: 300 * time.Millisecond, Blocks: true},
				func(FetchEvent) error { return nil })
		})
	}
	wg.Wait()
	if _, err := Call(ctx, c, OpID, None{}); err != nil {
		t.Fatalf("the daemon stopped answering: %v", err)
	}
	// Fetches that run to their own timeout fail with ErrNoProviders, through the API too.
	_, err = Stream(ctx, c, OpFetch, FetchRequest{Key: corestore.Key{1, 2, 3}.String(), Timeout: 300 * time.Millisecond}, nil)
	if !errors.Is(err, ErrNoProviders) {
		t.Fatalf("fetch of an unknown key: %v", err)
	}
}

// TestInitTightensMode: init on an existing directory makes it private (0700), and the API token
// is 0600.
func TestInitTightensMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := InitRepo(context.Background(), dir, WithRepoLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, APITokenFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	tok, err := LoadAPIToken(dir)
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q %v", tok, err)
	}
}

// TestAPIBusy: while other requests hold the node's whole body budget, a request waits briefly
// and then fails with ErrBusy (503) instead of adding to the memory.
func TestAPIBusy(t *testing.T) {
	_, a, addr := newTestAPI(t)
	a.cfg.busyWait = 100 * time.Millisecond
	if err := a.budget.Acquire(context.Background(), a.cfg.bodyBudget); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + a.Token()}
	r := rawDo(t, "POST", "http://"+addr+"/v1/create", hdr, `{"name":"c"}`)
	if r.status != 503 || !strings.Contains(r.body, "retry") {
		t.Fatalf("busy: %d %s", r.status, r.body)
	}
	a.budget.Release(a.cfg.bodyBudget)
	if r := rawDo(t, "POST", "http://"+addr+"/v1/create", hdr, `{"name":"c"}`); r.status != 200 {
		t.Fatalf("after release: %d %s", r.status, r.body)
	}
}
