package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// MCP streamable HTTP (security warning): the server MUST validate Origin;
// an invalid one gets 403 even with a valid token. No Origin (not a browser)
// and our own origin pass; Config.AllowedOrigins opens it to a named page.
func TestMCPOriginInvalidGets403(t *testing.T) {
	e := newMCPEnv(t, func(c *Config) { c.AllowedOrigins = []string{"http://inspector.test:6274"} })
	bearer := "Bearer " + e.token(oauth.TypAccessToken, nil)
	loopback := strings.Replace(e.url, "127.0.0.1", "localhost", 1)
	for _, c := range []struct {
		origin string
		want   int
	}{
		{"", 200},
		{e.url, 200},
		{loopback, 200},
		{"http://inspector.test:6274", 200},
		{"http://evil.example.com", 403},
		{"null", 403},
		{strings.Replace(e.url, "http:", "https:", 1), 403},
	} {
		hdr := map[string]string{}
		if c.origin != "" {
			hdr["Origin"] = c.origin
		}
		resp := e.postWith("/mcp", bearer, initializeBody, hdr)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Origin %q: status %d, want %d: %s", c.origin, resp.StatusCode, c.want, body)
		}
		if c.want == 403 && !strings.Contains(string(body), `"access_denied"`) {
			t.Errorf("Origin %q: body %s", c.origin, body)
		}
		if c.origin == "http://inspector.test:6274" && resp.Header.Get("Access-Control-Allow-Origin") != c.origin {
			t.Errorf("allowed cross origin without Access-Control-Allow-Origin")
		}
	}
}

// CORS: a preflight carries no credentials, so it is answered before the
// bearer check (204 with the allowed methods and headers for an allowed
// origin), never 401; a preflight from a foreign origin gets 403.
func TestMCPCORSPreflightIsNot401(t *testing.T) {
	e := newMCPEnv(t, func(c *Config) { c.AllowedOrigins = []string{"http://inspector.test:6274"} })
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.url+"/mcp", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("http://inspector.test:6274")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "http://inspector.test:6274" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.example.com"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign preflight: %d", resp.StatusCode)
	}
}
