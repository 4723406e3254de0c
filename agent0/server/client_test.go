package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// The client rules of the checklist (section 5), each driven through the
// fake IdP, AS and MCP server of fakeWorld and judged by the requests Agent0
// makes and what it logs.

// index is the position of the first request of kind in rs, or -1.
func index(rs []fakeRequest, kind string) int {
	return slices.IndexFunc(rs, func(r fakeRequest) bool { return r.kind() == kind })
}

// Checklist 5, Discover: 401 -> protected resource metadata -> AS metadata
// (id-jag profile offered) -> token exchange, in that order, with the
// audience and resource the metadata named.
func TestClientDiscoversBeforeExchanging(t *testing.T) {
	w := newFakeWorld(t)
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatal(err)
	}
	rs := w.requestsSince(0)
	order := []string{"mcp call without token", "mcp metadata oauth-protected-resource/mcp", "as metadata oauth-authorization-server", "idp token-exchange", "as jwt-bearer", "mcp call with token"}
	last := -1
	for _, k := range order {
		i := index(rs, k)
		if i < 0 || i < last {
			t.Fatalf("step %q missing or out of order in %q", k, kinds(rs))
		}
		last = i
	}
	ex := rs[index(rs, "idp token-exchange")].Form
	if ex.Get("audience") != w.as.URL || ex.Get("resource") != w.mcp.URL+"/mcp" || ex.Get("requested_token_type") != oauth.TokenTypeIDJAG {
		t.Fatalf("exchange audience %q resource %q type %q: want the discovered AS %q and resource %q", ex.Get("audience"), ex.Get("resource"), ex.Get("requested_token_type"), w.as.URL, w.mcp.URL+"/mcp")
	}
}

// Checklist 5, Discover: each broken link of the discovery chain stops
// Agent0 before it asks the IdP or any AS for a token.
func TestClientDiscoveryRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, errHas string
		setup        func(w *fakeWorld)
	}{
		// IDJAG 7.2 / checklist 5: the AS must offer the id-jag grant profile
		{"AS without the id-jag profile", "ID-JAG grant profile", func(w *fakeWorld) { w.profiles = []string{"urn:example:some-other-profile"} }},
		// RFC 9728 5.1: discovery starts from the 401 challenge
		{"MCP answers without a token", "expected 401", func(w *fakeWorld) { w.mcpOpen = true }},
		// RFC 9728 / EMA 7.5.4: metadata is read from the resource's own origin only
		{"resource_metadata on another origin", "not on the MCP server's origin", func(w *fakeWorld) { w.prmAt = w.idp.URL + "/.well-known/oauth-protected-resource/mcp" }},
		// RFC 9728 2: the PRM must name the authorization server
		{"PRM names no authorization server", "names no authorization server", func(w *fakeWorld) { w.prmNoAS = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld(t)
			tc.setup(w)
			sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
			_, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want a refusal containing %q", err, tc.errHas)
			}
			rs := w.requestsSince(0)
			if n := count(rs, "idp token-exchange") + count(rs, "as jwt-bearer"); n != 0 {
				t.Fatalf("%d token requests made despite broken discovery: %q", n, kinds(rs))
			}
		})
	}
}

// Checklist 5: the access token is cached: a second tool call reuses it, with
// no new exchange at the IdP or the AS.
func TestClientCachesAccessToken(t *testing.T) {
	w := newFakeWorld(t)
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	for range 3 {
		if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
			t.Fatal(err)
		}
	}
	rs := w.requestsSince(0)
	if ex, jb := count(rs, "idp token-exchange"), count(rs, "as jwt-bearer"); ex != 1 || jb != 1 {
		t.Fatalf("%d token exchanges and %d jwt-bearer grants for three calls, want 1 and 1: %q", ex, jb, kinds(rs))
	}
	var bearers []string
	for _, r := range rs {
		if r.kind() == "mcp call with token" {
			bearers = append(bearers, r.Header.Get("Authorization"))
		}
	}
	if len(bearers) < 3 || slices.ContainsFunc(bearers, func(b string) bool { return b != bearers[0] }) {
		t.Fatalf("MCP calls carried %q, want the one cached token on each", bearers)
	}
}

// Checklist 5 / section 6 "access token expired, IdP still allows": the MCP
// server's 401 makes Agent0 re-run the exchange by itself and the tool call
// the user asked for succeeds, with the new token.
func TestClientReexchangesSilentlyOn401(t *testing.T) {
	w := newFakeWorld(t)
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatal(err)
	}
	w.expireAccessTokens()
	n := w.requestCount()
	out, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
	if err != nil {
		t.Fatalf("tool call after expiry failed (no silent re-exchange): %v", err)
	}
	if m, ok := out.(map[string]any); !ok || m["todos"] == nil {
		t.Fatalf("tool call after expiry returned %#v", out)
	}
	rs := w.requestsSince(n)
	if count(rs, "idp token-exchange") != 1 || count(rs, "as jwt-bearer") != 1 {
		t.Fatalf("after a 401, want one new exchange and one jwt-bearer: %q", kinds(rs))
	}
	silent := 0
	for _, e := range w.agent0.connectionFor(sid).rec.Exchanges() {
		if e.Silent {
			silent++
		}
	}
	if silent != 1 {
		t.Fatalf("inspector marks %d exchanges silent, want 1", silent)
	}
}

// Checklist 5: when the ID token has expired, Agent0 renews it with the IdP
// refresh token and exchanges the new one; a current ID token is used as is.
func TestClientRenewsIDTokenWithRefreshToken(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		w := newFakeWorld(t)
		old := w.idToken(-time.Minute)
		sid := w.signIn(old, time.Now().Add(-time.Minute), "rt-initial")
		if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
			t.Fatal(err)
		}
		rs := w.requestsSince(0)
		ri, xi := index(rs, "idp refresh"), index(rs, "idp token-exchange")
		if ri < 0 || xi < 0 || ri > xi {
			t.Fatalf("want a refresh grant before the exchange: %q", kinds(rs))
		}
		if got := rs[ri].Form.Get("refresh_token"); got != "rt-initial" {
			t.Fatalf("refresh grant sent refresh_token %q, want the session's", got)
		}
		if sub := rs[xi].Form.Get("subject_token"); sub == old || sub == "" {
			t.Fatal("the exchange sent the expired ID token, not the renewed one")
		}
		var rt string
		if err := w.agent0.db.QueryRow(`SELECT refresh_token FROM sessions WHERE id = ?`, sid).Scan(&rt); err != nil || rt == "rt-initial" {
			t.Fatalf("session keeps refresh token %q (%v), want the rotated one", rt, err)
		}
	})
	t.Run("current", func(t *testing.T) {
		w := newFakeWorld(t)
		idt := w.idToken(time.Hour)
		sid := w.signIn(idt, time.Now().Add(time.Hour), "rt-initial")
		if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
			t.Fatal(err)
		}
		rs := w.requestsSince(0)
		if count(rs, "idp refresh") != 0 || rs[index(rs, "idp token-exchange")].Form.Get("subject_token") != idt {
			t.Fatalf("a current ID token should be exchanged as is: %q", kinds(rs))
		}
	})
}

// Checklist 5: when the IdP refuses, Agent0 records the refusal, tells the
// user plainly and asks nobody again until RetryRefusedAfter or Reconnect.
func TestClientRecordsRefusal(t *testing.T) {
	w := newFakeWorld(t)
	w.refuseExchange = oauth.ErrAccessDenied
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	_, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
	if !isRefusal(err) {
		t.Fatalf("err = %v, want the IdP's refusal", err)
	}
	if title, _ := explain(err); title != "Refused by your administrator" {
		t.Fatalf("user is told %q", title)
	}
	n := w.requestCount()
	_, err2 := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
	if !isRefusal(err2) {
		t.Fatalf("second call: err = %v, want the recorded refusal", err2)
	}
	if rs := w.requestsSince(n); len(rs) != 0 {
		t.Fatalf("after a refusal Agent0 called again: %q", kinds(rs))
	}
}

// Checklist 5 and EMA 7.4.2: no ID token, ID-JAG, access token or refresh
// token appears whole in Agent0's log or in any URL it requests, through a
// sign-in renewal, an exchange, a silent re-exchange and a refusal, driven
// through Agent0's own pages.
func TestClientNeverLogsTokensOrPutsThemInURLs(t *testing.T) {
	w := newFakeWorld(t)
	cookie := randomID()
	sid := w.signIn(w.idToken(-time.Minute), time.Now().Add(-time.Minute), "rt-initial-"+strings.Repeat("r", 24))
	if _, err := w.agent0.db.Exec(`UPDATE sessions SET cookie_hash = ? WHERE id = ?`, hash(cookie), sid); err != nil {
		t.Fatal(err)
	}
	var csrf string
	_ = w.agent0.db.QueryRow(`SELECT csrf FROM sessions WHERE id = ?`, sid).Scan(&csrf)
	h := w.agent0.Handler()
	say := func(msg string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/chat", strings.NewReader(url.Values{"csrf": {csrf}, "message": {msg}}.Encode()))
		req.Host = "agent0.test" // its public host: Agent0 refuses any other (DNS rebinding)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != http.StatusSeeOther {
			t.Fatalf("chat %q: %d %s", msg, rr.Code, rr.Body)
		}
		if loc := rr.Header().Get("Location"); strings.Contains(loc, "eyJ") || strings.Contains(loc, "-xxxx") {
			t.Fatalf("redirect carries a token: %s", loc)
		}
	}
	say("show my todos")
	w.expireAccessTokens()
	say("show my todos")
	w.refuseExchange = oauth.ErrAccessDenied
	w.expireAccessTokens()
	say("show my todos")

	rs := w.requestsSince(0)
	if count(rs, "idp refresh") == 0 || count(rs, "idp token-exchange") < 3 {
		t.Fatalf("the run did not cover renewal and re-exchange: %q", kinds(rs))
	}
	w.mu.Lock()
	logs := w.logs.String()
	tokens := append([]string{"rt-initial-" + strings.Repeat("r", 24)}, w.issued...)
	w.mu.Unlock()
	if !strings.Contains(logs, "/chat") {
		t.Fatalf("Agent0 logged no requests, so this test proves nothing: %q", logs)
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Errorf("Agent0's log contains a whole token %.12s…", tok)
		}
		for _, r := range rs {
			if strings.Contains(r.URL, tok) || strings.Contains(r.URL, url.QueryEscape(tok)) {
				t.Errorf("Agent0 requested %s %.40s… with a token in the URL", r.Method, r.URL)
			}
		}
	}
	for _, r := range rs {
		if r.kind() == "mcp call with token" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("MCP call carries its token elsewhere than the Authorization header")
		}
	}
}

// IDJAG step-up: insufficient_user_authentication is not a refusal to
// remember; the user is sent to sign in again (prompt=login, max_age) and
// the next request asks the IdP again.
func TestClientStepUpIsNotARefusal(t *testing.T) {
	w := newFakeWorld(t)
	w.refuseExchange = oauth.ErrInsufficientUserAuthentication
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	_, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
	if _, ok := stepUpMaxAge(err); !ok || isRefusal(err) {
		t.Fatalf("err = %v, want a step-up demand that is not a refusal", err)
	}
	if title, _ := explain(err); title != "Sign in again" {
		t.Errorf("user is told %q", title)
	}
	if to := w.agent0.afterChat(sid); !strings.HasPrefix(to, "/login?step_up=") {
		t.Errorf("after the chat the browser goes to %q, want the step-up sign-in", to)
	}
	n := w.requestCount()
	w.refuseExchange = ""
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatalf("the next request after a step-up demand: %v", err)
	}
	if count(w.requestsSince(n), "idp token-exchange") != 1 {
		t.Fatalf("the next request did not ask the IdP again")
	}
	req := httptest.NewRequest(http.MethodGet, "/login?step_up=300", nil)
	req.Host = "agent0.test"
	rr := httptest.NewRecorder()
	w.agent0.Handler().ServeHTTP(rr, req)
	loc, _ := url.Parse(rr.Header().Get("Location"))
	if q := loc.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "300" {
		t.Fatalf("step-up sign-in goes to %s, want prompt=login and max_age=300", loc)
	}
}
