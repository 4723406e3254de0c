package server

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// TestUpgradeKeepsIDJAGsRedeemed: EMA jti replay across an upgrade. A data
// directory written by version 5 (ID-JAGs recorded in seen_jti, whether
// their grant is still kept or already pruned) opens with version 6, where
// the grant is the replay record: both ID-JAGs are still refused, the old
// grant is kept for revocation and the page, client assertion records stay
// in seen_jti, and Maintain prunes the moved records once they expired.
func TestUpgradeKeepsIDJAGsRedeemed(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var iss string
	e := newEnv(t, func(cfg *Config) {
		iss = cfg.IdPIssuer
		db, err := sqlitedb.Open(context.Background(), filepath.Join(cfg.DataDir, "todo0.db"), migrations[:5])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		exp := now.Add(5 * time.Minute).Unix()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users(id, iss, sub, created_at) VALUES ('t0u_old', ?, '00u_alice', 0)`, []any{iss}},
			{`INSERT INTO seen_jti(id, exp) VALUES (?, ?), (?, ?), (?, ?)`, []any{
				"id-jag\x00" + iss + "\x00jag-kept", exp, "id-jag\x00" + iss + "\x00jag-pruned", exp, "client_assertion\x00agent0\x00ca-1", exp}},
			{`INSERT INTO grants(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at) VALUES ('at-old', ?, ?, 't0u_old', 'r', 'todos.read', 'jag-kept', ?)`,
				[]any{now.Unix(), demo.Agent0Todo0ClientID, exp}},
		} {
			if _, err := db.Exec(q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, jti := range []string{"jag-kept", "jag-pruned"} {
		c := e.claims()
		c["jti"] = jti
		wantOAuthError(t, e.redeem(sign(t, jwtSpec{}, c)), http.StatusBadRequest, oauth.ErrInvalidGrant)
	}
	if resp := e.redeem(sign(t, jwtSpec{}, e.claims())); resp.StatusCode != http.StatusOK {
		t.Fatalf("a new ID-JAG after the upgrade: %d %v", resp.StatusCode, decode(t, resp))
	}
	var oldGrant, assertions, oldIDJAGs, apps int
	if err := e.s.db.QueryRow(`SELECT (SELECT COUNT(*) FROM grants WHERE jti = 'at-old' AND user_id = 't0u_old'),
		(SELECT COUNT(*) FROM seen_jti WHERE id = 'client_assertion' || char(0) || 'agent0' || char(0) || 'ca-1'),
		(SELECT COUNT(*) FROM seen_jti WHERE id <> 'client_assertion' || char(0) || 'agent0' || char(0) || 'ca-1'),
		(SELECT n FROM grant_apps WHERE user_id = 't0u_old')`).Scan(&oldGrant, &assertions, &oldIDJAGs, &apps); err != nil {
		t.Fatal(err)
	}
	if oldGrant != 1 || assertions != 1 || oldIDJAGs != 0 || apps != 2 {
		t.Errorf("old grant %d, client assertion records %d, ID-JAG records left in seen_jti %d, page count %d; want 1, 1, 0, 2", oldGrant, assertions, oldIDJAGs, apps)
	}
	e.s.now = func() time.Time { return now.Add(time.Hour) }
	if err := e.s.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.grants != 0 || st.seenJTI != 0 {
		t.Errorf("after everything expired: %+v, want no grant and no replay record", st)
	}
}
