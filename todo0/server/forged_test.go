package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestForgedIDJAGs posts ID-JAGs that are each wrong in exactly one way. Every
// one must be refused with 400 invalid_grant (checklist 3: any assertion
// failure is invalid_grant), no-store, and must leave the database as it was:
// no grant, no provisioned user, no recorded jti.
func TestForgedIDJAGs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pubDER, err := x509.MarshalPKIXPublicKey(idpKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := time.Now()
	with := func(k string, v any) map[string]any { c := e.claims(); c[k] = v; return c }
	without := func(k string) map[string]any { c := e.claims(); delete(c, k); return c }

	for _, tc := range []struct {
		name  string
		why   string // what the error_description must say: the check that fired
		token func() string
	}{
		// checklist 3.2: alg none is refused
		{"alg none", "alg \"none\"", func() string {
			return unsigned(map[string]any{"alg": "none", "typ": oauth.TypIDJAG, "kid": "idp-key-1"}, e.claims())
		}},
		// checklist 3.2: no HMAC, so the IdP's public key cannot be used as a MAC secret
		{"HS256 keyed with the IdP public key", "alg \"HS256\"", func() string {
			return sign(t, jwtSpec{alg: jose.HS256, key: pubPEM}, e.claims())
		}},
		// checklist 3.2: the alg must be the one the published key is for (PS256 on an RS256 key)
		{"alg differs from the key's alg", "is a RS256 key, token says PS256", func() string { return sign(t, jwtSpec{alg: jose.PS256}, e.claims()) }},
		// checklist 3.3: kid must resolve in the trusted IdP's JWKS
		{"unknown kid", "signing key not found: kid \"made-up-kid\"", func() string { return sign(t, jwtSpec{kid: "made-up-kid"}, e.claims()) }},
		// checklist 3.3: kid must be present
		{"no kid", "has no kid", func() string { return sign(t, jwtSpec{kid: "-"}, e.claims()) }},
		// checklist 3.3: signature must verify with the published key
		{"signed by an unpublished key", "invalid signature", func() string { return sign(t, jwtSpec{key: strangerKey}, e.claims()) }},
		// checklist 3.3: iss must be an IdP Todo0 trusts
		{"untrusted iss", "untrusted issuer", func() string { return sign(t, jwtSpec{}, with("iss", "https://evil-idp.example")) }},
		// checklist 3.1: typ must be oauth-id-jag+jwt
		{"typ JWT", "typ is \"JWT\"", func() string { return sign(t, jwtSpec{typ: "JWT"}, e.claims()) }},
		// checklist 3.1: an access token is not an ID-JAG
		{"typ at+jwt", "typ is \"at+jwt\"", func() string { return sign(t, jwtSpec{typ: "at+jwt"}, e.claims()) }},
		// checklist 3.1: no typ at all
		{"typ missing", "typ header missing", func() string { return sign(t, jwtSpec{typ: "-"}, e.claims()) }},
		// checklist 3.1: an ID token presented as an assertion is refused
		{"an ID token", "typ is \"JWT\"", func() string {
			return sign(t, jwtSpec{typ: "JWT"}, map[string]any{
				"iss": e.idp.URL, "sub": "00u_alice", "aud": demo.Agent0IdPClientID, "azp": demo.Agent0IdPClientID,
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix(), "nonce": "n-0S6", "email": "alice@acme.example",
			})
		}},
		// checklist 3.4: aud is exactly Todo0's issuer, not another AS
		{"aud another AS", "wrong audience", func() string { return sign(t, jwtSpec{}, with("aud", "https://other-as.example")) }},
		// checklist 3.4: the token endpoint URL is not the issuer
		{"aud token endpoint", "wrong audience", func() string { return sign(t, jwtSpec{}, with("aud", e.url+"/oauth2/token")) }},
		// checklist 3.4: no prefix matching
		{"aud prefix of issuer", "wrong audience", func() string { return sign(t, jwtSpec{}, with("aud", e.url[:len(e.url)-2])) }},
		// checklist 3.4: no trailing-slash games
		{"aud issuer with trailing slash", "wrong audience", func() string { return sign(t, jwtSpec{}, with("aud", e.url+"/")) }},
		// checklist 3.4: a string or a one-element array, nothing else
		{"aud two-element array", "aud has 2 values", func() string {
			return sign(t, jwtSpec{}, with("aud", []string{e.url, "https://other-as.example"}))
		}},
		// checklist 3.5: client_id must be the authenticated client
		{"client_id of another client", "is not the authenticated client", func() string { return sign(t, jwtSpec{}, with("client_id", "some-other-agent")) }},
		// checklist 3.6: exp in the past (beyond the 30 s skew)
		{"expired", "token expired", func() string {
			c := e.claims()
			c["iat"], c["exp"] = now.Add(-6*time.Minute).Unix(), now.Add(-time.Minute).Unix()
			return sign(t, jwtSpec{}, c)
		}},
		// checklist 3.6: nbf respected
		{"nbf in the future", "not yet valid", func() string { return sign(t, jwtSpec{}, with("nbf", now.Add(2*time.Minute).Unix())) }},
		// checklist 3.6: iat not in the future
		{"iat in the future", "issued in the future", func() string { return sign(t, jwtSpec{}, with("iat", now.Add(2*time.Minute).Unix())) }},
		// checklist 3.6: iat not too old (MaxIDJAGAge 10m)
		{"iat too old", "issued too long ago", func() string { return sign(t, jwtSpec{}, with("iat", now.Add(-20*time.Minute).Unix())) }},
		// IDJAG 2 required claims: iss, sub, aud, client_id, jti, exp, iat
		{"missing iss", "required claim missing: iss", func() string { return sign(t, jwtSpec{}, without("iss")) }},
		{"missing sub", "required claim missing: sub", func() string { return sign(t, jwtSpec{}, without("sub")) }},
		{"missing aud", "aud claim missing", func() string { return sign(t, jwtSpec{}, without("aud")) }},
		{"missing client_id", "required claim missing: client_id", func() string { return sign(t, jwtSpec{}, without("client_id")) }},
		{"missing jti", "required claim missing: jti", func() string { return sign(t, jwtSpec{}, without("jti")) }},
		{"missing exp", "required claim missing: exp", func() string { return sign(t, jwtSpec{}, without("exp")) }},
		{"missing iat", "required claim missing: iat", func() string { return sign(t, jwtSpec{}, without("iat")) }},
		// IDJAG 2: required claims are non-empty strings (sub keys the user, jti the replay record)
		{"empty sub", "required claim missing: sub", func() string { return sign(t, jwtSpec{}, with("sub", "")) }},
		{"empty jti", "required claim missing: jti", func() string { return sign(t, jwtSpec{}, with("jti", "")) }},
		{"empty client_id", "required claim missing: client_id", func() string { return sign(t, jwtSpec{}, with("client_id", "")) }},
		{"numeric sub", "malformed JWT", func() string { return sign(t, jwtSpec{}, with("sub", 42)) }},
		{"numeric jti", "malformed JWT", func() string { return sign(t, jwtSpec{}, with("jti", 12345)) }},
		{"numeric client_id", "malformed JWT", func() string { return sign(t, jwtSpec{}, with("client_id", 7)) }},
		// checklist 3.8: resource must be one of Todo0's own resources
		{"foreign resource", "is not a Todo0 resource", func() string { return sign(t, jwtSpec{}, with("resource", "https://evil.example/mcp")) }},
		// checklist 3.8: no prefix games on resource either
		{"resource with trailing slash", "is not a Todo0 resource", func() string {
			return sign(t, jwtSpec{}, with("resource", demo.Todo0MCPURL+demo.MCPPath+"/"))
		}},
		// checklist 3.9: a scope Todo0 does not know -> invalid_grant (EMA)
		{"unknown scope", "scope \"todos.admin\" is unknown", func() string { return sign(t, jwtSpec{}, with("scope", "todos.read todos.admin")) }},
		// checklist 3.9: an ID-JAG granting nothing (an empty scope claim; no claim at all gets DefaultScopes)
		{"empty scope", "grants no scope", func() string { return sign(t, jwtSpec{}, with("scope", "")) }},
		// checklist 3: a well-formed JWT is required at all
		{"not a JWT", "3 dot-separated parts", func() string { return "not-a-jwt" }},
		{"header not JSON", "header is not base64url JSON", func() string { return "bm90IGpzb24." + strings.SplitN(sign(t, jwtSpec{}, e.claims()), ".", 2)[1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state()
			resp := e.redeem(tc.token())
			m := wantOAuthError(t, resp, http.StatusBadRequest, oauth.ErrInvalidGrant)
			if d, _ := m["error_description"].(string); !strings.Contains(d, tc.why) {
				t.Errorf("refused for the wrong reason: %q, want it to say %q", d, tc.why)
			}
			if _, ok := m["access_token"]; ok {
				t.Error("a refusal carries an access_token")
			}
			if after := e.state(); after != before {
				t.Errorf("database changed: %+v -> %+v", before, after)
			}
		})
	}
	// The control case: the same machinery with nothing wrong succeeds, so
	// the refusals above are each due to their one defect.
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("control case: %d %v", resp.StatusCode, decode(t, resp))
	}
}

// TestRedeemWellFormedIDJAG is the control case in full (checklist 3 response,
// RFC 9068 access token).
func TestRedeemWellFormedIDJAG(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.state()
	c := e.claims()
	resp := e.redeem(sign(t, jwtSpec{}, c))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, decode(t, resp))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	m := decode(t, resp)
	// checklist 3: token_type Bearer, no refresh token
	if m["token_type"] != "Bearer" {
		t.Errorf("token_type %v", m["token_type"])
	}
	if _, ok := m["refresh_token"]; ok {
		t.Error("a refresh_token was issued; the client must go back to the IdP instead")
	}
	if m["expires_in"] != float64(300) || m["scope"] != "todos.read todos.write" {
		t.Errorf("expires_in %v scope %v", m["expires_in"], m["scope"])
	}
	resource := demo.Todo0MCPURL + demo.MCPPath
	// RFC 9068: typ at+jwt with iss, sub, aud (= the resource), client_id, iat, exp, jti, scope
	v := jwtverify.Verifier{Typ: oauth.TypAccessToken, Issuers: map[string]jwtverify.KeySource{e.url: e.s.keys},
		Audience: resource, Required: []string{"sub", "client_id", "iat", "exp", "jti", "scope"}}
	at, err := v.Verify(context.Background(), m["access_token"].(string))
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	var userID string
	if err := e.s.db.QueryRow(`SELECT id FROM users WHERE iss = ? AND sub = ?`, e.idp.URL, "00u_alice").Scan(&userID); err != nil {
		t.Fatalf("checklist 3.10: user not provisioned by (iss, sub): %v", err)
	}
	if at.Claims.Subject != userID || at.String("client_id") != demo.Agent0Todo0ClientID || at.String("scope") != "todos.read todos.write" {
		t.Errorf("claims: sub %q (user %q) client_id %q scope %q", at.Claims.Subject, userID, at.String("client_id"), at.String("scope"))
	}
	after := e.state()
	if after.grants != before.grants+1 || after.users != before.users+1 || after.seenJTI != before.seenJTI+1 {
		t.Errorf("state %+v -> %+v, want one grant, one user, one jti", before, after)
	}
	var gjti, gjag string
	if err := e.s.db.QueryRow(`SELECT jti, id_jag_jti FROM grants`).Scan(&gjti, &gjag); err != nil || gjti != at.Claims.ID || gjag != c["jti"] {
		t.Errorf("grant row %q %q, want %q %q (%v)", gjti, gjag, at.Claims.ID, c["jti"], err)
	}
	// checklist 3.10: a second ID-JAG for the same (iss, sub) reuses the user
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("second redemption %d", resp.StatusCode)
	}
	if st := e.state(); st.users != after.users {
		t.Errorf("users %d -> %d: (iss, sub) must map to one user", after.users, st.users)
	}
}

// TestReplayedIDJAG: EMA / checklist 3.7, a jti is redeemed at most once.
func TestReplayedIDJAG(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := sign(t, jwtSpec{}, e.claims())
	if resp := e.redeem(tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("first redemption %d %v", resp.StatusCode, decode(t, resp))
	}
	before := e.state()
	m := wantOAuthError(t, e.redeem(tok), http.StatusBadRequest, oauth.ErrInvalidGrant)
	if !strings.Contains(m["error_description"].(string), "replay") {
		t.Errorf("description %q does not say replay", m["error_description"])
	}
	if after := e.state(); after != before {
		t.Errorf("database changed on the replay: %+v -> %+v", before, after)
	}
}

// TestAcceptedIDJAGVariants: what the checklist allows must keep working
// while everything else is refused.
func TestAcceptedIDJAGVariants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name  string
		token func() string
	}{
		// checklist 3.4: aud may be a one-element array
		{"aud one-element array", func() string { c := e.claims(); c["aud"] = []string{e.url}; return sign(t, jwtSpec{}, c) }},
		// RFC 7515 4.1.9: typ compares case-insensitively, "application/" optional
		{"typ with application/ prefix", func() string { return sign(t, jwtSpec{typ: "application/oauth-id-jag+jwt"}, e.claims()) }},
		// checklist 3.8: resource is optional; the token is then for Todo0's (first) resource
		{"no resource", func() string { c := e.claims(); delete(c, "resource"); return sign(t, jwtSpec{}, c) }},
		// checklist 3.6: small clock skew tolerated on iat and nbf
		{"iat 10s in the future", func() string {
			c := e.claims()
			c["iat"] = time.Now().Add(10 * time.Second).Unix()
			return sign(t, jwtSpec{}, c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.redeem(tc.token())
			m := decode(t, resp)
			if resp.StatusCode != http.StatusOK || m["token_type"] != "Bearer" {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
		})
	}
}

// TestConcurrentReplay: EMA / checklist 3.7, racing redemptions of one
// ID-JAG yield exactly one access token (the grant's insert is atomic),
// for a new user (user and grant in one transaction) and for a known one
// (the grant alone).
func TestConcurrentReplay(t *testing.T) {
	t.Parallel()
	for _, known := range []bool{false, true} {
		e := newEnv(t)
		grants := 1
		if known {
			if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
				t.Fatalf("first redemption %d", resp.StatusCode)
			}
			grants++
		}
		tok := sign(t, jwtSpec{}, e.claims())
		const n = 8
		codes := make(chan int, n)
		for range n {
			go func() {
				resp := e.redeem(tok)
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		ok := 0
		for range n {
			if <-codes == http.StatusOK {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("known user %v: %d of %d concurrent redemptions succeeded, want 1", known, ok, n)
		}
		if st := e.state(); st.grants != grants || st.seenJTI != grants || st.users != 1 {
			t.Errorf("known user %v: state %+v", known, st)
		}
	}
}

// TestRedemptionIsOneTransaction: EMA jti replay and checklist 3.10 are
// written with the grant in one commit. When the grant cannot be stored, the
// redemption fails with server_error and leaves nothing behind: no jti
// record (the same ID-JAG is redeemed once the store works again), no user.
func TestRedemptionIsOneTransaction(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s.db.Exec(`CREATE TRIGGER test_grant_fails BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'test: the grant cannot be stored'); END`); err != nil {
		t.Fatal(err)
	}
	before := e.state()
	jag := sign(t, jwtSpec{}, e.claims())
	wantOAuthError(t, e.redeem(jag), http.StatusInternalServerError, "server_error")
	if after := e.state(); after != before {
		t.Fatalf("a failed redemption changed the database: %+v -> %+v (jti record or user written without the grant)", before, after)
	}
	if _, err := e.s.db.Exec(`DROP TRIGGER test_grant_fails`); err != nil {
		t.Fatal(err)
	}
	resp := e.redeem(jag)
	if resp.StatusCode != http.StatusOK {
		m := decode(t, resp)
		t.Fatalf("the ID-JAG whose redemption failed is refused afterwards: %d %v %v", resp.StatusCode, m["error"], m["error_description"])
	}
	m := decode(t, resp)
	if after := e.state(); after.grants != before.grants+1 || after.seenJTI != before.seenJTI+1 || after.users != before.users+1 {
		t.Errorf("after the redemption: %+v, want one more grant, jti record and user than %+v", after, before)
	}
	// The user rolled back with the failed redemption is the one written now.
	_, at, err := jwtverify.Peek(m["access_token"].(string))
	var n int
	if err == nil {
		err = e.s.db.QueryRow(`SELECT COUNT(*) FROM users WHERE id = ?`, at["sub"]).Scan(&n)
	}
	if n != 1 {
		t.Errorf("the access token's sub %v is no user (%v)", at["sub"], err)
	}
}

// A redemption whose client hung up once the request was read runs to its
// end: the ID-JAG is recorded as redeemed (so it cannot be presented again)
// rather than half-stored or refused because the request was cancelled.
func TestRedemptionRunsToItsEndAfterHangUp(t *testing.T) {
	e := newEnv(t)
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK { // the client is known, the IdP's keys fetched
		t.Fatalf("first redemption: %d", resp.StatusCode)
	}
	before := e.state()
	jag := sign(t, jwtSpec{}, e.claims())
	form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, e.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
	rec := httptest.NewRecorder()
	e.s.token(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("redemption after hang-up: %d %s", rec.Code, rec.Body)
	}
	if after := e.state(); after.grants != before.grants+1 {
		t.Errorf("after the redemption: %+v, want one more grant than %+v", after, before)
	}
	wantOAuthError(t, e.redeem(jag), http.StatusBadRequest, oauth.ErrInvalidGrant)
}
