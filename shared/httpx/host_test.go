package httpx_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
)

// DNS rebinding: a party answers only to the host of its public URL and the
// loopback forms on the same port; any other Host header is refused before a
// handler runs.
func TestHostCheckRefusesRebinding(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		public, host string
		want         int
	}{
		{"http://localhost:7001", "localhost:7001", 204},
		{"http://localhost:7001", "LOCALHOST:7001", 204},
		{"http://localhost:7001", "127.0.0.1:7001", 204},
		{"http://localhost:7001", "[::1]:7001", 204},
		{"http://localhost:7001", "rebind.example:7001", 400},
		{"http://localhost:7001", "localhost:7002", 400},
		{"http://localhost:7001", "localhost", 400},
		{"http://localhost:7001", "", 400},
		{"http://localhost:7001", "localhost.rebind.example:7001", 400},
		{"https://idp.example", "idp.example", 204},
		{"https://idp.example", "idp.example:443", 204},
		{"https://idp.example", "localhost:443", 204},
		{"https://idp.example", "evil.example", 400},
		{"https://idp.example", "idp.example:80", 400},
		{"http://sandbox.test:8080", "sandbox.test:8080", 204},
		{"http://sandbox.test:8080", "127.0.0.1:8080", 204},
	}
	for _, c := range cases {
		h := httpx.Middleware(c.public, slog.New(slog.NewTextHandler(io.Discard, nil)), ok)
		r := httptest.NewRequest("GET", "/admin/api/users", nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("public %s, Host %q: status %d, want %d", c.public, c.host, w.Code, c.want)
			continue
		}
		if c.want == 400 {
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "invalid_request" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Host %q: want an invalid_request JSON error, got %s", c.host, w.Body)
			}
		}
	}
}

// The same-origin check compares Origin with the configured origin (and its
// loopback forms), never with one derived from the request's Host.
func TestSameOriginComparesConfiguredOrigin(t *testing.T) {
	h := httpx.NewHosts("http://localhost:7001")
	for origin, want := range map[string]bool{
		"http://localhost:7001":      true,
		"http://127.0.0.1:7001":      true,
		"http://rebind.example:7001": false,
		"https://localhost:7001":     false,
		"http://localhost:7002":      false,
		"null":                       false,
		"":                           false,
		"http://localhost:7001/x":    false,
	} {
		if got := h.SameOrigin(origin); got != want {
			t.Errorf("SameOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}

// Every log line names its party once: the logger carries it, the request
// log does not add it again.
func TestRequestLogNamesPartyOnce(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil)).With("party", "idp")
	h := httpx.Middleware("http://example.com", logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if n := strings.Count(buf.String(), "party="); n != 1 {
		t.Fatalf("party= appears %d times: %s", n, buf.String())
	}
}
