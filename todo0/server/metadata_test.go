package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestASMetadata: RFC 8414 metadata as checklist section 3 lists it.
func TestASMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := http.Get(e.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	m := decode(t, resp)
	strs := func(k string) []string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	// RFC 8414 3.3: issuer equals the URL the metadata was fetched for
	if m["issuer"] != e.url {
		t.Errorf("issuer %v, fetched from %s", m["issuer"], e.url)
	}
	if m["token_endpoint"] != e.url+"/oauth2/token" || m["jwks_uri"] != e.url+"/oauth2/jwks" {
		t.Errorf("token_endpoint %v jwks_uri %v", m["token_endpoint"], m["jwks_uri"])
	}
	// checklist 3: grant types include jwt-bearer, and only what Todo0 serves
	if g := strs("grant_types_supported"); !slices.Equal(g, []string{oauth.GrantTypeJWTBearer}) {
		t.Errorf("grant_types_supported %v", g)
	}
	// checklist 3 / IDJAG: the id-jag grant profile is advertised
	if p := strs("authorization_grant_profiles_supported"); !slices.Contains(p, oauth.GrantProfileIDJAG) {
		t.Errorf("authorization_grant_profiles_supported %v", p)
	}
	// checklist 3: the client authentication methods the endpoint accepts
	if a := strs("token_endpoint_auth_methods_supported"); !slices.Equal(a, clientauth.Methods) {
		t.Errorf("token_endpoint_auth_methods_supported %v", a)
	}
	// RFC 8414 2 / RFC 7662: where Todo0 MCP introspects, and how it authenticates there
	if m["introspection_endpoint"] != e.url+"/oauth2/introspect" {
		t.Errorf("introspection_endpoint %v", m["introspection_endpoint"])
	}
	if a := strs("introspection_endpoint_auth_methods_supported"); !slices.Equal(a, clientauth.Methods) {
		t.Errorf("introspection_endpoint_auth_methods_supported %v", a)
	}
	// checklist 3: it must not list which IdPs it trusts, under any key or
	// nested anywhere: the whole document never names the IdP's host, and
	// every key is one this AS documents (RFC 8414 2 and the ID-JAG draft).
	raw, _ := json.Marshal(m)
	idpHost := strings.TrimPrefix(strings.ToLower(e.idp.URL), "http://")
	if strings.Contains(strings.ToLower(string(raw)), idpHost) {
		t.Errorf("metadata reveals the trusted IdP %s: %s", e.idp.URL, raw)
	}
	allowed := []string{"issuer", "token_endpoint", "jwks_uri", "grant_types_supported", "authorization_grant_profiles_supported",
		"token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported", "scopes_supported",
		"authorization_endpoint", "response_types_supported", "code_challenge_methods_supported", "dpop_signing_alg_values_supported",
		"authorization_details_types_supported", "introspection_endpoint", "introspection_endpoint_auth_methods_supported"}
	for k, v := range m {
		if !slices.Contains(allowed, k) || strings.Contains(strings.ToLower(k), "idp") || strings.Contains(strings.ToLower(k), "issuers") {
			t.Errorf("metadata field %s is not one Todo0 documents (a trusted IdP list?): %v", k, v)
		}
	}
	// the jwks_uri serves the key the access tokens are signed with
	jr, err := http.Get(e.url + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	if keys := decode(t, jr)["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != e.s.keys.ActiveKeyID() {
		t.Errorf("jwks %v", keys)
	}
}

// TestIdPJWKSCache: checklist 3.3, the IdP's JWKS is cached and an unknown
// kid refreshes it at most once per IdPJWKSMinRefresh, so a flood of tokens
// with made-up kids cannot become a flood of fetches; a rotated key is
// picked up after the interval.
func TestIdPJWKSCache(t *testing.T) {
	t.Parallel()
	const interval = 800 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.IdPJWKSMinRefresh = interval })
	start := time.Now()
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid ID-JAG: %d", resp.StatusCode)
	}
	if n := e.idp.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for the first token, want 1", n)
	}
	const flood = 40
	for i := range flood {
		wantOAuthError(t, e.redeem(sign(t, jwtSpec{kid: "made-up-" + randomID()[:6]}, e.claims())), http.StatusBadRequest, oauth.ErrInvalidGrant)
		_ = i
	}
	// At most one fetch per interval elapsed (plus the first); without the
	// limit this would be 1 + flood.
	bound := int64(1 + time.Since(start)/interval + 1)
	if n := e.idp.jwksFetches.Load(); n > bound {
		t.Errorf("%d JWKS fetches for %d unknown kids in %s, want at most %d", n, flood, time.Since(start).Round(time.Millisecond), bound)
	}
	// A valid kid is served from the cache: no fetch at all.
	before := e.idp.jwksFetches.Load()
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid ID-JAG: %d", resp.StatusCode)
	}
	if n := e.idp.jwksFetches.Load(); n != before {
		t.Errorf("a known kid caused %d fetches", n-before)
	}
	// The IdP rotates: the new kid is unknown until the interval has passed,
	// then one refresh finds it.
	e.idp.publish(idpKey2, "idp-key-2")
	time.Sleep(interval + 50*time.Millisecond)
	before = e.idp.jwksFetches.Load()
	if resp := e.redeem(sign(t, jwtSpec{key: idpKey2, kid: "idp-key-2"}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("ID-JAG signed with the rotated key: %d %v", resp.StatusCode, decode(t, resp))
	}
	if n := e.idp.jwksFetches.Load() - before; n != 1 {
		t.Errorf("rotation took %d fetches, want 1", n)
	}
}

// TestNoKeyURLFromToken: checklist 3.3, keys are never fetched from a URL
// inside the token (jku, x5u): an attacker's key set is not consulted.
func TestNoKeyURLFromToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
	}))
	defer attacker.Close()
	for _, hdr := range []string{"jku", "x5u"} {
		tok := sign(t, jwtSpec{key: strangerKey, kid: "attacker-kid", header: map[string]any{hdr: attacker.URL + "/keys"}}, e.claims())
		wantOAuthError(t, e.redeem(tok), http.StatusBadRequest, oauth.ErrInvalidGrant)
		// and with the real kid, the stranger's signature still fails
		tok = sign(t, jwtSpec{key: strangerKey, header: map[string]any{hdr: attacker.URL + "/keys"}}, e.claims())
		wantOAuthError(t, e.redeem(tok), http.StatusBadRequest, oauth.ErrInvalidGrant)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the URL in the token was fetched %d times", n)
	}
}

// TestMaintainPrunesReplayStore: checklist 3.7, a jti is remembered until
// its exp (plus skew) and then cleaned up by Maintain.
func TestMaintainPrunesReplayStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := sign(t, jwtSpec{}, e.claims()) // exp in 5 minutes
	if resp := e.redeem(tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("redeem %d", resp.StatusCode)
	}
	ctx := context.Background()
	if err := e.s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.seenJTI != 1 {
		t.Fatalf("Maintain dropped an unexpired jti: %+v", st)
	}
	// The replay is still refused after a Maintain.
	wantOAuthError(t, e.redeem(tok), http.StatusBadRequest, oauth.ErrInvalidGrant)
	real := e.s.now
	e.s.now = func() time.Time { return real().Add(10 * time.Minute) }
	defer func() { e.s.now = real }()
	if err := e.s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.seenJTI != 0 {
		t.Errorf("Maintain kept an expired jti: %+v", st)
	}
}

// TestReplayRecordOutlivesAccessToken: checklist 3.7, the grant is the
// ID-JAG's replay record; when the access token expires before the ID-JAG,
// Maintain keeps the record until the ID-JAG has expired too.
func TestReplayRecordOutlivesAccessToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg *Config) { cfg.AccessTokenTTL = time.Minute })
	tok := sign(t, jwtSpec{}, e.claims()) // exp in 5 minutes
	if resp := e.redeem(tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("redeem %d", resp.StatusCode)
	}
	real := e.s.now
	defer func() { e.s.now = real }()
	e.s.now = func() time.Time { return real().Add(3 * time.Minute) }
	if err := e.s.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.redeem(tok), http.StatusBadRequest, oauth.ErrInvalidGrant)
	e.s.now = func() time.Time { return real().Add(10 * time.Minute) }
	if err := e.s.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.seenJTI != 0 || st.grants != 0 {
		t.Errorf("Maintain kept an expired grant: %+v", st)
	}
}

// Todo0's authorization endpoint exists for the TypeScript MCP SDK's metadata
// schema but grants nothing: access comes only through an ID-JAG.
func TestAuthorizationEndpointGrantsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := http.Get(e.url + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, resp)
	if m["authorization_endpoint"] != e.url+"/oauth2/authorize" {
		t.Fatalf("authorization_endpoint = %v", m["authorization_endpoint"])
	}
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Get(e.url + "/oauth2/authorize?response_type=code&client_id=agent0-at-todo0&redirect_uri=https://evil.example/cb&state=s")
	if err != nil {
		t.Fatal(err)
	}
	body := decode(t, resp)
	if resp.StatusCode != http.StatusBadRequest || body["error"] != oauth.ErrUnsupportedRespType || resp.Header.Get("Location") != "" {
		t.Fatalf("authorize: %d %v (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
}
