package check_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/check"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// brokenMCP is a small protected MCP endpoint that follows every rule the
// checker knows unless one is broken on purpose.
type brokenMCP struct {
	srv    *httptest.Server
	as     check.Signer
	breaks map[string]bool
}

func (b *brokenMCP) resource() string { return b.srv.URL + "/mcp" }

func newBrokenMCP(t *testing.T, as check.Signer, breaks ...string) *brokenMCP {
	b := &brokenMCP{as: as, breaks: map[string]bool{}}
	for _, br := range breaks {
		b.breaks[br] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", b.prm)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", func(w http.ResponseWriter, r *http.Request) {
		if b.breaks["root-prm"] {
			b.prm(w, r)
			return
		}
		http.NotFound(w, r)
	})
	mux.HandleFunc("POST /mcp", b.mcp)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *brokenMCP) prm(w http.ResponseWriter, r *http.Request) {
	res := b.resource()
	if b.breaks["prm-resource"] {
		res += "/"
	}
	oauth.WriteJSON(w, http.StatusOK, map[string]any{"resource": res, "authorization_servers": []string{b.as.Issuer},
		"scopes_supported": []string{"notes.read", "notes.write"}, "bearer_methods_supported": []string{"header"}})
}

func (b *brokenMCP) challenge(w http.ResponseWriter, status int, code, scope string) {
	params := []string{}
	if !b.breaks["no-resource-metadata"] {
		params = append(params, fmt.Sprintf("resource_metadata=%q", b.srv.URL+"/.well-known/oauth-protected-resource/mcp"))
	}
	params = append(params, fmt.Sprintf("scope=%q", scope))
	if code != "" {
		params = append(params, fmt.Sprintf("error=%q", code))
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	w.WriteHeader(status)
}

func (b *brokenMCP) mcp(w http.ResponseWriter, r *http.Request) {
	u, _ := url.Parse(b.srv.URL)
	if o := r.Header.Get("Origin"); o != "" && o != b.srv.URL && !b.breaks["origin"] {
		http.Error(w, "forbidden origin", http.StatusForbidden)
		return
	}
	if r.Host != u.Host && !b.breaks["host"] {
		http.Error(w, "forbidden host", http.StatusForbidden)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if b.breaks["query"] && tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		code := ""
		if b.breaks["error-without-token"] {
			code = oauth.ErrInvalidToken
		}
		b.challenge(w, http.StatusUnauthorized, code, "notes.read notes.write")
		return
	}
	v := jwtverify.Verifier{Typ: oauth.TypAccessToken, Issuers: map[string]jwtverify.KeySource{b.as.Issuer: keySource{*b.as.Key}},
		Audience: b.resource(), Skew: 30 * time.Second, Required: []string{"sub", "client_id", "jti", "iat"}}
	if b.breaks["typ"] {
		v.Typ = ""
	}
	if b.breaks["aud"] {
		v.Audience = ""
	}
	if b.breaks["exp"] {
		v.Skew = 24 * time.Hour
	}
	var claims struct {
		Scope string `json:"scope"`
	}
	if _, err := v.Verify(r.Context(), tok, &claims); err != nil {
		code := oauth.ErrInvalidToken
		if b.breaks["no-error-code"] {
			code = ""
		}
		b.challenge(w, http.StatusUnauthorized, code, "notes.read notes.write")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var msg struct {
		ID     any    `json:"id"`
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &msg)
	if msg.Method == "tools/call" && msg.Params.Name == "write_note" && !slices.Contains(oauth.SplitScope(claims.Scope), "notes.write") && !b.breaks["scope"] {
		b.challenge(w, http.StatusForbidden, oauth.ErrInsufficientScope, "notes.write")
		return
	}
	if msg.ID == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Mcp-Session-Id", "s1")
	oauth.WriteJSON(w, http.StatusOK, map[string]any{"jsonrpc": "2.0", "id": msg.ID, "result": map[string]any{}})
}

// Each broken rule of an MCP server is reported by name, and nothing else is.
func TestMCPReportsBrokenRules(t *testing.T) {
	as, idp := testIdP(t), testIdP(t)
	as.Issuer = "https://as.example"
	for _, tc := range []struct {
		breaks string
		fail   []string
	}{
		{"", nil},
		{"prm-resource", []string{"mcp.prm.resource"}},
		{"root-prm", []string{"mcp.prm.root"}},
		{"no-resource-metadata", []string{"mcp.challenge.resource-metadata"}},
		{"error-without-token", []string{"mcp.challenge.no-error-without-token"}},
		{"typ", []string{"mcp.token.typ-jwt"}},
		{"aud", []string{"mcp.token.aud-other"}},
		{"exp", []string{"mcp.token.expired"}},
		{"no-error-code", []string{"mcp.token.typ-jwt", "mcp.token.aud-other", "mcp.token.expired", "mcp.token.iss-other", "mcp.token.signature", "mcp.token.alg-none", "mcp.token.id-jag", "mcp.token.id-token"}},
		{"query", []string{"mcp.token.query-string"}},
		{"scope", []string{"mcp.scope.insufficient"}},
		{"origin", []string{"mcp.origin.foreign"}},
		{"host", []string{"mcp.host.foreign"}},
	} {
		t.Run(tc.breaks, func(t *testing.T) {
			var breaks []string
			if tc.breaks != "" {
				breaks = []string{tc.breaks}
			}
			m := newBrokenMCP(t, as, breaks...)
			rep, err := (&check.MCP{Resource: m.resource(), AS: as, IdP: idp, Scope: "notes.read notes.write", Tool: "write_note", ToolScope: "notes.write"}).Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, res := range rep.Results {
				if res.Verdict != check.Pass {
					failed = append(failed, res.ID)
				}
			}
			slices.Sort(failed)
			want := slices.Clone(tc.fail)
			slices.Sort(want)
			if !slices.Equal(failed, want) {
				t.Errorf("rules not passed: %v\nwant exactly:      %v", failed, want)
			}
		})
	}
}
