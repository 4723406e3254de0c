package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// TestConsoleSaysWhatHappensNext: deactivating a user or disabling a
// connection in the console says that new exchanges are refused at once and
// until when access tokens Todo0 already issued stay valid (checklist 9.1).
func TestConsoleSaysWhatHappensNext(t *testing.T) {
	e := newEnv(t)
	adm := e.browser(t)
	adm.signIn("admin", "admin-demo")
	act := func(action string, fields url.Values) string {
		t.Helper()
		fields.Set("csrf", csrfOf(t, adm.get("/admin/users")))
		fields.Set("back", "/admin/users")
		p := adm.post("/admin/do/"+action, fields, nil)
		if p.Status != 200 {
			t.Fatalf("%s: %d", action, p.Status)
		}
		return p.Body
	}
	// Bob never got an ID-JAG: nothing is live.
	if body := act("user.deactivate", url.Values{"id": {"00u_bob"}}); !strings.Contains(body, "never issued an ID-JAG for bob") {
		t.Fatalf("deactivating bob: %s", body)
	}
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), basic(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)); got.Status != 200 {
		t.Fatalf("exchange: %s", got.Body)
	}
	issued := e.now()
	latest := issued.Add(e.s.cfg.IDJAGTTL + todo0AccessTokenTTL).UTC().Format("15:04:05")
	body := act("user.deactivate", url.Values{"id": {"00u_alice"}})
	for _, want := range []string{"every new token exchange for alice is refused from now on", "stay valid at Todo0 until they expire", "until about " + latest + " UTC"} {
		if !strings.Contains(body, want) {
			t.Errorf("deactivation message lacks %q", want)
		}
	}
	// Disabling the connection: the same, for the client.
	body = act("connection.update", url.Values{"id": {"mc_agent0_todo0"}, "resource_client_id": {demo.Agent0Todo0ClientID}, "resources": {e.mcpResource()}, "scopes": {"todos.read todos.write"}})
	if !strings.Contains(body, "every new token exchange by agent0 for todo0 is refused") || !strings.Contains(body, latest) {
		t.Errorf("disabling the connection: %s", body)
	}
	if p := adm.get("/admin/connections"); !strings.Contains(p.Body, "Shared Signals: off.") {
		t.Fatal("the connections page does not say Shared Signals is off")
	}
	// Later, nothing issued before is live any more.
	e.advance(t, 11*time.Minute)
	body = act("user.deactivate", url.Values{"id": {"00u_alice"}})
	if !strings.Contains(body, "has expired by now") {
		t.Errorf("after the window: %s", body)
	}
}

// With Shared Signals on, the console says the live tokens end at once.
func TestConsoleSaysWhatHappensNextWithSharedSignals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SharedSignals = true })
	adm := e.browser(t)
	adm.signIn("admin", "admin-demo")
	form := url.Values{"id": {"00u_alice"}, "csrf": {csrfOf(t, adm.get("/admin/users"))}, "back": {"/admin/users"}}
	p := adm.post("/admin/do/user.deactivate", form, nil)
	if !strings.Contains(p.Body, "Shared Signals is on, but the push failed") {
		t.Fatalf("deactivation with Shared Signals and no receiver: %s", p.Body)
	}
	// With a receiver that takes the event, the note says the tokens ended.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer rcv.Close()
	e = newEnv(t, func(c *Config) { c.SharedSignals, c.Todo0URL = true, rcv.URL })
	adm = e.browser(t)
	adm.signIn("admin", "admin-demo")
	form = url.Values{"id": {"00u_alice"}, "csrf": {csrfOf(t, adm.get("/admin/users"))}, "back": {"/admin/users"}}
	p = adm.post("/admin/do/user.deactivate", form, nil)
	if !strings.Contains(p.Body, "ended alice&#39;s live access tokens at once") || strings.Contains(p.Body, "stay valid at Todo0") {
		t.Fatalf("deactivation with Shared Signals: %s", p.Body)
	}
	if p := adm.get("/admin/connections"); !strings.Contains(p.Body, "Shared Signals: on.") {
		t.Fatal("the connections page does not say Shared Signals is on")
	}
}
