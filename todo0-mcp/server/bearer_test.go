package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestBearerBattery: checklist 4. Each request gets the status and the
// WWW-Authenticate challenge the checklist lists: 401 with resource_metadata
// and scope (plus error="invalid_token" when a token was sent), 403
// insufficient_scope naming the scope a tool needs.
func TestBearerBattery(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	prm := e.url + "/.well-known/oauth-protected-resource/mcp"
	all := "todos.read todos.write"
	now := time.Now()
	foreignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign := func(iss string) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: foreignKey}, (&jose.SignerOptions{}).WithType(oauth.TypAccessToken).WithHeader("kid", e.as.keys.ActiveKeyID()))
		c := e.claims()
		c["iss"] = iss
		tok, _ := jwt.Signed(s).Claims(c).Serialize()
		return tok
	}
	b := func(tok string) string { return "Bearer " + tok }
	at := func(mut func(map[string]any)) string { return b(e.token(oauth.TypAccessToken, mut)) }

	for _, tc := range []struct {
		name       string
		authz      string
		query      string
		body       string
		status     int
		code       string // error= in the challenge; "" for none
		scope      string // scope= in the challenge
		noRecovery bool
	}{
		// checklist 4: no token -> 401, resource_metadata and scope, no error code
		{name: "no token", status: 401, scope: all},
		// RFC 6750 3.1: an unsupported authentication method gets no error code
		{name: "Basic scheme", authz: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), status: 401, scope: all},
		{name: "Token scheme", authz: "Token " + e.token(oauth.TypAccessToken, nil), status: 401, scope: all},
		// RFC 6750 3.1: the scheme without a token is a malformed request, 400 invalid_request
		{name: "bare Bearer", authz: "Bearer", status: 400, code: "invalid_request", scope: all},
		// checklist 4: a token was sent but is bad -> error="invalid_token"
		{name: "garbage", authz: "Bearer garbage", status: 401, code: "invalid_token", scope: all},
		{name: "empty bearer", authz: "Bearer ", status: 400, code: "invalid_request", scope: all},
		{name: "expired", authz: at(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-10*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
		}), status: 401, code: "invalid_token", scope: all},
		{name: "not yet valid", authz: at(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }), status: 401, code: "invalid_token", scope: all},
		// checklist 4: a token for another resource is refused
		{name: "wrong audience", authz: at(func(c map[string]any) { c["aud"] = "http://127.0.0.1:1/other-mcp" }), status: 401, code: "invalid_token", scope: all},
		{name: "audience is the AS", authz: at(func(c map[string]any) { c["aud"] = e.as.URL }), status: 401, code: "invalid_token", scope: all},
		{name: "audience with trailing slash", authz: at(func(c map[string]any) { c["aud"] = e.s.Resource() + "/" }), status: 401, code: "invalid_token", scope: all},
		{name: "two audiences", authz: at(func(c map[string]any) { c["aud"] = []string{e.s.Resource(), "http://127.0.0.1:1/other"} }), status: 401, code: "invalid_token", scope: all},
		// checklist 4: only tokens issued by its AS
		{name: "wrong issuer", authz: b(foreign("https://other-as.example")), status: 401, code: "invalid_token", scope: all},
		{name: "AS issuer, key not the AS's", authz: b(foreign(e.as.URL)), status: 401, code: "invalid_token", scope: all},
		{name: "alg none", authz: b(unsignedJWT(map[string]any{"alg": "none", "typ": "at+jwt", "kid": e.as.keys.ActiveKeyID()}, e.claims())), status: 401, code: "invalid_token", scope: all},
		// checklist 4: an ID-JAG is not an access token: as the IdP mints it ...
		{name: "ID-JAG as bearer", authz: b(e.token(oauth.TypIDJAG, func(c map[string]any) {
			c["iss"], c["aud"], c["resource"] = "https://idp.example", e.as.URL, e.s.Resource()
		})), status: 401, code: "invalid_token", scope: all},
		// ... and even with every claim right, its typ gives it away
		{name: "ID-JAG typ, access-token claims", authz: b(e.token(oauth.TypIDJAG, nil)), status: 401, code: "invalid_token", scope: all},
		// checklist 4: an ID token is not an access token
		{name: "ID token as bearer", authz: b(e.token("JWT", func(c map[string]any) {
			c["iss"], c["aud"], c["azp"], c["nonce"] = "https://idp.example", demo.Agent0IdPClientID, demo.Agent0IdPClientID, "n"
			delete(c, "client_id")
			delete(c, "scope")
		})), status: 401, code: "invalid_token", scope: all},
		{name: "JWT typ, access-token claims", authz: b(e.token("JWT", nil)), status: 401, code: "invalid_token", scope: all},
		// RFC 9068 2.2: required claims, non-empty
		{name: "missing sub", authz: at(func(c map[string]any) { delete(c, "sub") }), status: 401, code: "invalid_token", scope: all},
		{name: "empty sub", authz: at(func(c map[string]any) { c["sub"] = "" }), status: 401, code: "invalid_token", scope: all},
		{name: "missing client_id", authz: at(func(c map[string]any) { delete(c, "client_id") }), status: 401, code: "invalid_token", scope: all},
		{name: "missing jti", authz: at(func(c map[string]any) { delete(c, "jti") }), status: 401, code: "invalid_token", scope: all},
		// checklist 4: tokens only in the Authorization header, never in URLs
		{name: "token in the query string", query: "?access_token=" + url.QueryEscape(e.token(oauth.TypAccessToken, nil)), status: 400, code: "invalid_request", scope: all},
		{name: "token in the query and the header", authz: at(nil), query: "?access_token=x", status: 400, code: "invalid_request", scope: all},
		// checklist 4: valid token lacking the tool's scope -> 403 naming it
		{name: "read token, write tool", authz: at(func(c map[string]any) { c["scope"] = "todos.read" }), body: callBody("create_todo", `{"title":"x"}`), status: 403, code: "insufficient_scope", scope: "todos.write"},
		{name: "read token, delete tool", authz: at(func(c map[string]any) { c["scope"] = "todos.read" }), body: callBody("delete_todo", `{"id":1}`), status: 403, code: "insufficient_scope", scope: "todos.write"},
		{name: "write token, read tool", authz: at(func(c map[string]any) { c["scope"] = "todos.write" }), body: callBody("list_todos", `{}`), status: 403, code: "insufficient_scope", scope: "todos.read"},
		{name: "write call hidden in a batch", authz: at(func(c map[string]any) { c["scope"] = "todos.read" }),
			body: "[" + callBody("list_todos", `{}`) + "," + callBody("complete_todo", `{"id":1}`) + "]", status: 403, code: "insufficient_scope", scope: "todos.write"},
		{name: "no scope at all", authz: at(func(c map[string]any) { delete(c, "scope") }), body: callBody("list_todos", `{}`), status: 403, code: "insufficient_scope", scope: "todos.read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == "" {
				body = initializeBody
			}
			resp := e.post("/mcp"+tc.query, tc.authz, body)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			p := challengeParams(t, resp.Header.Get("WWW-Authenticate"))
			if p["resource_metadata"] != prm || p["scope"] != tc.scope || p["error"] != tc.code {
				t.Errorf("challenge %v, want resource_metadata %s scope %q error %q", p, prm, tc.scope, tc.code)
			}
			var m map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m["error_description"] == "" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("body %v (%v), Cache-Control %q", m, err, resp.Header.Get("Cache-Control"))
			}
			// RFC 6750 3.1: no error code when no token was sent, and never an unregistered one.
			if tc.code == "" && m["error"] != "" {
				t.Errorf("body error %q, want none", m["error"])
			}
			if tc.code != "" && m["error"] != tc.code {
				t.Errorf("body error %q, want %q", m["error"], tc.code)
			}
		})
	}
	// The control case: a good token is let through to the MCP server.
	resp := e.post("/mcp", at(nil), initializeBody)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("good token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The resource_metadata URL of every challenge resolves.
	if r, err := http.Get(prm); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("resource_metadata %s: %v", prm, err)
	}
	// The API never saw any of it: refusals happen before any tool runs.
	if len(e.api.auths) != 0 {
		t.Errorf("the todo API was called %d times", len(e.api.auths))
	}
}

func unsignedJWT(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// checklist 4, scope gate: the gate reads the JSON-RPC message by exact
// member names as the SDK does, so a write tool cannot hide behind a
// case-variant "Name" (or "Method"); an ambiguous message is refused.
func TestScopeGateReadsExactJSONRPCNames(t *testing.T) {
	e := newMCPEnv(t)
	read := "Bearer " + e.token(oauth.TypAccessToken, func(c map[string]any) { c["scope"] = "todos.read" })
	for name, c := range map[string]struct {
		body string
		want int
	}{
		"name and Name":                 {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_todo","Name":"list_todos","arguments":{"title":"x"}}}`, 400},
		"Name and name":                 {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"Name":"list_todos","name":"create_todo","arguments":{"title":"x"}}}`, 400},
		"duplicate name":                {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_todos","name":"create_todo","arguments":{"title":"x"}}}`, 400},
		"method and Method":             {`{"jsonrpc":"2.0","id":2,"method":"tools/call","Method":"ping","params":{"name":"create_todo","arguments":{"title":"x"}}}`, 400},
		"ambiguous inside a batch":      {`[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_todo","NAME":"list_todos","arguments":{"title":"x"}}}]`, 400},
		"exact names, write tool":       {callBody("create_todo", `{"title":"x"}`), 403},
		"only Name (the SDK sees none)": {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"Name":"create_todo","arguments":{"title":"x"}}}`, 0},
	} {
		t.Run(name, func(t *testing.T) {
			resp := e.post("/mcp", read, c.body)
			resp.Body.Close()
			if c.want != 0 && resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if c.want == 0 && resp.StatusCode == http.StatusOK && len(e.api.acting) != 0 {
				t.Fatalf("a todo was created with a read-only token")
			}
		})
	}
	if len(e.api.acting) != 0 {
		t.Fatalf("the todo API created %d todos for a read-only token", len(e.api.acting))
	}
}
