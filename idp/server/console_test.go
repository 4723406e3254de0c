package server

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// browser is a minimal cookie-keeping client for the console's HTML forms.
type browser struct {
	t  *testing.T
	e  *env
	hc *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	hc := *e.ts.Client()
	hc.Jar = jar
	return &browser{t: t, e: e, hc: &hc}
}

type page struct {
	Status int
	URL    string
	Body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, URL: resp.Request.URL.String(), Body: string(body)}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.e.ts.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, hdr map[string]string) page {
	req, _ := http.NewRequest(http.MethodPost, b.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF field on %s (%d)", p.URL, p.Status)
	}
	return html.UnescapeString(m[1])
}

// signInAdmin signs in through the console's login form.
func (b *browser) signIn(username, password string) page {
	b.t.Helper()
	p := b.get("/admin")
	return b.post("/admin/login", url.Values{"csrf": {csrfOf(b.t, p)}, "username": {username}, "password": {password}}, nil)
}

// TestConsoleRefuses: the console needs an admin session, a CSRF token on
// every form, and same-origin POSTs.
func TestConsoleRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anon := e.browser(t)
	if p := anon.get("/admin/users"); p.Status != 200 || !strings.Contains(p.Body, `action="/admin/login"`) || strings.Contains(p.Body, "alice@acme.example") {
		t.Fatalf("anonymous console page: %d", p.Status)
	}
	if p := anon.post("/admin/do/user.deactivate", url.Values{"id": {"00u_alice"}}, nil); p.Status != 401 {
		t.Fatalf("anonymous action: %d", p.Status)
	}
	// a non-admin user cannot sign in to the console
	bob := e.browser(t)
	if p := bob.signIn("bob", "bob-demo"); p.Status != 403 || !strings.Contains(p.Body, "not an administrator") {
		t.Fatalf("bob's console sign-in: %d", p.Status)
	}
	if p := bob.signIn("admin", "wrong"); p.Status != 401 {
		t.Fatalf("wrong password: %d", p.Status)
	}
	// login form CSRF
	if p := anon.post("/admin/login", url.Values{"username": {"admin"}, "password": {"admin-demo"}}, nil); p.Status != 403 {
		t.Fatalf("login without CSRF: %d", p.Status)
	}
	adm := e.browser(t)
	if p := adm.signIn("admin", "admin-demo"); p.Status != 200 || !strings.Contains(p.Body, "alice@acme.example") {
		t.Fatalf("admin sign-in: %d %s", p.Status, p.URL)
	}
	token := csrfOf(t, adm.get("/admin/users"))
	form := func(csrf string) url.Values {
		return url.Values{"id": {"00u_alice"}, "csrf": {csrf}, "back": {"/admin/users"}}
	}
	for _, r := range []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
	}{
		{"no CSRF token", form(""), nil, 403},
		{"CSRF token of another session", form(csrfOf(t, e.browser(t).signIn("admin", "admin-demo"))), nil, 403},
		{"cross-site POST with a valid token", form(token), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign Origin with a valid token", form(token), map[string]string{"Origin": "http://evil.example"}, 403},
	} {
		t.Run(r.name, func(t *testing.T) {
			if p := adm.post("/admin/do/user.deactivate", r.form, r.hdr); p.Status != r.status {
				t.Fatalf("got %d, want %d", p.Status, r.status)
			}
			if u, _ := e.s.GetUser(ctx, "00u_alice"); !u.Active {
				t.Fatal("the refused request deactivated alice")
			}
		})
	}
	// cross-site login attempts are refused too
	if p := anon.post("/admin/login", url.Values{"username": {"admin"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); p.Status != 403 {
		t.Fatalf("cross-site login: %d", p.Status)
	}
	// the same form from our own origin works
	if p := adm.post("/admin/do/user.deactivate", form(token), map[string]string{"Origin": e.ts.URL, "Sec-Fetch-Site": "same-origin"}); p.Status != 200 || !strings.Contains(p.Body, "deactivated") {
		t.Fatalf("same-origin action: %d", p.Status)
	}
	if u, _ := e.s.GetUser(ctx, "00u_alice"); u.Active {
		t.Fatal("alice still active")
	}
}

// TestConsoleOperations walks the console pages: each renders, and forms
// reach the shared service layer, audited with the console actor.
func TestConsoleOperations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.browser(t)
	adm.signIn("admin", "admin-demo")
	for _, p := range []string{"/admin", "/admin/users", "/admin/users/00u_alice", "/admin/groups", "/admin/apps", "/admin/connections", "/admin/keys", "/admin/audit", "/admin/faults"} {
		if pg := adm.get(p); pg.Status != 200 || !strings.Contains(pg.Body, "Sign out admin") {
			t.Fatalf("%s: %d", p, pg.Status)
		}
	}
	act := func(action string, fields url.Values) page {
		t.Helper()
		fields.Set("csrf", csrfOf(t, adm.get("/admin/users")))
		fields.Set("back", "/admin/users")
		return adm.post("/admin/do/"+action, fields, nil)
	}
	// deactivate alice: her exchange is refused, the audit page shows why
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	if p := act("user.deactivate", url.Values{"id": {"00u_alice"}}); !strings.Contains(p.Body, "alice is deactivated") {
		t.Fatalf("deactivate: %d", p.Status)
	}
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.str("error") != "access_denied" {
		t.Fatalf("exchange for deactivated alice: %s", got.Body)
	}
	audit := adm.get("/admin/audit?user=alice&outcome=denied")
	if !strings.Contains(audit.Body, "user alice is deactivated") || !strings.Contains(audit.Body, "checklist 1.3 user active") {
		t.Fatalf("audit page lacks the denial and its rule")
	}
	if rec := e.lastAudit(t, "admin.user.deactivate"); rec.Detail["actor"] != "console:admin" || rec.UserID != "00u_alice" {
		t.Fatalf("console change audit: %+v", rec)
	}
	act("user.reactivate", url.Values{"id": {"00u_alice"}})
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
		t.Fatalf("exchange after reactivation: %s", got.Body)
	}
	// export from the console session
	if p := adm.get("/admin/audit.jsonl?event=admin."); p.Status != 200 || !strings.Contains(p.Body, `"event":"admin.user.reactivate"`) {
		t.Fatalf("console export: %d", p.Status)
	}
	if p := e.browser(t).get("/admin/audit.jsonl"); strings.Contains(p.Body, `"event"`) {
		t.Fatal("anonymous export")
	}
	// user, group, app, client, connection, keys, faults through forms
	act("user.create", url.Values{"username": {"erin"}, "name": {"Erin"}, "email": {"erin@acme.example"}, "password": {"erin-demo-pw"}})
	erin, err := e.s.userBy(ctx, "username", "erin")
	if err != nil {
		t.Fatal("user.create did not create erin")
	}
	act("group.create", url.Values{"name": {"pilot"}})
	act("group.add_member", url.Values{"group": {"pilot"}, "user": {erin.ID}})
	act("app.assign", url.Values{"app": {"todo0"}, "group": {"pilot"}})
	act("app.assign", url.Values{"app": {"agent0"}, "user": {"erin"}}) // by username
	if ok, _ := e.s.assigned(ctx, erin.ID, "agent0"); !ok {
		t.Fatal("assignment by username through the console failed")
	}
	if ok, _ := e.s.assigned(ctx, erin.ID, "todo0"); !ok {
		t.Fatal("group assignment through the console failed")
	}
	p := act("connection.update", url.Values{"id": {"mc_agent0_todo0"}, "resource_client_id": {demo.Agent0Todo0ClientID}, "resources": {e.mcpResource()},
		"scopes": {"todos.read"}, "group_id": {"pilot"}, "enabled": {"on"}})
	if c, _ := e.s.GetConnection(ctx, "mc_agent0_todo0"); c.GroupID != "pilot" || c.IncludeEmail || len(c.Scopes) != 1 || !c.Enabled {
		t.Fatalf("connection.update: %+v (%d)", c, p.Status)
	}
	sp := act("client.rotate_secret", url.Values{"client_id": {"agent0"}})
	m := regexp.MustCompile(`id="client-secret">([^<]+)<`).FindStringSubmatch(sp.Body)
	if m == nil {
		t.Fatalf("no secret shown: %d", sp.Status)
	}
	agent0New := basic("agent0", html.UnescapeString(m[1]))
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0New); got.Status == 401 {
		t.Fatalf("rotated secret refused: %s", got.Body)
	}
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 401 {
		t.Fatalf("old secret after console rotation: %d", got.Status)
	}
	old := e.s.keys.ActiveKeyID()
	act("keys.rotate", url.Values{})
	if e.s.keys.ActiveKeyID() == old {
		t.Fatal("keys.rotate did not rotate")
	}
	// With publish_ahead the next key is published but does not sign yet.
	current := e.s.keys.ActiveKeyID()
	act("keys.rotate", url.Values{"publish_ahead": {"30s"}})
	if pk, _ := e.s.keys.PendingKeyID(); pk == "" || e.s.keys.ActiveKeyID() != current {
		t.Fatalf("keys.rotate with publish_ahead: pending %q, active %q (was %q)", pk, e.s.keys.ActiveKeyID(), current)
	}
	act("faults.set", url.Values{"fault": {FaultWrongTyp, FaultExpired}})
	if got := e.s.faults.Active(); len(got) != 2 {
		t.Fatalf("faults: %v", got)
	}
	act("faults.set", url.Values{})
	if got := e.s.faults.Active(); len(got) != 0 {
		t.Fatalf("faults not cleared: %v", got)
	}
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	act("session.revoke", url.Values{"sid": {g.SID}})
	if got := e.post("/oauth2/token", e.exchangeForm(g.IDToken), agent0New); got.str("error") != "invalid_grant" {
		t.Fatalf("after console session revoke: %s", got.Body)
	}
	if p := act("user.create", url.Values{"username": {"Bad Name"}}); !strings.Contains(p.URL, "err=") {
		t.Fatalf("invalid input should come back as an error message: %s", p.URL)
	}
	if p := act("nope", url.Values{}); !strings.Contains(p.URL, "err=") {
		t.Fatalf("unknown action: %s", p.URL)
	}
	// an open redirect through back= is not possible
	f := url.Values{"id": {"00u_alice"}, "csrf": {csrfOf(t, adm.get("/admin/users"))}, "back": {"//evil.example/x"}}
	if p := adm.post("/admin/do/user.reactivate", f, nil); !strings.HasPrefix(p.URL, e.ts.URL+"/admin") {
		t.Fatalf("redirected to %s", p.URL)
	}
}

// Bad input loses nothing and panics nowhere: a malformed or foreign `back`
// still runs the action and lands on a console page of this IdP (not a 500).
func TestConsoleActionWithMalformedBack(t *testing.T) {
	e := newEnv(t)
	adm := e.browser(t)
	if p := adm.signIn("admin", "admin-demo"); p.Status != 200 {
		t.Fatalf("admin sign-in: %d", p.Status)
	}
	token := csrfOf(t, adm.get("/admin/users"))
	for _, back := range []string{"/admin/users%zz", "/admin/%", "https://evil.example/admin", "//evil.example/admin", "/adminx", "/admin/users?x=%zz"} {
		p := adm.post("/admin/do/user.deactivate", url.Values{"id": {"00u_alice"}, "csrf": {token}, "back": {back}}, nil)
		if p.Status != 200 || !strings.HasPrefix(p.URL, e.ts.URL+"/admin") {
			t.Errorf("back %q: %d at %s", back, p.Status, p.URL)
		}
	}
	if u, _ := e.s.GetUser(context.Background(), "00u_alice"); u.Active {
		t.Fatal("the action with a malformed back did not run")
	}
}
