package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a headless-capable Chromium, or skips the test (fails it when
// DATOMSPACE_REQUIRE_INTEROP is set, as CI sets it, so that CI never skips it silently).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("DATOMSPACE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DATOMSPACE_REQUIRE_INTEROP") != "" {
		t.Fatal("Chromium is not installed (apt-get install -y chromium), and DATOMSPACE_REQUIRE_INTEROP is set")
	}
	t.Skip("Chromium is not installed (apt-get install -y chromium): the dashboard test needs a real browser")
	return ""
}

// dumpDOM loads url in headless Chromium, lets its scripts run, and returns the DOM.
func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=8000", "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium on %s: %v", url, err)
	}
	return string(out)
}

// serveWithAPI runs `serve --api 127.0.0.1:0` on repo and returns the TCP API address.
func serveWithAPI(t *testing.T, repo string) string {
	t.Helper()
	_, v := startServeJSON(t, repo, "--api", "127.0.0.1:0")
	if len(v.API) != 2 {
		t.Fatalf("serve printed %+v", v)
	}
	return v.API[1]
}

// TestDashboardInChromium: the page `datomspace dashboard` names shows the node's cores and peer
// ID in a real browser; a page of another origin can neither read the API nor write to it.
func TestDashboardInChromium(t *testing.T) {
	browser := chromium(t)
	repo := filepath.Join(t.TempDir(), "repo")
	ds(t, repo, "", "init")
	key := strings.TrimSpace(ds(t, repo, "", "create", "contacts").stdout)
	ds(t, repo, "", "append", "contacts", "alice", "bob")
	api := serveWithAPI(t, repo)
	r := ds(t, repo, "", "dashboard")
	url := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(url, "http://"+api+"/#token=") {
		t.Fatalf("dashboard: %+v", r)
	}
	id := ds(t, repo, "", "id", "--json").stdout
	var info struct{ PeerID string }
	json.Unmarshal([]byte(id), &info)
	dom := dumpDOM(t, browser, url)
	for _, want := range []string{"contacts", key, info.PeerID, "up to date"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the dashboard does not show %q:\n%.2000s", want, dom)
		}
	}
	// Without the token the page says what to do, and shows no data.
	dom = dumpDOM(t, browser, "http://"+api+"/")
	if strings.Contains(dom, key) || !strings.Contains(dom, "no API token") {
		t.Errorf("the dashboard without a token:\n%.2000s", dom)
	}
	// A page of another origin that knows the token still gets nothing, and creates nothing.
	tok := strings.TrimSpace(ds(t, repo, "", "api", "token").stdout)
	evil := fmt.Sprintf(`<!doctype html><html><body><pre id="out">pending</pre><script>
const out = document.getElementById("out");
const api = "http://%s/v1/";
(async () => {
  const lines = [];
  try {
    const r = await fetch(api + "cores", {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer %s"}, body: "{}"});
    lines.push("READ " + await r.text());
  } catch (e) { lines.push("read blocked"); }
  try {
    await fetch(api + "create", {method: "POST", mode: "no-cors", body: JSON.stringify({name: "pwned"})});
    lines.push("write sent");
  } catch (e) { lines.push("write blocked"); }
  out.textContent = lines.join("\n");
})();
</script></body></html>`, api, tok)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(evil))
	})}
	go srv.Serve(l)
	defer srv.Close()
	dom = dumpDOM(t, browser, "http://"+l.Addr().String()+"/")
	_, got, _ := strings.Cut(dom, `<pre id="out">`)
	got, _, _ = strings.Cut(got, "</pre>")
	if got != "read blocked\nwrite sent" {
		t.Errorf("a foreign page's requests: %q, want the read blocked and the blind write sent (and refused below)", got)
	}
	if r := ds(t, repo, "", "info", "pwned"); r.code == 0 {
		t.Errorf("a foreign page created a core: %+v", r)
	}
}
