package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestAdminAPIRefuses: the admin API needs the admin token, refuses
// cross-site browser requests, and answers malformed input with
// 400 invalid_request in the one error shape.
func TestAdminAPIRefuses(t *testing.T) {
	e := newEnv(t)
	type row struct {
		name         string
		method, path string
		body         string
		hdr          map[string]string
		status       int
		code         string
	}
	auth := map[string]string{"Authorization": "Bearer " + demo.IdPAdminToken}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range auth {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	rows := []row{
		{"no token", "GET", "/users", "", nil, 401, "invalid_token"},
		{"wrong token", "GET", "/users", "", map[string]string{"Authorization": "Bearer acme-admin-tokeN"}, 401, "invalid_token"},
		{"basic instead of bearer", "GET", "/users", "", map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4tZGVtbw=="}, 401, "invalid_token"},
		{"no token on a write", "POST", "/users/00u_alice/deactivate", "", nil, 401, "invalid_token"},
		{"no token on key rotation", "POST", "/keys/rotate", "", nil, 401, "invalid_token"},
		{"no token on audit export", "GET", "/audit/export", "", nil, 401, "invalid_token"},
		{"cross-site fetch, even with the token", "POST", "/users/00u_alice/deactivate", "", with(map[string]string{"Sec-Fetch-Site": "cross-site"}), 403, "access_denied"},
		{"same-site (other port) fetch", "POST", "/users/00u_alice/deactivate", "", with(map[string]string{"Sec-Fetch-Site": "same-site"}), 403, "access_denied"},
		{"foreign Origin", "POST", "/users/00u_alice/deactivate", "", with(map[string]string{"Origin": "http://evil.example"}), 403, "access_denied"},
		{"null Origin", "POST", "/users/00u_alice/deactivate", "", with(map[string]string{"Origin": "null"}), 403, "access_denied"},
		// DNS rebinding: another name for our address, with an Origin that matches that name.
		{"rebound Host with a matching Origin", "POST", "/users/00u_alice/deactivate", "", with(map[string]string{"Host": "rebind.example:" + e.port(), "Origin": "http://rebind.example:" + e.port()}), 400, "invalid_request"},
		{"bad JSON", "POST", "/users", `{"username":`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"unknown field", "POST", "/users", `{"username":"dave","name":"Dave","email":"d@acme.example","password":"dave-demo-pw","role":"root"}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"trailing data", "POST", "/groups", `{"name":"a"} {"name":"b"}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"form body instead of JSON", "POST", "/groups", `name=a`, with(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), 400, "invalid_request"},
		{"oversized body", "POST", "/groups", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"missing required fields", "POST", "/users", `{"username":"dave"}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"unknown user", "POST", "/users/00u_nobody/deactivate", "", auth, 404, "invalid_request"},
		{"unknown endpoint", "GET", "/nope", "", auth, 404, "invalid_request"},
		{"duplicate username", "POST", "/users", `{"username":"alice","name":"A","email":"a@acme.example","password":"password1"}`, with(map[string]string{"Content-Type": "application/json"}), 409, "invalid_request"},
		{"connection to a resource the app does not serve", "PATCH", "/connections/mc_agent0_todo0", `{"resources":["http://localhost:9/mcp"]}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"app audience = the IdP (checklist 1.6)", "PATCH", "/apps/todo0", `{"audience":"` + e.ts.URL + `"}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
		{"public client (auth method none)", "POST", "/clients", `{"app_id":"agent0","name":"x","token_endpoint_auth_methods":["none"]}`, with(map[string]string{"Content-Type": "application/json"}), 400, "invalid_request"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			req, _ := http.NewRequest(r.method, e.ts.URL+"/admin/api"+r.path, strings.NewReader(r.body))
			for k, v := range r.hdr {
				req.Header.Set(k, v)
			}
			if h := r.hdr["Host"]; h != "" {
				req.Host = h
			}
			got := e.do(req)
			if got.Status != r.status || got.str("error") != r.code || got.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("got %d %s, want %d %s", got.Status, got.Body, r.status, r.code)
			}
		})
	}
	// None of the refused writes happened.
	if u, _ := e.s.GetUser(context.Background(), "00u_alice"); !u.Active {
		t.Error("a refused request deactivated alice")
	}
}

// TestAdminAPIOperations drives every admin operation through the API and
// checks its effect on the protocol, and that each change is audited.
func TestAdminAPIOperations(t *testing.T) {
	e := newEnv(t)

	// users
	dave := e.mustAdmin("POST", "/users", map[string]any{"username": "dave", "name": "Dave Diaz", "email": "dave@acme.example", "password": "dave-demo-pw"})
	if dave.Status != 201 || dave.str("id") == "" || strings.Contains(dave.Body, "password") {
		t.Fatalf("create user: %d %s", dave.Status, dave.Body)
	}
	daveID := dave.str("id")
	if got := e.mustAdmin("PATCH", "/users/"+daveID, map[string]any{"name": "Dave D."}); got.str("name") != "Dave D." || got.str("email") != "dave@acme.example" {
		t.Fatalf("edit: %s", got.Body)
	}
	if got := e.mustAdmin("POST", "/users/"+daveID+"/deactivate", nil); got.JSON["active"] != false {
		t.Fatalf("deactivate: %s", got.Body)
	}
	if got := e.mustAdmin("POST", "/users/"+daveID+"/reactivate", nil); got.JSON["active"] != true {
		t.Fatalf("reactivate: %s", got.Body)
	}
	if got := e.mustAdmin("GET", "/users", nil); !strings.Contains(got.Body, `"dave"`) || !strings.Contains(got.Body, `"alice"`) {
		t.Fatalf("list: %s", got.Body)
	}

	// groups and assignments: dave reaches Todo0 only through a group
	e.mustAdmin("POST", "/groups", map[string]any{"name": "todo-users"})
	e.mustAdmin("POST", "/groups/todo-users/members", map[string]any{"user_id": daveID})
	e.mustAdmin("POST", "/apps/agent0/assignments", map[string]any{"user_id": daveID})
	d := e.signIn("dave", demo.Agent0IdPClientID, "openid")
	if got := e.post("/oauth2/token", e.exchangeForm(d.IDToken), agent0Basic); got.str("error") != "access_denied" {
		t.Fatalf("dave unassigned: %s", got.Body)
	}
	e.mustAdmin("POST", "/apps/todo0/assignments", map[string]any{"group_id": "todo-users"})
	if got := e.post("/oauth2/token", e.exchangeForm(d.IDToken), agent0Basic); got.Status != 200 {
		t.Fatalf("dave via group: %d %s", got.Status, got.Body)
	}
	e.mustAdmin("DELETE", "/groups/todo-users/members/"+daveID, nil)
	if got := e.post("/oauth2/token", e.exchangeForm(d.IDToken), agent0Basic); got.str("error") != "access_denied" {
		t.Fatalf("dave removed from group: %s", got.Body)
	}
	if got := e.mustAdmin("GET", "/groups/todo-users", nil); !strings.Contains(got.Body, `"todo0"`) {
		t.Fatalf("group view: %s", got.Body)
	}

	// a new resource app, a new requesting client, and a connection between them
	e.mustAdmin("POST", "/apps", map[string]any{"id": "notes0", "name": "Notes0", "audience": "http://localhost:7005", "resources": []string{"http://localhost:7006/mcp"}, "scopes": []string{"notes.read", "notes.write"}})
	e.mustAdmin("POST", "/apps/notes0/assignments", map[string]any{"user_id": "00u_alice"})
	cl := e.mustAdmin("POST", "/clients", map[string]any{"client_id": "bot0", "app_id": "agent0", "name": "Bot0",
		"grant_types": []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeTokenExchange}, "redirect_uris": []string{"http://localhost:7007/callback"}})
	secret := cl.str("client_secret")
	if cl.Status != 201 || len(secret) < 40 || cl.JSON["has_secret"] != true {
		t.Fatalf("create client: %s", cl.Body)
	}
	if got := e.mustAdmin("GET", "/clients/bot0", nil); strings.Contains(got.Body, secret) || got.JSON["client_secret"] != nil {
		t.Fatal("the secret is shown again after creation")
	}
	alice := e.signIn("alice", "bot0", "openid email")
	wikiForm := func() url.Values {
		f := e.exchangeForm(alice.IDToken)
		f.Set("audience", "http://localhost:7005")
		f.Set("resource", "http://localhost:7006/mcp")
		f.Set("scope", "notes.read notes.write")
		return f
	}
	if got := e.post("/oauth2/token", wikiForm(), basic("bot0", secret)); got.str("error") != "access_denied" {
		t.Fatalf("no connection yet: %s", got.Body)
	}
	conn := e.mustAdmin("POST", "/connections", map[string]any{"client_id": "bot0", "resource_app_id": "notes0", "resource_client_id": "bot0-at-notes0",
		"resources": []string{"http://localhost:7006/mcp"}, "scopes": []string{"notes.read"}, "include_email": true})
	connID := conn.str("id")
	if conn.JSON["enabled"] != true || conn.str("audience") != "http://localhost:7005" {
		t.Fatalf("connection: %s", conn.Body)
	}
	got := e.post("/oauth2/token", wikiForm(), basic("bot0", secret))
	if got.Status != 200 || got.str("scope") != "notes.read" {
		t.Fatalf("exchange over the new connection: %d %s", got.Status, got.Body)
	}
	if _, c := peek(t, got.str("access_token")); c["client_id"] != "bot0-at-notes0" || c["aud"] != "http://localhost:7005" || c["email"] != "alice@acme.example" {
		t.Fatalf("ID-JAG claims: %v", c)
	}
	e.mustAdmin("PATCH", "/connections/"+connID, map[string]any{"enabled": false})
	if got := e.post("/oauth2/token", wikiForm(), basic("bot0", secret)); got.str("error") != "access_denied" {
		t.Fatalf("disabled connection: %s", got.Body)
	}
	e.mustAdmin("DELETE", "/connections/"+connID, nil)
	if got := e.admin("GET", "/connections/"+connID, nil); got.Status != 404 {
		t.Fatalf("deleted connection: %d", got.Status)
	}

	// client secret rotation: show once, the old one stops working
	rot := e.mustAdmin("POST", "/clients/bot0/secret", nil)
	if rot.str("client_secret") == "" || rot.str("client_secret") == secret {
		t.Fatalf("rotate: %s", rot.Body)
	}
	if got := e.post("/oauth2/token", wikiForm(), basic("bot0", secret)); got.Status != 401 {
		t.Fatalf("old secret after rotation: %d %s", got.Status, got.Body)
	}
	if got := e.post("/oauth2/token", wikiForm(), basic("bot0", rot.str("client_secret"))); got.Status == 401 {
		t.Fatalf("new secret refused: %s", got.Body)
	}
	// client edit: redirect URIs, jwks_uri and methods
	if got := e.mustAdmin("PATCH", "/clients/bot0", map[string]any{"redirect_uris": []string{"http://localhost:7008/cb"}, "jwks_uri": "http://localhost:7008/jwks",
		"token_endpoint_auth_methods": []string{"private_key_jwt"}}); got.str("jwks_uri") != "http://localhost:7008/jwks" {
		t.Fatalf("client edit: %s", got.Body)
	}
	if got := e.post("/oauth2/token", wikiForm(), basic("bot0", rot.str("client_secret"))); got.Status != 401 {
		t.Fatalf("secret after switching to private_key_jwt: %d", got.Status)
	}

	// sessions and refresh tokens
	g1 := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	g2 := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	var grants UserGrants
	if err := json.Unmarshal([]byte(e.mustAdmin("GET", "/users/00u_alice/sessions", nil).Body), &grants); err != nil {
		t.Fatal(err)
	}
	var rtID string
	for _, rt := range grants.RefreshTokens {
		if rt.SID == g2.SID {
			rtID = rt.ID
		}
	}
	if len(grants.Sessions) < 2 || rtID == "" {
		t.Fatalf("grants: %+v", grants)
	}
	e.mustAdmin("DELETE", "/sessions/"+g1.SID, nil)
	e.mustAdmin("DELETE", "/refresh-tokens/"+rtID, nil)
	rtForm := func(rt string) url.Values {
		f := e.exchangeForm(rt)
		f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
		return f
	}
	for name, f := range map[string]url.Values{"session-revoked refresh token": rtForm(g1.RefreshToken), "revoked refresh token": rtForm(g2.RefreshToken), "session-revoked ID token": e.exchangeForm(g1.IDToken)} {
		if got := e.post("/oauth2/token", f, agent0Basic); got.str("error") != "invalid_grant" {
			t.Errorf("%s: %s", name, got.Body)
		}
	}
	if got := e.post("/oauth2/token", e.exchangeForm(g2.IDToken), agent0Basic); got.Status != 200 {
		t.Errorf("g2's session was not revoked, its ID token still works: %s", got.Body)
	}

	// audit: filters and export
	var recs []AuditEntry
	if err := json.Unmarshal([]byte(e.mustAdmin("GET", "/audit?user=dave&event=admin.", nil).Body), &recs); err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, r := range recs {
		ops[r.Event] = true
		if r.Detail["actor"] != apiActor {
			t.Errorf("admin change without actor: %+v", r)
		}
	}
	for _, op := range []string{"admin.user.create", "admin.user.update", "admin.user.deactivate", "admin.user.reactivate", "admin.group.add_member", "admin.group.remove_member", "admin.app.assign"} {
		if !ops[op] {
			t.Errorf("no %s audit record for dave (have %v)", op, ops)
		}
	}
	if err := json.Unmarshal([]byte(e.mustAdmin("GET", "/audit?app=notes0&outcome=denied", nil).Body), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 2 {
		t.Fatalf("denied exchanges for notes0: %+v", recs)
	}
	for _, r := range recs {
		if r.Outcome != "denied" || r.Reason == "" || r.Rule == "" {
			t.Errorf("filtered record %+v", r)
		}
	}
	if got := e.admin("GET", "/audit?limit=x", nil); got.Status != 400 {
		t.Errorf("bad limit: %d", got.Status)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/admin/api/audit/export?outcome=granted", nil)
	req.Header.Set("Authorization", "Bearer "+demo.IdPAdminToken)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/jsonl" {
		t.Errorf("export Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	lines, lastID := 0, int64(0)
	for sc.Scan() {
		var r AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Outcome != "granted" || r.ID <= lastID {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lastID = r.ID
		lines++
	}
	if lines < 3 {
		t.Errorf("export has %d lines", lines)
	}
}

// TestKeyRotation: after a rotation the new key signs, the old one stays in
// the JWKS so what it signed keeps verifying, and it is pruned only once
// everything it signed has expired. Both configured algorithms.
func TestKeyRotation(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.SigningAlg = alg })
			before := e.signIn("alice", demo.Agent0IdPClientID, "openid")
			oldHdr, _ := peek(t, before.IDToken)
			// A resource AS verifies ID-JAGs the way Todo0 does: the IdP's
			// JWKS through a cached jwks.Remote, refetched on an unknown kid.
			todo0 := jwtverify.Verifier{Typ: oauth.TypIDJAG, Audience: e.todo0Audience(), Now: e.now,
				Issuers: map[string]jwtverify.KeySource{e.s.cfg.Issuer: &jwks.Remote{URL: e.ts.URL + "/oauth2/jwks", MinRefresh: time.Millisecond}}}
			oldJAG := e.post("/oauth2/token", e.exchangeForm(before.IDToken), agent0Basic).str("access_token")
			if _, err := todo0.Verify(context.Background(), oldJAG); err != nil {
				t.Fatalf("ID-JAG before rotation: %v", err)
			}
			keys := e.mustAdmin("POST", "/keys/rotate", nil)
			newKID := keys.str("active_kid")
			if newKID == "" || newKID == oldHdr["kid"] || keys.str("algorithm") != alg {
				t.Fatalf("rotate: %s", keys.Body)
			}
			jwks := e.jwks(t)
			if len(jwks.Key(oldHdr["kid"].(string))) == 0 || len(jwks.Key(newKID)) == 0 {
				t.Fatalf("JWKS after rotation lacks a key: %d keys", len(jwks.Keys))
			}
			// the pre-rotation ID token still works as a subject token...
			got := e.post("/oauth2/token", e.exchangeForm(before.IDToken), agent0Basic)
			if got.Status != 200 {
				t.Fatalf("old ID token after rotation: %d %s", got.Status, got.Body)
			}
			// ...and what is signed now carries the new kid, with the configured alg
			hdr, _ := peek(t, got.str("access_token"))
			after := e.signIn("alice", demo.Agent0IdPClientID, "openid")
			idHdr, _ := peek(t, after.IDToken)
			if hdr["kid"] != newKID || idHdr["kid"] != newKID || hdr["alg"] != alg {
				t.Fatalf("after rotation: ID-JAG %v, ID token %v, want kid %s", hdr, idHdr, newKID)
			}
			// At the resource AS both verify: the old one from its cached set,
			// the new one after the refetch its unknown kid triggers.
			time.Sleep(2 * time.Millisecond)
			for name, raw := range map[string]string{"pre-rotation ID-JAG": oldJAG, "post-rotation ID-JAG": got.str("access_token")} {
				if _, err := todo0.Verify(context.Background(), raw); err != nil {
					t.Fatalf("%s at the resource AS: %v", name, err)
				}
			}
			// Maintain keeps the old key while its tokens can live...
			if err := e.s.Maintain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(e.jwks(t).Key(oldHdr["kid"].(string))) == 0 {
				t.Fatal("old key pruned while its tokens are still valid")
			}
			// ...and drops it after.
			e.advance(t, e.s.keyRetention()+time.Minute)
			if err := e.s.Maintain(context.Background()); err != nil {
				t.Fatal(err)
			}
			j := e.jwks(t)
			if len(j.Key(oldHdr["kid"].(string))) != 0 || len(j.Key(newKID)) == 0 {
				t.Fatalf("after retention: %d keys", len(j.Keys))
			}
		})
	}
}

func (e *env) jwks(t *testing.T) *jose.JSONWebKeySet {
	t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+"/oauth2/jwks", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(e.do(req).Body), &set); err != nil {
		t.Fatal(err)
	}
	return &set
}

// TestAdminChangesPersist: issue 3 item 4, a restart changes nothing an
// admin set (users, groups, assignments, apps, clients, connections, keys,
// revocations, audit).
func TestAdminChangesPersist(t *testing.T) {
	e := newEnv(t)
	e.mustAdmin("POST", "/users/00u_alice/deactivate", nil)
	e.mustAdmin("POST", "/groups", map[string]any{"name": "pilot"})
	e.mustAdmin("POST", "/groups/pilot/members", map[string]any{"user_id": "00u_bob"})
	e.mustAdmin("POST", "/apps/todo0/assignments", map[string]any{"group_id": "pilot"})
	e.mustAdmin("PATCH", "/connections/mc_agent0_todo0", map[string]any{"scopes": []string{"todos.read"}, "group_id": "pilot", "include_email": false})
	secret := e.mustAdmin("POST", "/clients/agent0/secret", nil).str("client_secret")
	kid := e.mustAdmin("POST", "/keys/rotate", nil).str("active_kid")
	g := e.signIn("bob", demo.Agent0IdPClientID, "openid offline_access")
	e.mustAdmin("DELETE", "/users/00u_bob/sessions", nil)
	nAudit := len(must(e.s.QueryAudit(context.Background(), AuditFilter{Limit: 10000})))
	r := e.restart(t)
	ctx := context.Background()
	if n := len(must(r.s.QueryAudit(ctx, AuditFilter{Limit: 10000}))); n != nAudit {
		t.Errorf("audit has %d records after restart, %d before", n, nAudit)
	}
	if u, _ := r.s.GetUser(ctx, "00u_alice"); u.Active {
		t.Error("alice reactivated by a restart")
	}
	if gr, _ := r.s.GetGroup(ctx, "pilot"); gr == nil || len(gr.Members) != 1 || len(gr.Apps) != 1 {
		t.Errorf("group after restart: %+v", gr)
	}
	c, _ := r.s.GetConnection(ctx, "mc_agent0_todo0")
	if c.GroupID != "pilot" || len(c.Scopes) != 1 || c.IncludeEmail {
		t.Errorf("connection after restart: %+v", c)
	}
	if r.s.keys.ActiveKeyID() != kid {
		t.Errorf("active kid %s, want %s", r.s.keys.ActiveKeyID(), kid)
	}
	if got := r.post("/oauth2/token", r.exchangeForm(g.IDToken), basic(demo.Agent0IdPClientID, secret)); got.str("error") != "invalid_grant" {
		t.Errorf("revoked session after restart: %s", got.Body)
	}
	if got := r.post("/oauth2/token", r.exchangeForm(g.IDToken), agent0Basic); got.Status != 401 {
		t.Errorf("old client secret after restart: %d", got.Status)
	}
	bob2 := r.signIn("bob", demo.Agent0IdPClientID, "openid")
	if got := r.post("/oauth2/token", r.exchangeForm(bob2.IDToken), basic(demo.Agent0IdPClientID, secret)); got.Status != 200 || got.str("scope") != "todos.read" {
		t.Errorf("bob via the persisted group policy: %d %s", got.Status, got.Body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
