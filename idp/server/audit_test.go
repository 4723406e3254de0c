package server

import (
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// checklist 1.7: the decision is recorded. A granted exchange whose audit
// record cannot be written hands out no ID-JAG.
func TestExchangeNotHandedOutUnaudited(t *testing.T) {
	e := newEnv(t)
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	if r := e.post("/oauth2/token", e.exchangeForm(g.IDToken), postSecret(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)); r.Status != 200 {
		t.Fatalf("control exchange: %d %s", r.Status, r.Body)
	}
	// Make every audit insert fail.
	if _, err := e.s.db.Exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit disk full'); END`); err != nil {
		t.Fatal(err)
	}
	r := e.post("/oauth2/token", e.exchangeForm(g.IDToken), postSecret(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret))
	if r.Status != 500 || r.str("error") != "server_error" || r.str("access_token") != "" {
		t.Fatalf("unaudited exchange: %d %s", r.Status, r.Body)
	}
}
