package server

import (
	"context"
	"net/url"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// checklist 1.3, requesting app: unassigning the user from Agent0 stops
// Agent0 acting for them at once: the token exchange refuses (access_denied)
// and so does the refresh of its IdP grant (invalid_grant), though the ID
// token and refresh token are still unexpired.
func TestRequestingAppAssignmentCheckedAtExchangeAndRefresh(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.RefreshToken}}
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 200 {
		t.Fatalf("exchange while assigned: %d %s", got.Status, got.Body)
	}
	if got := e.post("/oauth2/token", refresh, agent0Basic); got.Status != 200 {
		t.Fatalf("refresh while assigned: %d %s", got.Status, got.Body)
	}
	if _, err := e.s.SetAssignment(context.Background(), "test", demo.AppAgent0, AssignmentInput{UserID: "00u_alice"}, false); err != nil {
		t.Fatal(err)
	}
	if got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic); got.Status != 400 || got.str("error") != "access_denied" {
		t.Fatalf("exchange after unassigning from the requesting app: %d %s", got.Status, got.Body)
	}
	if rec := e.lastAudit(t, "token_exchange"); rec.Rule != "checklist 1.3 user assigned to the requesting app" {
		t.Fatalf("audited rule %q", rec.Rule)
	}
	if got := e.post("/oauth2/token", refresh, agent0Basic); got.Status != 400 || got.str("error") != "invalid_grant" {
		t.Fatalf("refresh after unassigning: %d %s", got.Status, got.Body)
	}
}
