package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Each vendor behaviour of the IdP changes exactly what it names, and the
// strict default does not: one exchange per switch, judged in both modes.
func TestQuirks(t *testing.T) {
	noAuth := func(_ *http.Request, f url.Values) { f.Set("client_id", demo.Agent0IdPClientID) }
	for _, tc := range []struct {
		quirk string
		// edit changes the valid exchange; auth is the client's credentials.
		edit func(e *env, f url.Values)
		auth func(e *env) func(*http.Request, url.Values)
		// strict and quirky judge the two responses.
		strict, quirky func(t *testing.T, e *env, r response)
	}{
		// checklist 1 client authentication: confidential clients only, unless idp-no-client-auth.
		{quirk: "idp-no-client-auth", auth: func(*env) func(*http.Request, url.Values) { return noAuth },
			strict: wantError(401, "invalid_client"), quirky: wantIDJAG(nil)},
		// RFC 6749 2.3: any registered method, unless a restriction.
		{quirk: "idp-client-auth-post-only", auth: func(*env) func(*http.Request, url.Values) { return agent0Basic },
			strict: wantIDJAG(nil), quirky: wantError(401, "invalid_client")},
		{quirk: "idp-client-auth-basic-only", auth: func(*env) func(*http.Request, url.Values) {
			return postSecret(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)
		}, strict: wantIDJAG(nil), quirky: wantError(401, "invalid_client")},
		// checklist 1: the audience parameter picks the resource app, unless resource-overrides-audience.
		{quirk: "resource-overrides-audience", edit: func(_ *env, f url.Values) { f.Set("audience", "https://typo.example") },
			strict: wantError(400, "invalid_target"), quirky: wantIDJAG(func(t *testing.T, e *env, c map[string]any) {
				if c["aud"] != e.todo0Audience() {
					t.Errorf("aud %v, want the resource's AS %s", c["aud"], e.todo0Audience())
				}
			})},
		// ID-JAG aud is a string by default (RFC 7519 allows either).
		{quirk: "aud-array", strict: wantIDJAG(func(t *testing.T, e *env, c map[string]any) {
			if _, ok := c["aud"].(string); !ok {
				t.Errorf("aud %v, want a string", c["aud"])
			}
		}), quirky: wantIDJAG(func(t *testing.T, e *env, c map[string]any) {
			if a, ok := c["aud"].([]any); !ok || len(a) != 1 || a[0] != e.todo0Audience() {
				t.Errorf("aud %v, want [%q]", c["aud"], e.todo0Audience())
			}
		})},
		// EMA 7.4.3: the managed connection decides the optional claims (the demo
		// one includes email); act and sub_profile come only with extra-claims.
		{quirk: "extra-claims", strict: wantIDJAG(func(t *testing.T, e *env, c map[string]any) {
			for _, k := range []string{"act", "sub_profile"} {
				if _, ok := c[k]; ok {
					t.Errorf("strict ID-JAG carries %s", k)
				}
			}
		}), quirky: wantIDJAG(func(t *testing.T, e *env, c map[string]any) {
			act, _ := c["act"].(map[string]any)
			if act["sub"] != demo.Agent0IdPClientID || c["email"] != "alice@acme.example" || c["sub_profile"] != "user" {
				t.Errorf("claims act=%v email=%v sub_profile=%v", c["act"], c["email"], c["sub_profile"])
			}
		})},
		// checklist 1: helpful descriptions, unless generic-errors.
		{quirk: "generic-errors", edit: func(_ *env, f url.Values) { f.Set("audience", "https://unknown.example") },
			strict: wantDescription(true), quirky: wantDescription(false)},
	} {
		t.Run(tc.quirk, func(t *testing.T) {
			q, err := quirks.Parse(tc.quirk)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []struct {
				q     quirks.Set
				judge func(*testing.T, *env, response)
			}{{quirks.Set{}, tc.strict}, {q, tc.quirky}} {
				e := newEnv(t, func(c *Config) { c.Quirks = mode.q })
				g := e.signIn("alice", demo.Agent0IdPClientID, "openid profile email")
				form := e.exchangeForm(g.IDToken)
				if tc.edit != nil {
					tc.edit(e, form)
				}
				auth := agent0Basic
				if tc.auth != nil {
					auth = tc.auth(e)
				}
				mode.judge(t, e, e.post("/oauth2/token", form, auth))
			}
		})
	}
}

func wantError(status int, code string) func(*testing.T, *env, response) {
	return func(t *testing.T, _ *env, r response) {
		t.Helper()
		if r.Status != status || r.str("error") != code {
			t.Errorf("got %d %s (%s), want %d %s", r.Status, r.str("error"), r.str("error_description"), status, code)
		}
	}
}

func wantIDJAG(check func(*testing.T, *env, map[string]any)) func(*testing.T, *env, response) {
	return func(t *testing.T, e *env, r response) {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("got %d %s (%s), want an ID-JAG", r.Status, r.str("error"), r.str("error_description"))
		}
		if check != nil {
			_, claims := peek(t, r.str("access_token"))
			check(t, e, claims)
		}
	}
}

func wantDescription(detailed bool) func(*testing.T, *env, response) {
	return func(t *testing.T, _ *env, r response) {
		t.Helper()
		d := r.str("error_description")
		if r.str("error") != "invalid_target" || strings.Contains(d, "https://unknown.example") != detailed {
			t.Errorf("detailed=%v: %s %q", detailed, r.str("error"), d)
		}
	}
}
