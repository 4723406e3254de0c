package server

import (
	"context"
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

// A client that hangs up does not cut an exchange short: its statements run
// without the request's cancellation (watching it cost a goroutine per
// statement), so the grant is decided and audited as for anyone.
func TestExchangeRunsToItsEndAfterHangUp(t *testing.T) {
	e := newEnv(t)
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	c, err := e.s.client(context.Background(), demo.Agent0IdPClientID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mark := e.auditMark(t)
	resp, err := e.s.tokenExchange(ctx, c, e.exchangeForm(g.IDToken))
	if err != nil {
		t.Fatalf("exchange after hang-up: %v", err)
	}
	if r, _ := resp.(*exchangeResponse); r == nil || r.AccessToken == "" {
		t.Fatalf("exchange after hang-up answered %#v", resp)
	}
	if a := e.auditSince(t, "token_exchange", mark); a.Outcome != "granted" {
		t.Fatalf("audited %+v", a)
	}
}
