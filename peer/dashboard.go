package peer

import (
	_ "embed"
	"net/http"
)

//go:embed dashboard/index.html
var dashboardHTML []byte

// dashboard serves the web dashboard of the TCP API: one static page that calls the API with the
// token it is given in its URL fragment. The page holds no data, so it needs no token itself; its
// headers keep it from being framed or sniffed, and keep its scripts to its own.
func dashboard(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(dashboardHTML)
}

// DashboardURL returns the dashboard's address on the TCP API at addr, with the token in the
// fragment, which browsers never send to a server.
func DashboardURL(addr, token string) string { return "http://" + addr + "/#token=" + token }
