package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Each vendor behaviour of the Todo0 AS changes exactly what it names, and
// the strict default keeps refusing. One case per switch: the request, what
// the strict AS answers, what the AS with the switch answers.
func TestQuirks(t *testing.T) {
	t.Parallel()
	mcp := demo.Todo0MCPURL + demo.MCPPath
	type result struct {
		status int
		code   string // error code, or "" for a token
		scope  string // granted scope, for tokens
	}
	for _, tc := range []struct {
		quirk          string
		send           func(e *env) *http.Response
		strict, quirky result
	}{
		// checklist 3.7 / EMA 7.4.2 by default; IDJAG 4.4.3 re-presentation with id-jag-reuse.
		{"id-jag-reuse", func(e *env) *http.Response {
			tok := sign(e.t, jwtSpec{}, e.claims())
			decode(e.t, e.redeem(tok))
			return e.redeem(tok)
		}, result{400, "invalid_grant", ""}, result{200, "", "todos.read todos.write"}},
		// checklist 3.4: no trailing-slash games, unless trailing-slash.
		{"trailing-slash", func(e *env) *http.Response {
			c := e.claims()
			c["aud"], c["resource"] = e.url+"/", mcp+"/"
			return e.redeem(sign(e.t, jwtSpec{}, c))
		}, result{400, "invalid_grant", ""}, result{200, "", "todos.read todos.write"}},
		// checklist 3.8: a foreign resource is refused, unless ignore-resource.
		{"ignore-resource", func(e *env) *http.Response {
			c := e.claims()
			c["resource"] = "https://not-todo0.example/mcp"
			return e.redeem(sign(e.t, jwtSpec{}, c))
		}, result{400, "invalid_grant", ""}, result{200, "", "todos.read todos.write"}},
		// checklist 3.9: the ID-JAG's scope bounds the grant, unless ignore-scope
		// (then the request's scope is granted, as an AS without downscoping does).
		{"ignore-scope", func(e *env) *http.Response {
			c := e.claims()
			c["scope"] = "todos.read"
			return e.post(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {sign(e.t, jwtSpec{}, c)}, "scope": {"todos.read todos.write"}}, true)
		}, result{200, "", "todos.read"}, result{200, "", "todos.read todos.write"}},
		// checklist 3.6: iat not too old (10m by default; 30s with the switch).
		{"max-id-jag-age=30s", func(e *env) *http.Response {
			c := e.claims()
			c["iat"] = time.Now().Add(-2 * time.Minute).Unix()
			return e.redeem(sign(e.t, jwtSpec{}, c))
		}, result{200, "", "todos.read todos.write"}, result{400, "invalid_grant", ""}},
		// checklist 3.6: small clock skew (30s by default; none with clock-skew=0s).
		{"clock-skew=0s", func(e *env) *http.Response {
			c := e.claims()
			c["nbf"] = time.Now().Add(10 * time.Second).Unix()
			return e.redeem(sign(e.t, jwtSpec{}, c))
		}, result{200, "", "todos.read todos.write"}, result{400, "invalid_grant", ""}},
		// RFC 6749 2.3: every registered method by default; Basic only with the switch.
		{"as-client-auth-basic-only", func(e *env) *http.Response {
			form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {sign(e.t, jwtSpec{}, e.claims())},
				"client_id": {demo.Agent0Todo0ClientID}, "client_secret": {demo.Agent0Todo0ClientSecret}}
			return e.post(form, false)
		}, result{200, "", "todos.read todos.write"}, result{401, "invalid_client", ""}},
		{"as-client-auth-post-only", func(e *env) *http.Response {
			return e.redeem(sign(e.t, jwtSpec{}, e.claims()))
		}, result{200, "", "todos.read todos.write"}, result{401, "invalid_client", ""}},
	} {
		t.Run(tc.quirk, func(t *testing.T) {
			t.Parallel()
			q, err := quirks.Parse(tc.quirk)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []struct {
				name string
				q    quirks.Set
				want result
			}{{"strict", quirks.Set{}, tc.strict}, {tc.quirk, q, tc.quirky}} {
				e := newEnv(t, func(c *Config) { c.Quirks = mode.q })
				resp := tc.send(e)
				if resp.StatusCode != mode.want.status {
					t.Fatalf("%s: status %d, want %d: %v", mode.name, resp.StatusCode, mode.want.status, decode(t, resp))
				}
				m := decode(t, resp)
				if mode.want.code != "" && m["error"] != mode.want.code {
					t.Errorf("%s: error %v, want %s", mode.name, m["error"], mode.want.code)
				}
				if mode.want.code == "" && m["scope"] != mode.want.scope {
					t.Errorf("%s: scope %v, want %s", mode.name, m["scope"], mode.want.scope)
				}
			}
		})
	}
}

// The metadata lists only the method a client-auth switch allows, so a
// client that reads it picks the right one.
func TestQuirkAuthMethodsInMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		quirk string
		want  string
	}{{"", "client_secret_basic client_secret_post private_key_jwt"}, {"as-client-auth-post-only", "client_secret_post"}} {
		q, _ := quirks.Parse(tc.quirk)
		e := newEnv(t, func(c *Config) { c.Quirks = q })
		resp, err := http.Get(e.url + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range decode(t, resp)["token_endpoint_auth_methods_supported"].([]any) {
			got = append(got, m.(string))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q: methods %v, want %s", tc.quirk, got, tc.want)
		}
	}
}

// generic-errors keeps the code and status and drops the detail.
func TestQuirkGenericErrors(t *testing.T) {
	t.Parallel()
	for _, generic := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.Quirks.GenericErrors = generic })
		c := e.claims()
		c["aud"] = "https://other-as.example"
		m := wantOAuthError(t, e.redeem(sign(t, jwtSpec{}, c)), 400, "invalid_grant")
		d := m["error_description"].(string)
		if detailed := strings.Contains(d, "wrong audience"); detailed == generic {
			t.Errorf("generic=%v: error_description %q", generic, d)
		}
	}
}
