package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// An IdP access token ends with its session: after sign-out or an admin's
// session revocation, userinfo answers 401 invalid_token.
func TestUserinfoEndsWithTheSession(t *testing.T) {
	e := newEnv(t)
	userinfo := func(at string) response {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		return e.do(req)
	}
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid profile")
	if got := userinfo(g.AccessToken); got.Status != 200 || got.str("sub") != "00u_alice" {
		t.Fatalf("live session: %d %s", got.Status, got.Body)
	}
	if err := e.s.RevokeSession(context.Background(), "test", g.SID); err != nil {
		t.Fatal(err)
	}
	if got := userinfo(g.AccessToken); got.Status != 401 || got.str("error") != "invalid_token" {
		t.Fatalf("after session revocation: %d %s", got.Status, got.Body)
	}
	other := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	if _, _, err := e.s.RevokeAllGrants(context.Background(), "test", "00u_alice"); err != nil {
		t.Fatal(err)
	}
	if got := userinfo(other.AccessToken); got.Status != 401 {
		t.Fatalf("after revoke-all: %d %s", got.Status, got.Body)
	}
}
