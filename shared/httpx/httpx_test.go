package httpx_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
)

func TestRedact(t *testing.T) {
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	got := httpx.Redact(tok)
	if strings.Contains(got, "eyJzdWIi") || !strings.HasPrefix(got, "eyJhbG") || !strings.Contains(got, "(68 chars)") {
		t.Fatalf("Redact = %q", got)
	}
	if got := httpx.Redact("short"); strings.Contains(got, "short") {
		t.Fatalf("short secrets must not be shown at all: %q", got)
	}
}

// Tokens never appear whole in the request log, and a panic becomes a 500.
func TestMiddleware(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	secret := "SECRET-authorization-code-value-1234567890"
	h := httpx.Middleware("http://example.com", logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/cb?code="+url.QueryEscape(secret)+"&state=abcdefghijklmnopq", nil))
	if w.Code != http.StatusTeapot {
		t.Fatalf("status %d", w.Code)
	}
	if strings.Contains(buf.String(), secret) || strings.Contains(buf.String(), "abcdefghijklmnopq") {
		t.Fatalf("log leaks a credential: %s", buf.String())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/panic", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(buf.String(), "panic") {
		t.Fatalf("panic not recovered: %d %s", w.Code, buf.String())
	}
}

func TestPublicBase(t *testing.T) {
	for in, ok := range map[string]bool{
		"http://localhost:7001": true, "https://idp.example/": true,
		"localhost:7001": false, "http://x/path": false, "http://x?q=1": false, "ftp://x": false,
	} {
		if _, err := httpx.PublicBase(in); (err == nil) != ok {
			t.Errorf("PublicBase(%q) err = %v", in, err)
		}
	}
}
