package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// IDJAG "Step-Up Authentication" / RFC 9470 3: a connection that needs a
// recent sign-in refuses an older one with insufficient_user_authentication
// and max_age; a fresh sign-in passes.
func TestExchangeStepUp(t *testing.T) {
	e := newEnv(t)
	e.mustAdmin(http.MethodPatch, "/connections/mc_agent0_todo0", map[string]any{"max_auth_age": 600})
	if got := e.mustAdmin(http.MethodGet, "/connections/mc_agent0_todo0", nil); got.JSON["max_auth_age"] != float64(600) {
		t.Fatalf("max_auth_age not stored: %s", got.Body)
	}
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	t.Run("recent sign-in", func(t *testing.T) {
		e.advance(t, 5*time.Minute)
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("got %d %s", got.Status, got.Body)
		}
	})
	t.Run("sign-in too old", func(t *testing.T) {
		e.advance(t, 11*time.Minute)
		for name, f := range map[string]func() map[string][]string{
			"ID token subject": func() map[string][]string { return e.exchangeForm(alice.IDToken) },
			"refresh token subject": func() map[string][]string {
				f := e.exchangeForm(alice.RefreshToken)
				f.Set("subject_token_type", oauth.TokenTypeRefreshToken)
				return f
			},
		} {
			mark := e.auditMark(t)
			got := e.post("/oauth2/token", f(), agent0Basic)
			if got.Status != 400 || got.str("error") != oauth.ErrInsufficientUserAuthentication || got.JSON["max_age"] != float64(600) {
				t.Fatalf("%s: got %d %s, want 400 insufficient_user_authentication with max_age 600", name, got.Status, got.Body)
			}
			if rec := e.auditSince(t, "token_exchange", mark); rec.Outcome != "denied" || !strings.Contains(rec.Rule, "step-up") {
				t.Errorf("%s: audit %+v", name, rec)
			}
		}
		fresh := e.signIn("alice", demo.Agent0IdPClientID, "openid")
		if got := e.post("/oauth2/token", e.exchangeForm(fresh.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("after signing in again: %d %s", got.Status, got.Body)
		}
	})
	t.Run("no requirement: any sign-in", func(t *testing.T) {
		e.mustAdmin(http.MethodPatch, "/connections/mc_agent0_todo0", map[string]any{"max_auth_age": 0})
		e.advance(t, 50*time.Minute)
		if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
			t.Fatalf("got %d %s", got.Status, got.Body)
		}
	})
}
