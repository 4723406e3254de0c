package server

import (
	"net/http"
	"testing"
)

// TestUserCacheSettles: checklist 3.10 users by (iss, sub); a write only
// counts once its transaction committed, a rolled-back one is forgotten, and
// an older write settled late does not hide a newer one.
func TestUserCacheSettles(t *testing.T) {
	var c userCache
	k := userKey{"iss", "sub"}
	seq := c.pending(k, cachedUser{id: "u1", email: "a"})
	if _, ok := c.lookup(k); ok {
		t.Fatal("an uncommitted write is visible")
	}
	c.settle(k, seq, true)
	if u, ok := c.lookup(k); !ok || u.id != "u1" || u.email != "a" {
		t.Fatalf("committed write: %+v %v", u, ok)
	}
	older := c.pending(k, cachedUser{id: "u1", email: "b"})
	newer := c.pending(k, cachedUser{id: "u1", email: "c"})
	c.settle(k, older, true)
	if _, ok := c.lookup(k); ok {
		t.Fatal("an older write settled late counts for the newer, uncommitted one")
	}
	c.settle(k, newer, true)
	if u, _ := c.lookup(k); u.email != "c" {
		t.Fatalf("email %q, want the last committed c", u.email)
	}
	c.settle(k, c.pending(k, cachedUser{id: "u1", email: "d"}), false)
	if _, ok := c.lookup(k); ok {
		t.Fatal("a rolled-back write is still known")
	}
	for i := range maxCachedUsers + 1 {
		c.pending(userKey{"iss", string(rune(i))}, cachedUser{})
	}
	if len(c.m) > maxCachedUsers {
		t.Fatalf("%d users cached, bound %d", len(c.m), maxCachedUsers)
	}
}

// TestReturningUserNotRewritten: checklist 3.10, a returning user whose
// IdP sent the same profile is found, not written again; a changed profile
// is written.
func TestReturningUserNotRewritten(t *testing.T) {
	e := newEnv(t)
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("first redemption %d %v", resp.StatusCode, decode(t, resp))
	}
	if _, err := e.s.db.Exec(`CREATE TRIGGER test_no_user_update BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'test: user rewritten'); END`); err != nil {
		t.Fatal(err)
	}
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("returning user with the same profile: %d %v", resp.StatusCode, decode(t, resp))
	}
	c := e.claims()
	c["name"] = "Alice B. Anderson"
	wantOAuthError(t, e.redeem(sign(t, jwtSpec{}, c)), http.StatusInternalServerError, "server_error")
	if _, err := e.s.db.Exec(`DROP TRIGGER test_no_user_update`); err != nil {
		t.Fatal(err)
	}
	if resp := e.redeem(sign(t, jwtSpec{}, c)); resp.StatusCode != http.StatusOK {
		t.Fatalf("changed profile: %d %v", resp.StatusCode, decode(t, resp))
	}
	var name string
	if err := e.s.db.QueryRow(`SELECT name FROM users WHERE sub = '00u_alice'`).Scan(&name); err != nil || name != "Alice B. Anderson" {
		t.Errorf("name %q (%v), want the IdP's latest", name, err)
	}
}
