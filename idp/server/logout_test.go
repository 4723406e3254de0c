package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// ssoBrowser is a browser holding an Acme SSO session for username, and the
// tokens the client got in that session.
func (e *env) ssoBrowser(t *testing.T, username, clientID string) (*browser, grant) {
	t.Helper()
	ctx := context.Background()
	u, err := e.s.userBy(ctx, "username", username)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.s.client(ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	cookie := randomToken()
	sess := &session{SID: "sid_" + randomToken()[:22], UserID: u.ID, AuthTime: e.now()}
	if _, err := e.s.db.Exec(`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sess.SID, hashToken(cookie), u.ID, sess.AuthTime.Unix(), e.now().Add(time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	resp, err := e.s.issueTokens(ctx, c, u, sess, "openid profile", "n", true)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	// Redirects are checked, not followed: they leave the IdP.
	b.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base, _ := url.Parse(e.ts.URL)
	b.hc.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: cookie, Path: "/"}})
	return b, grant{IDToken: resp.IDToken, RefreshToken: resp.RefreshToken, SID: sess.SID}
}

func (e *env) sessionLive(t *testing.T, sid string) bool {
	t.Helper()
	var revoked bool
	if err := e.s.db.QueryRow(`SELECT revoked_at IS NOT NULL FROM sessions WHERE sid = ?`, sid).Scan(&revoked); err != nil {
		t.Fatal(err)
	}
	return !revoked
}

func (b *browser) location(path string, form url.Values, method string, hdr map[string]string) (int, string, string) {
	b.t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, b.e.ts.URL+path+"?"+form.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, b.e.ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), body.String()
}

// TestRPInitiatedLogout: /logout is the end_session_endpoint of OpenID
// Connect RP-Initiated Logout 1.0, protected against cross-site sign-outs.
func TestRPInitiatedLogout(t *testing.T) {
	e := newEnv(t)
	agent0Home := e.cfg.Agent0URL + "/"
	for _, r := range []struct {
		name string
		// hint: "own" (this session's ID token), "other" (an ID token of
		// another session of another user), "forged", or none.
		hint, clientID, redirect, method string
		confirm, csrf                    bool
		hdr                              map[string]string
		status                           int
		location                         string // prefix of the redirect, when one is expected
		body                             string
		ended                            bool
	}{
		// checklist 8.2: a hint for the browser's own session ends it at once
		{name: "hint of this session, registered redirect", hint: "own", redirect: agent0Home, method: "GET", status: 303, location: agent0Home + "?state=s1", ended: true},
		{name: "hint of this session by POST, no redirect", hint: "own", method: "POST", status: 200, body: "You are signed out of Acme", ended: true},
		// checklist 8.2: without a hint (or with one of another session) Acme asks
		{name: "no hint: confirmation page", clientID: demo.Agent0IdPClientID, redirect: agent0Home, method: "GET", status: 200, body: "asks Acme to sign you out"},
		{name: "hint of another session: confirmation page", hint: "other", method: "GET", status: 200, body: "Sign out of Acme"},
		// checklist 8.1: the confirmation is a same-origin POST with its CSRF token; a failed check clears nothing
		{name: "confirm without CSRF token", method: "POST", confirm: true, status: 403, body: "nothing was signed out"},
		{name: "confirm with a wrong CSRF token", method: "POST", confirm: true, csrf: false, hdr: map[string]string{"X-Wrong-Token": "1"}, status: 403},
		{name: "confirm cross-site with the CSRF token", method: "POST", confirm: true, csrf: true, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "confirm with the CSRF token", method: "POST", confirm: true, csrf: true, clientID: demo.Agent0IdPClientID, redirect: agent0Home, status: 303, location: agent0Home, ended: true},
		// checklist 8.3: redirects only to a registered post-logout URI, compared exactly
		{name: "unregistered post_logout_redirect_uri", hint: "own", redirect: "https://evil.example/", method: "GET", status: 400, body: "not registered"},
		{name: "post-logout URI of another client", hint: "own", redirect: e.cfg.Todo0URL + "/", method: "GET", status: 400, body: "not registered"},
		{name: "redirect without hint or client_id", redirect: agent0Home, method: "GET", status: 400, body: "needs an id_token_hint or a client_id"},
		{name: "forged id_token_hint", hint: "forged", method: "GET", status: 400, body: "not an ID token Acme issued"},
		{name: "client_id that is not the hint's audience", hint: "own", clientID: demo.Todo0IdPClientID, method: "GET", status: 400, body: "not the audience"},
	} {
		t.Run(r.name, func(t *testing.T) {
			b, g := e.ssoBrowser(t, "alice", demo.Agent0IdPClientID)
			form := url.Values{"state": {"s1"}}
			switch r.hint {
			case "own":
				form.Set("id_token_hint", g.IDToken)
			case "other":
				_, other := e.ssoBrowser(t, "bob", demo.Agent0IdPClientID)
				form.Set("id_token_hint", other.IDToken)
			case "forged":
				parts := strings.Split(g.IDToken, ".")
				form.Set("id_token_hint", parts[0]+"."+parts[1]+".AAAA"+parts[2][4:])
			}
			if r.clientID != "" {
				form.Set("client_id", r.clientID)
			}
			if r.redirect != "" {
				form.Set("post_logout_redirect_uri", r.redirect)
			}
			if r.confirm {
				form.Set("confirm", "1")
				if r.csrf {
					form.Set("csrf", csrfOf(t, b.get("/logout")))
				} else if r.hdr != nil {
					b.get("/logout") // the cookie is set; the form carries another value
					form.Set("csrf", strings.Repeat("x", 43))
				}
				form.Del("state")
			}
			status, loc, body := b.location("/logout", form, r.method, r.hdr)
			if status != r.status {
				t.Fatalf("status %d, want %d: %s", status, r.status, body)
			}
			if r.location != "" && !strings.HasPrefix(loc, r.location) {
				t.Fatalf("redirect to %q, want %q", loc, r.location)
			}
			if r.location == "" && loc != "" {
				t.Fatalf("redirected to %q", loc)
			}
			if r.body != "" && !strings.Contains(body, r.body) {
				t.Fatalf("page lacks %q: %s", r.body, body)
			}
			if live := e.sessionLive(t, g.SID); live == r.ended {
				t.Fatalf("session live = %v after the request", live)
			}
		})
	}
}

// TestLogoutEndsExchanges: after RP-initiated logout, the session's ID token
// is no longer a subject token (checklist 6, revoked Acme session).
func TestLogoutEndsExchanges(t *testing.T) {
	e := newEnv(t)
	b, g := e.ssoBrowser(t, "alice", demo.Agent0IdPClientID)
	if st, _, body := b.location("/logout", url.Values{"id_token_hint": {g.IDToken}}, http.MethodGet, nil); st != 200 {
		t.Fatalf("logout: %d %s", st, body)
	}
	resp := e.post("/oauth2/token", e.exchangeForm(g.IDToken), basic(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret))
	if resp.Status != 400 || resp.str("error") != "invalid_grant" {
		t.Fatalf("exchange after logout: %d %v", resp.Status, resp.JSON)
	}
}

// TestConsoleKeepsItsOwnSession: signing in to the admin console in the
// browser where alice uses Acme SSO leaves alice's session alone, and
// signing out of the console ends only the console session (checklist 8.4).
func TestConsoleKeepsItsOwnSession(t *testing.T) {
	e := newEnv(t)
	b, g := e.ssoBrowser(t, "alice", demo.Agent0IdPClientID)
	b.hc.CheckRedirect = nil
	if p := b.signIn("admin", "admin-demo"); p.Status != 200 || !strings.Contains(p.Body, "alice@acme.example") {
		t.Fatalf("admin sign-in: %d", p.Status)
	}
	if p := b.get("/"); !strings.Contains(p.Body, "Alice Anderson") {
		t.Fatalf("after the admin's console sign-in Acme's home page is no longer alice's: %s", p.Body)
	}
	if !e.sessionLive(t, g.SID) {
		t.Fatal("alice's session was revoked by the admin sign-in")
	}
	// The SSO cookie does not open the console.
	sso := e.browser(t)
	base, _ := url.Parse(e.ts.URL)
	for _, ck := range b.hc.Jar.Cookies(base) {
		if ck.Name == sessionCookie {
			sso.hc.Jar.SetCookies(base, []*http.Cookie{ck})
		}
	}
	if p := sso.get("/admin/users"); !strings.Contains(p.Body, `action="/admin/login"`) {
		t.Fatal("an SSO session opened the admin console")
	}
	token := csrfOf(t, b.get("/admin/users"))
	// Console sign-out needs the console's CSRF token; without it nothing ends.
	if p := b.post("/admin/logout", url.Values{}, nil); p.Status != 403 {
		t.Fatalf("console sign-out without CSRF: %d", p.Status)
	}
	if p := b.get("/admin/users"); strings.Contains(p.Body, `action="/admin/login"`) {
		t.Fatal("a refused console sign-out ended the console session")
	}
	if p := b.post("/admin/logout", url.Values{"csrf": {token}}, nil); p.Status != 200 || !strings.Contains(p.Body, `action="/admin/login"`) {
		t.Fatalf("console sign-out: %d", p.Status)
	}
	if p := b.get("/"); !strings.Contains(p.Body, "Alice Anderson") || !e.sessionLive(t, g.SID) {
		t.Fatal("signing out of the console signed alice out of Acme")
	}
}
