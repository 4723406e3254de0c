package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestTokenExchangeRules is checklist 1 and the IdP rows of
// section 6: each row names its rule, sends one exchange and expects the
// project's error code and status. Denials must also be audited under the
// rule that fired, so a row cannot pass because a later check caught it.
func TestTokenExchangeRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid profile email offline_access")
	bob := e.signIn("bob", demo.Agent0IdPClientID, "openid offline_access")
	aliceAtTodo0 := e.signIn("alice", demo.Todo0IdPClientID, "openid")
	noOpenID := e.signIn("alice", demo.Agent0IdPClientID, "offline_access")
	const actor = "test"

	foreignKey := func() jose.JSONWebKey {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return jose.JSONWebKey{Key: k, KeyID: e.s.keys.ActiveKeyID(), Algorithm: "ES256"}
	}()

	type row struct {
		name string
		// prep changes the form or the world; world changes must undo
		// themselves with t.Cleanup.
		prep   func(t *testing.T, f url.Values)
		auth   func(*http.Request, url.Values)
		status int
		code   string
		rule   string // substring of the audited rule (denials after client auth)
		// challenge: RFC 6749 5.2, invalid_client after HTTP Basic carries WWW-Authenticate
		challenge bool
	}
	rows := []row{
		// checklist 6: missing parameters -> 400 invalid_request
		{name: "checklist 6: requested_token_type missing", prep: func(t *testing.T, f url.Values) { f.Del("requested_token_type") }, status: 400, code: "invalid_request", rule: "requested_token_type"},
		{name: "IDJAG 4.3: requested_token_type must be id-jag", prep: func(t *testing.T, f url.Values) { f.Set("requested_token_type", oauth.TokenTypeAccessToken) }, status: 400, code: "invalid_request", rule: "requested_token_type"},
		{name: "checklist 6: audience missing", prep: func(t *testing.T, f url.Values) { f.Del("audience") }, status: 400, code: "invalid_request", rule: "required parameter"},
		{name: "checklist 6: subject_token missing", prep: func(t *testing.T, f url.Values) { f.Del("subject_token") }, status: 400, code: "invalid_request", rule: "required parameter"},
		{name: "checklist 6: subject_token_type missing", prep: func(t *testing.T, f url.Values) { f.Del("subject_token_type") }, status: 400, code: "invalid_request", rule: "required parameter"},
		{name: "checklist 6: unsupported subject_token_type (saml1) -> invalid_request", prep: func(t *testing.T, f url.Values) {
			f.Set("subject_token_type", "urn:ietf:params:oauth:token-type:saml1")
		}, status: 400, code: "invalid_request", rule: "subject_token_type"},
		{name: "IDJAG 4.3: one audience per ID-JAG", prep: func(t *testing.T, f url.Values) { f.Add("audience", "http://other.example") }, status: 400, code: "invalid_request", rule: "single audience"},

		// checklist 1 client authentication: confidential clients only, 401
		{name: "checklist 6: no client credentials -> 401 invalid_client", auth: func(r *http.Request, f url.Values) { f.Set("client_id", demo.Agent0IdPClientID) }, status: 401, code: "invalid_client"},
		{name: "checklist 6: wrong client secret (basic) -> 401 invalid_client with WWW-Authenticate", auth: basic(demo.Agent0IdPClientID, "wrong"), status: 401, code: "invalid_client", challenge: true},
		{name: "checklist 6: unknown client (basic) -> 401 invalid_client with WWW-Authenticate", auth: basic("nobody", "x"), status: 401, code: "invalid_client", challenge: true},
		{name: "checklist 6: wrong client secret (post) -> 401 invalid_client", auth: postSecret(demo.Agent0IdPClientID, "wrong"), status: 401, code: "invalid_client"},
		{name: "checklist 1: private_key_jwt with the wrong aud -> invalid_client", auth: e.assertion(func(c *jwt.Claims) { c.Audience = jwt.Audience{"http://todo0.example"} }), status: 401, code: "invalid_client"},
		{name: "checklist 1: expired private_key_jwt -> invalid_client", auth: e.assertion(func(c *jwt.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-10 * time.Minute))
			c.Expiry = jwt.NewNumericDate(time.Now().Add(-5 * time.Minute))
		}), status: 401, code: "invalid_client"},
		{name: "checklist 1: private_key_jwt without jti -> invalid_client", auth: e.assertion(func(c *jwt.Claims) { c.ID = "" }), status: 401, code: "invalid_client"},
		{name: "checklist 1: client not allowed the token-exchange grant -> unauthorized_client", auth: basic(demo.Todo0IdPClientID, demo.Todo0IdPClientSecret),
			prep: func(t *testing.T, f url.Values) { f.Set("subject_token", aliceAtTodo0.IDToken) }, status: 400, code: "unauthorized_client"},

		// checklist 1.1: the ID token subject
		{name: "checklist 1.1 / 6: ID token issued to another client -> invalid_grant", prep: func(t *testing.T, f url.Values) { f.Set("subject_token", aliceAtTodo0.IDToken) }, status: 400, code: "invalid_grant", rule: "aud = client"},
		{name: "checklist 1.1 / 6: expired ID token -> invalid_grant", prep: func(t *testing.T, f url.Values) { e.advance(t, e.s.cfg.IDTokenTTL+time.Minute) }, status: 400, code: "invalid_grant", rule: "subject token"},
		{name: "checklist 1.1 / 6: ID token with a bad signature -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			parts := strings.Split(alice.IDToken, ".")
			f.Set("subject_token", parts[0]+"."+parts[1]+"."+strings.Repeat("A", len(parts[2])))
		}, status: 400, code: "invalid_grant", rule: "subject token"},
		{name: "checklist 1.1 / 6: ID token from a foreign issuer -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			f.Set("subject_token", e.sign(foreignKey, "JWT", jwt.Claims{Issuer: "http://evil.example", Subject: "00u_alice", Audience: jwt.Audience{demo.Agent0IdPClientID},
				IssuedAt: jwt.NewNumericDate(e.now()), Expiry: jwt.NewNumericDate(e.now().Add(time.Hour))}))
		}, status: 400, code: "invalid_grant", rule: "subject token"},
		{name: "checklist 1.1: our issuer but signed by a key we never published -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			f.Set("subject_token", e.sign(foreignKey, "JWT", jwt.Claims{Issuer: e.s.cfg.Issuer, Subject: "00u_alice", Audience: jwt.Audience{demo.Agent0IdPClientID},
				IssuedAt: jwt.NewNumericDate(e.now()), Expiry: jwt.NewNumericDate(e.now().Add(time.Hour))}))
		}, status: 400, code: "invalid_grant", rule: "subject token"},
		{name: "checklist 1.1: an ID-JAG is not an ID token (typ) -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			jag, err := e.s.keys.Sign(oauth.TypIDJAG, jwt.Claims{Issuer: e.s.cfg.Issuer, Subject: "00u_alice", Audience: jwt.Audience{demo.Agent0IdPClientID},
				IssuedAt: jwt.NewNumericDate(e.now()), Expiry: jwt.NewNumericDate(e.now().Add(time.Hour))})
			if err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", jag)
		}, status: 400, code: "invalid_grant", rule: "subject token"},
		{name: "checklist 6: revoked IdP session -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
			if err := e.s.RevokeSession(ctx, actor, g.SID); err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", g.IDToken)
		}, status: 400, code: "invalid_grant", rule: "revoked IdP session"},
		{name: "checklist 6: IdP session gone (pruned) -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
			if _, err := e.s.db.Exec(`DELETE FROM sessions WHERE sid = ?`, g.SID); err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", g.IDToken)
		}, status: 400, code: "invalid_grant", rule: "revoked IdP session"},
		// The session is read with the user and its assignments; its verdict
		// still comes before the audience's.
		{name: "checklist 6: revoked IdP session, unknown audience -> the session's invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
			if err := e.s.RevokeSession(ctx, actor, g.SID); err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", g.IDToken)
			f.Set("audience", "http://unknown-as.example")
		}, status: 400, code: "invalid_grant", rule: "revoked IdP session"},

		// checklist 1.2: refresh token subject
		{name: "checklist 1.2 / 6: revoked refresh token -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
			if _, err := e.s.db.Exec(`UPDATE refresh_tokens SET revoked_at = 1 WHERE user_id = '00u_alice' AND sid = ?`, g.SID); err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", g.RefreshToken)
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "refresh token subject"},
		{name: "checklist 1.2: refresh token of a revoked session -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
			if _, err := e.s.db.Exec(`UPDATE sessions SET revoked_at = 1 WHERE sid = ?`, g.SID); err != nil {
				t.Fatal(err)
			}
			f.Set("subject_token", g.RefreshToken)
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "revoked IdP session"},
		{name: "checklist 1.2: refresh token issued to another client -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			g := e.signIn("alice", demo.Todo0IdPClientID, "openid offline_access")
			f.Set("subject_token", g.RefreshToken)
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "refresh token client"},
		{name: "checklist 1.2: expired refresh token -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			e.advance(t, e.s.cfg.RefreshTokenTTL+time.Hour)
			f.Set("subject_token", alice.RefreshToken)
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "refresh token subject"},
		{name: "checklist 1.2: refresh token whose grant has no openid -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			f.Set("subject_token", noOpenID.RefreshToken)
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "scopes within grant"},
		{name: "checklist 1.2: unknown refresh token -> invalid_grant", prep: func(t *testing.T, f url.Values) {
			f.Set("subject_token", "not-a-refresh-token")
			f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		}, status: 400, code: "invalid_grant", rule: "refresh token subject"},

		// checklist 1.4 / 1.6: where the ID-JAG goes
		{name: "checklist 6: unknown audience -> invalid_target", prep: func(t *testing.T, f url.Values) { f.Set("audience", "http://unknown-as.example") }, status: 400, code: "invalid_target", rule: "known audience"},
		{name: "checklist 1.6: audience is the IdP itself -> invalid_target", prep: func(t *testing.T, f url.Values) { f.Set("audience", e.s.cfg.Issuer) }, status: 400, code: "invalid_target", rule: "1.6"},
		{name: "checklist 1.4 / 6: resource not served by the audience -> invalid_target", prep: func(t *testing.T, f url.Values) { f.Set("resource", "http://localhost:9999/mcp") }, status: 400, code: "invalid_target", rule: "(audience, resource) pair"},
		{name: "RFC 8707 2: resource with a fragment -> invalid_target", prep: func(t *testing.T, f url.Values) { f.Set("resource", e.mcpResource()+"#x") }, status: 400, code: "invalid_target", rule: "RFC 8707"},
		{name: "RFC 8707 2: relative resource -> invalid_target", prep: func(t *testing.T, f url.Values) { f.Set("resource", "/mcp") }, status: 400, code: "invalid_target", rule: "RFC 8707"},

		// checklist 1.3: the user
		{name: "checklist 1.3 / 6: user deactivated -> access_denied", prep: func(t *testing.T, f url.Values) {
			if _, err := e.s.SetUserActive(ctx, actor, "00u_alice", false); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = e.s.SetUserActive(ctx, actor, "00u_alice", true) })
		}, status: 400, code: "access_denied", rule: "user active"},
		{name: "checklist 1.3 / 6: user not assigned to the resource app -> access_denied", prep: func(t *testing.T, f url.Values) { f.Set("subject_token", bob.IDToken) }, status: 400, code: "access_denied", rule: "user assigned"},
		{name: "checklist 1.3: assignment removed by the admin -> access_denied", prep: func(t *testing.T, f url.Values) {
			if _, err := e.s.SetAssignment(ctx, actor, demo.AppTodo0, AssignmentInput{UserID: "00u_alice"}, false); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = e.s.SetAssignment(ctx, actor, demo.AppTodo0, AssignmentInput{UserID: "00u_alice"}, true)
			})
		}, status: 400, code: "access_denied", rule: "user assigned"},

		// checklist 1.4: managed connection policy
		{name: "checklist 1.4 / 6: no managed connection -> access_denied", prep: func(t *testing.T, f url.Values) {
			c, _ := e.s.GetConnection(ctx, "mc_agent0_todo0")
			if err := e.s.DeleteConnection(ctx, actor, c.ID); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = e.s.db.Exec(`INSERT INTO managed_connections(id, client_id, resource_app_id, resources, scopes, resource_client_id, include_email, enabled, group_id) VALUES (?,?,?,?,?,?,?,?,?)`,
					c.ID, c.ClientID, c.ResourceAppID, mustJSON(c.Resources), mustJSON(c.Scopes), c.ResourceClientID, c.IncludeEmail, c.Enabled, c.GroupID)
			})
		}, status: 400, code: "access_denied", rule: "managed connection"},
		{name: "checklist 1.4: connection disabled -> access_denied", prep: func(t *testing.T, f url.Values) {
			setConn(t, e, ConnectionInput{Enabled: ptr(false)}, ConnectionInput{Enabled: ptr(true)})
		}, status: 400, code: "access_denied", rule: "connection enabled"},
		{name: "checklist 1.4: connection restricted to a group the user is not in -> access_denied", prep: func(t *testing.T, f url.Values) {
			ensureGroup(t, e, "xaa-pilot")
			setConn(t, e, ConnectionInput{GroupID: ptr("xaa-pilot")}, ConnectionInput{GroupID: ptr("")})
		}, status: 400, code: "access_denied", rule: "group restriction"},
		{name: "checklist 1.4: resource the app serves but the connection does not allow -> access_denied", prep: func(t *testing.T, f url.Values) {
			other := e.s.cfg.Todo0MCPURL + "/admin-mcp"
			app, _ := e.s.GetApp(ctx, demo.AppTodo0)
			if _, err := e.s.UpdateApp(ctx, actor, demo.AppTodo0, AppInput{Resources: ptr(append(app.Resources, other))}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = e.s.UpdateApp(ctx, actor, demo.AppTodo0, AppInput{Resources: ptr(app.Resources)}) })
			f.Set("resource", other)
		}, status: 400, code: "access_denied", rule: "resource allowed"},

		// checklist 1.5: scopes
		{name: "checklist 1.5 / 6: no requested scope allowed -> invalid_scope", prep: func(t *testing.T, f url.Values) { f.Set("scope", "todos.admin") }, status: 400, code: "invalid_scope", rule: "scope narrowing"},
		{name: "checklist 1.5: connection allows no scope at all -> invalid_scope", prep: func(t *testing.T, f url.Values) {
			setConn(t, e, ConnectionInput{Scopes: ptr([]string{})}, ConnectionInput{Scopes: ptr(demo.Todo0Scopes)})
			f.Del("scope")
		}, status: 400, code: "invalid_scope", rule: "scope narrowing"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			f := e.exchangeForm(alice.IDToken)
			if r.prep != nil {
				r.prep(t, f)
			}
			auth := r.auth
			if auth == nil {
				auth = agent0Basic
			}
			mark := e.auditMark(t)
			got := e.post("/oauth2/token", f, auth)
			if got.Status != r.status || got.str("error") != r.code {
				t.Fatalf("got %d %s, want %d %s", got.Status, got.Body, r.status, r.code)
			}
			if got.Header.Get("Cache-Control") != "no-store" || got.str("error_description") == "" {
				t.Errorf("error response must be no-store with a description: %v %s", got.Header, got.Body)
			}
			if r.challenge && !strings.HasPrefix(got.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(got.Body, demo.Agent0IdPClientSecret) {
				t.Errorf("error leaks the client secret: %s", got.Body)
			}
			if r.rule != "" {
				rec := e.auditSince(t, "token_exchange", mark)
				if rec.Outcome != "denied" || rec.Error != r.code || !strings.Contains(rec.Rule, r.rule) || rec.Reason == "" {
					t.Errorf("audit record = %+v, want denied %s under rule containing %q with a reason", rec, r.code, r.rule)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// setConn changes the seeded connection and restores it after the test.
func setConn(t *testing.T, e *env, change, restore ConnectionInput) {
	t.Helper()
	if _, err := e.s.UpdateConnection(context.Background(), "test", "mc_agent0_todo0", change); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := e.s.UpdateConnection(context.Background(), "test", "mc_agent0_todo0", restore); err != nil {
			t.Error(err)
		}
	})
}

func ensureGroup(t *testing.T, e *env, name string) {
	t.Helper()
	if _, err := e.s.GetGroup(context.Background(), name); err == nil {
		return
	}
	if _, err := e.s.CreateGroup(context.Background(), "test", GroupInput{Name: name}); err != nil {
		t.Fatal(err)
	}
}

// TestTokenExchangeGrants covers the successful paths of section 1 and the
// ID-JAG of section 2.
func TestTokenExchangeGrants(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid profile email offline_access")
	aliceSess := e.s.now().Unix()

	verifyJAG := func(t *testing.T, raw string) *jwtverify.Token {
		t.Helper()
		// Section 2: signed with the ID-token key, verifiable with the JWKS.
		v := jwtverify.Verifier{Typ: oauth.TypIDJAG, Issuers: map[string]jwtverify.KeySource{e.s.cfg.Issuer: e.s.keys}, Audience: e.todo0Audience(),
			Required: []string{"sub", "client_id", "jti", "iat", "exp"}, Now: e.now}
		tok, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID-JAG does not verify: %v", err)
		}
		return tok
	}

	t.Run("section 2: ID-JAG header and required claims", func(t *testing.T) {
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		if got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		// checklist 1 success response
		if got.str("issued_token_type") != oauth.TokenTypeIDJAG || got.str("token_type") != "N_A" || got.JSON["expires_in"] != float64(300) || got.JSON["refresh_token"] != nil {
			t.Errorf("response = %s", got.Body)
		}
		if got.Header.Get("Cache-Control") != "no-store" {
			t.Error("success response must be no-store")
		}
		raw := got.str("access_token")
		hdr, _ := peek(t, raw)
		idHdr, _ := peek(t, alice.IDToken)
		// checklist 2: typ, alg from the allow-list, kid = the ID token key
		if hdr["typ"] != oauth.TypIDJAG || hdr["alg"] != "ES256" || hdr["kid"] == "" || hdr["kid"] != idHdr["kid"] {
			t.Errorf("header = %v (ID token header %v)", hdr, idHdr)
		}
		tok := verifyJAG(t, raw)
		c := tok.Claims
		want := map[string]string{"iss": e.s.cfg.Issuer, "sub": "00u_alice", "client_id": demo.Agent0Todo0ClientID, "resource": e.mcpResource(), "scope": "todos.read todos.write", "email": "alice@acme.example"}
		for k, v := range want {
			if tok.String(k) != v {
				t.Errorf("claim %s = %q, want %q", k, tok.String(k), v)
			}
		}
		if c.ID == "" || c.IssuedAt == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) != 5*time.Minute {
			t.Errorf("jti/iat/exp = %q %v %v", c.ID, c.IssuedAt, c.Expiry)
		}
		if string(tok.Raw["auth_time"]) == "" || string(tok.Raw["auth_time"]) != jsonNum(aliceSess) || string(tok.Raw["amr"]) != `["pwd"]` {
			t.Errorf("auth_time %s (want %d), amr %s", tok.Raw["auth_time"], aliceSess, tok.Raw["amr"])
		}
		// checklist 1.7: granted decisions are audited with the connection
		rec := e.lastAudit(t, "token_exchange")
		if rec.Outcome != "granted" || rec.UserID != "00u_alice" || rec.ClientID != demo.Agent0IdPClientID || rec.AppID != demo.AppTodo0 || rec.Detail["jti"] != c.ID {
			t.Errorf("audit = %+v", rec)
		}
	})

	t.Run("section 2: email only when the connection asks", func(t *testing.T) {
		setConn(t, e, ConnectionInput{IncludeEmail: ptr(false)}, ConnectionInput{IncludeEmail: ptr(true)})
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		tok := verifyJAG(t, got.str("access_token"))
		if _, ok := tok.Raw["email"]; ok {
			t.Errorf("email present although include_email is off: %s", tok.Raw["email"])
		}
	})

	t.Run("checklist 1.5: narrowed scope is granted and echoed", func(t *testing.T) {
		f := e.exchangeForm(alice.IDToken)
		f.Set("scope", "todos.read todos.admin")
		got := e.post("/oauth2/token", f, agent0Basic)
		if got.Status != 200 || got.str("scope") != "todos.read" {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		if s := verifyJAG(t, got.str("access_token")).String("scope"); s != "todos.read" {
			t.Errorf("ID-JAG scope = %q", s)
		}
	})

	t.Run("checklist 1.5: connection narrower than the request", func(t *testing.T) {
		setConn(t, e, ConnectionInput{Scopes: ptr([]string{demo.ScopeRead})}, ConnectionInput{Scopes: ptr(demo.Todo0Scopes)})
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		if got.Status != 200 || got.str("scope") != "todos.read" {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1.5: no scope requested gets the connection's scopes", func(t *testing.T) {
		f := e.exchangeForm(alice.IDToken)
		f.Del("scope")
		got := e.post("/oauth2/token", f, agent0Basic)
		if got.Status != 200 || verifyJAG(t, got.str("access_token")).String("scope") != "todos.read todos.write" {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1.2: refresh token subject", func(t *testing.T) {
		f := e.exchangeForm(alice.RefreshToken)
		f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		got := e.post("/oauth2/token", f, agent0Basic)
		if got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		if verifyJAG(t, got.str("access_token")).Claims.Subject != "00u_alice" {
			t.Error("wrong sub")
		}
	})

	t.Run("checklist 1: client_secret_post, and an empty extra code= is ignored", func(t *testing.T) {
		f := e.exchangeForm(alice.IDToken)
		f.Set("code", "")
		if got := e.post("/oauth2/token", f, postSecret(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)); got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1: private_key_jwt, and its jti cannot be replayed", func(t *testing.T) {
		var fixed jwt.Claims
		auth := e.assertion(func(c *jwt.Claims) {
			if fixed.ID == "" {
				fixed = *c
			}
			*c = fixed
		})
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), auth); got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), auth)
		if got.Status != 401 || got.str("error") != "invalid_client" || !strings.Contains(got.str("error_description"), "jti") {
			t.Fatalf("replayed assertion: %d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1.4: group restriction lets members through", func(t *testing.T) {
		ensureGroup(t, e, "xaa-pilot")
		if _, err := e.s.SetGroupMember(ctx, "test", "xaa-pilot", "00u_alice", true); err != nil {
			t.Fatal(err)
		}
		setConn(t, e, ConnectionInput{GroupID: ptr("xaa-pilot")}, ConnectionInput{GroupID: ptr("")})
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1.3: assignment through a group counts", func(t *testing.T) {
		bob := e.signIn("bob", demo.Agent0IdPClientID, "openid")
		ensureGroup(t, e, "todo-users")
		if _, err := e.s.SetGroupMember(ctx, "test", "todo-users", "00u_bob", true); err != nil {
			t.Fatal(err)
		}
		if got := e.post("/oauth2/token", e.exchangeForm(bob.IDToken), agent0Basic); got.str("error") != "access_denied" {
			t.Fatalf("bob before group assignment: %s", got.Body)
		}
		if _, err := e.s.SetAssignment(ctx, "test", demo.AppTodo0, AssignmentInput{GroupID: "todo-users"}, true); err != nil {
			t.Fatal(err)
		}
		if got := e.post("/oauth2/token", e.exchangeForm(bob.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("bob with group assignment: %d %s", got.Status, got.Body)
		}
	})

	t.Run("checklist 1.3: reactivation restores access with the same tokens", func(t *testing.T) {
		if _, err := e.s.SetUserActive(ctx, "test", "00u_alice", false); err != nil {
			t.Fatal(err)
		}
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.str("error") != "access_denied" {
			t.Fatalf("deactivated: %s", got.Body)
		}
		if _, err := e.s.SetUserActive(ctx, "test", "00u_alice", true); err != nil {
			t.Fatal(err)
		}
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("reactivated: %d %s", got.Status, got.Body)
		}
	})

	t.Run("issue 3: revoking alice's sessions makes her refresh token useless", func(t *testing.T) {
		g := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
		f := e.exchangeForm(g.RefreshToken)
		f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		if got := e.post("/oauth2/token", f, agent0Basic); got.Status != 200 {
			t.Fatalf("before revocation: %d %s", got.Status, got.Body)
		}
		r := e.mustAdmin(http.MethodDelete, "/users/00u_alice/sessions", nil)
		if r.JSON["revoked_sessions"].(float64) < 1 || r.JSON["revoked_refresh_tokens"].(float64) < 1 {
			t.Fatalf("revoke all: %s", r.Body)
		}
		got := e.post("/oauth2/token", f, agent0Basic)
		if got.Status != 400 || got.str("error") != "invalid_grant" {
			t.Fatalf("after revocation: %d %s", got.Status, got.Body)
		}
		// the ID token of a revoked session is refused too
		if got := e.post("/oauth2/token", e.exchangeForm(g.IDToken), agent0Basic); got.str("error") != "invalid_grant" {
			t.Fatalf("ID token after revocation: %s", got.Body)
		}
	})
}

func jsonNum(n int64) string { return strings.TrimSpace(string(mustJSON(n))) }
