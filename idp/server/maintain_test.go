package server

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.s.db.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestMaintainPrunesExpiredSessionsAndRefreshTokens: Maintain deletes
// refresh tokens once expired, and sessions once expired for longer than an
// ID token lives and with no live refresh token under them; until then a
// refresh token keeps working after its browser session ended.
func TestMaintainPrunesExpiredSessionsAndRefreshTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid profile offline_access")
	if g.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	bare := "sid_bare"
	if _, err := e.s.db.Exec(`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?, x'01', '00u_bob', ?, ?)`,
		bare, e.now().Unix(), e.now().Add(time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	sessions := func() int { return e.count(`SELECT COUNT(*) FROM sessions WHERE sid IN (?, ?)`, g.SID, bare) }
	refresh := func() response {
		return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}, basic(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret))
	}

	// Just expired: an ID token issued under the session may still be live.
	e.advance(t, time.Hour+time.Minute)
	if err := e.s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sessions(); n != 2 {
		t.Errorf("sessions just past expiry: %d left, want 2", n)
	}
	// Past every ID token's life: the bare session goes, the one a refresh
	// token still needs stays, and the refresh token still works.
	e.advance(t, e.s.cfg.IDTokenTTL+e.s.cfg.ClockSkew)
	if err := e.s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if e.count(`SELECT COUNT(*) FROM sessions WHERE sid = ?`, bare) != 0 || e.count(`SELECT COUNT(*) FROM sessions WHERE sid = ?`, g.SID) != 1 {
		t.Errorf("after the ID token lifetime: bare session kept or refresh token's session deleted")
	}
	if r := refresh(); r.Status != 200 {
		t.Fatalf("refresh after the browser session ended: %d %s", r.Status, r.Body)
	}
	// Past the refresh tokens' life: everything of the sign-in is gone.
	e.advance(t, e.s.cfg.RefreshTokenTTL)
	if err := e.s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, rt := sessions(), e.count(`SELECT COUNT(*) FROM refresh_tokens WHERE sid = ?`, g.SID); n != 0 || rt != 0 {
		t.Errorf("after refresh token expiry: %d sessions, %d refresh tokens left", n, rt)
	}
	if r := refresh(); r.Status != 400 || r.str("error") != "invalid_grant" {
		t.Errorf("pruned refresh token: %d %s", r.Status, r.Body)
	}
}

// TestAuditRetention: Maintain keeps the audit records of the last
// AuditMaxAge and at most the newest AuditMaxRows; a negative setting keeps
// everything; the defaults keep 30 days and 200,000 records.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	write := func(e *env, n int) {
		for range n {
			e.s.audit(ctx, auditRecord{Event: "sign_in", Outcome: "ok", UserID: "00u_alice"})
		}
	}
	fresh := func(mod func(*Config)) *env {
		e := newEnv(t, mod)
		if _, err := e.s.db.Exec(`DELETE FROM audit`); err != nil {
			t.Fatal(err)
		}
		return e
	}
	ids := func(e *env) (n, lo int) {
		_ = e.s.db.QueryRow(`SELECT COUNT(*), COALESCE(MIN(id), 0) FROM audit`).Scan(&n, &lo)
		return
	}

	t.Run("age", func(t *testing.T) {
		e := fresh(func(c *Config) { c.AuditMaxAge, c.AuditMaxRows = time.Hour, -1 })
		write(e, 10)
		e.advance(t, 2*time.Hour)
		write(e, 5)
		_, hi := ids(e)
		if err := e.s.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if n, lo := ids(e); n != 5 || lo != hi+10 {
			t.Errorf("%d records from id %d, want the 5 newest", n, lo)
		}
		e.advance(t, 2*time.Hour) // everything old: nothing is kept
		if err := e.s.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := ids(e); n != 0 {
			t.Errorf("%d records older than the window kept", n)
		}
	})
	t.Run("rows", func(t *testing.T) {
		e := fresh(func(c *Config) { c.AuditMaxAge, c.AuditMaxRows = -1, 7 })
		write(e, 20)
		if err := e.s.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		var newest int
		_ = e.s.db.QueryRow(`SELECT MAX(id) FROM audit`).Scan(&newest)
		if n, lo := ids(e); n != 7 || lo != newest-6 {
			t.Errorf("%d records from id %d, want the 7 newest", n, lo)
		}
	})
	t.Run("keep", func(t *testing.T) {
		e := fresh(func(c *Config) { c.AuditMaxAge, c.AuditMaxRows = -1, -1 })
		write(e, 20)
		e.advance(t, 10*365*24*time.Hour)
		if err := e.s.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := ids(e); n != 20 {
			t.Errorf("%d of 20 records kept with retention off", n)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		e := newEnv(t)
		if e.s.cfg.AuditMaxAge != 30*24*time.Hour || e.s.cfg.AuditMaxRows != 200000 {
			t.Errorf("defaults %v, %d", e.s.cfg.AuditMaxAge, e.s.cfg.AuditMaxRows)
		}
	})
}
