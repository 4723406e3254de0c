package server

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// The IdP's discovery document, at both well-known paths, names what a
// requesting app needs for Cross App Access.
func TestDiscoveryMetadata(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
			got := e.do(req)
			if got.Status != http.StatusOK {
				t.Fatalf("%d %s", got.Status, got.Body)
			}
			strs := func(k string) []string {
				var out []string
				vs, _ := got.JSON[k].([]any)
				for _, v := range vs {
					s, _ := v.(string)
					out = append(out, s)
				}
				return out
			}
			// RFC 8414 3.3 / OIDC Discovery 4.3: issuer is the URL fetched from
			if got.str("issuer") != e.ts.URL || got.str("token_endpoint") != e.ts.URL+"/oauth2/token" {
				t.Errorf("issuer %q token_endpoint %q", got.str("issuer"), got.str("token_endpoint"))
			}
			// checklist Constants / draft-ietf-oauth-identity-chaining: the IdP
			// says it issues ID-JAGs by token exchange
			if v := strs("identity_chaining_requested_token_types_supported"); !slices.Equal(v, []string{oauth.TokenTypeIDJAG}) {
				t.Errorf("identity_chaining_requested_token_types_supported = %v, want [%s]", v, oauth.TokenTypeIDJAG)
			}
			if v := strs("grant_types_supported"); !slices.Contains(v, oauth.GrantTypeTokenExchange) {
				t.Errorf("grant_types_supported = %v lacks token exchange", v)
			}
		})
	}
}

// RFC 6749 5.2 and checklist 1: the token endpoint's grant_type dispatch.
func TestTokenEndpointGrantType(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name        string
		grant       []string // nil: no grant_type parameter at all
		status      int
		code        string
		description string
	}{
		// checklist 1: grant_type is required; its absence is a malformed
		// request, not an unsupported grant
		{name: "missing grant_type", grant: nil, status: 400, code: oauth.ErrInvalidRequest},
		{name: "empty grant_type", grant: []string{""}, status: 400, code: oauth.ErrInvalidRequest},
		{name: "unknown grant_type", grant: []string{"urn:example:magic"}, status: 400, code: oauth.ErrUnsupportedGrantType},
		{name: "client_credentials is not served", grant: []string{oauth.GrantTypeClientCredentials}, status: 400, code: oauth.ErrUnsupportedGrantType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"subject_token": {"x"}}
			if tc.grant != nil {
				f["grant_type"] = tc.grant
			}
			got := e.post("/oauth2/token", f, agent0Basic)
			if got.Status != tc.status || got.str("error") != tc.code || got.str("error_description") == "" {
				t.Fatalf("got %d %s, want %d %s with a description", got.Status, got.Body, tc.status, tc.code)
			}
			if got.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", got.Header.Get("Cache-Control"))
			}
		})
	}
}
