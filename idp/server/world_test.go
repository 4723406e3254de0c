package server

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// TestSeededURLsFollowTheConfiguration: started again with other URLs on
// the same database, Acme rewrites the seeded values that still hold the
// previous URLs, and keeps what an administrator registered (checklist 10.1).
func TestSeededURLsFollowTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir, func(c *Config) { c.Todo0URL, c.Todo0MCPURL = "http://localhost:7003", "http://localhost:7004" })
	old := e1.cfg.Agent0URL
	// An administrator registered another redirect URI for agent0.
	if _, err := e1.s.db.Exec(`UPDATE clients SET redirect_uris = ? WHERE id = ?`, mustJSON([]string{old + "/callback", "https://custom.example/cb"}), demo.Agent0IdPClientID); err != nil {
		t.Fatal(err)
	}
	e1.s.Close()

	e2 := newEnvAt(t, dir, func(c *Config) {
		c.Agent0URL, c.Todo0URL, c.Todo0MCPURL = "http://127.0.0.1:8002", "http://127.0.0.1:8003", "http://127.0.0.1:8004"
	})
	list := func(q, id string) []string {
		var raw string
		if err := e2.s.db.QueryRow(q, id).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var out []string
		_ = json.Unmarshal([]byte(raw), &out)
		return out
	}
	c, err := e2.s.client(t.Context(), demo.Agent0IdPClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.RedirectURIs, []string{"http://127.0.0.1:8002/callback", "https://custom.example/cb"}) {
		t.Errorf("agent0 redirect URIs = %v", c.RedirectURIs)
	}
	if c.JWKSURI != "http://127.0.0.1:8002/.well-known/jwks.json" {
		t.Errorf("agent0 jwks_uri = %s", c.JWKSURI)
	}
	if got := e2.s.postLogoutRedirects(t.Context(), demo.Agent0IdPClientID); !slices.Equal(got, []string{"http://127.0.0.1:8002/"}) {
		t.Errorf("agent0 post-logout redirects = %v", got)
	}
	if got := list(`SELECT redirect_uris FROM clients WHERE id = ?`, demo.Todo0IdPClientID); !slices.Equal(got, []string{"http://127.0.0.1:8003/callback"}) {
		t.Errorf("todo0 redirect URIs = %v", got)
	}
	var aud string
	if err := e2.s.db.QueryRow(`SELECT audience FROM apps WHERE id = ?`, demo.AppTodo0).Scan(&aud); err != nil || aud != "http://127.0.0.1:8003" {
		t.Errorf("todo0 audience = %q (%v)", aud, err)
	}
	if got := list(`SELECT resources FROM apps WHERE id = ?`, demo.AppTodo0); !slices.Equal(got, []string{"http://127.0.0.1:8004/mcp"}) {
		t.Errorf("todo0 resources = %v", got)
	}
	if got := list(`SELECT resources FROM managed_connections WHERE id = ?`, "mc_agent0_todo0"); !slices.Equal(got, []string{"http://127.0.0.1:8004/mcp"}) {
		t.Errorf("connection resources = %v", got)
	}
}

// TestOlderWorldGetsWiki0Once: a data directory made before Wiki0 (the SAML
// requesting app) joined the demo world gets it at the next start, with the
// demo users' assignments; one an administrator deleted afterwards is not
// added again.
func TestOlderWorldGetsWiki0Once(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir)
	count := func(e *env, q string, args ...any) int {
		var n int
		if err := e.s.db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// What a data directory from before Wiki0 looks like.
	for _, q := range []string{
		`DELETE FROM managed_connections WHERE id = 'mc_wiki0_todo0'`,
		`DELETE FROM clients WHERE id = 'wiki0'`,
		`DELETE FROM apps WHERE id = 'wiki0'`,
		`DELETE FROM seed_additions`,
	} {
		if _, err := e1.s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	e1.s.Close()

	e2 := newEnvAt(t, dir)
	if n := count(e2, `SELECT COUNT(*) FROM saml_service_providers WHERE client_id = ?`, demo.Wiki0IdPClientID); n != 1 {
		t.Fatalf("Wiki0's SAML registration: %d rows, want 1", n)
	}
	if n := count(e2, `SELECT COUNT(*) FROM managed_connections WHERE client_id = ?`, demo.Wiki0IdPClientID); n != 1 {
		t.Errorf("Wiki0's connection: %d rows, want 1", n)
	}
	want := 0
	for _, u := range demo.Users {
		if slices.Contains(u.Apps, demo.AppWiki0) {
			want++
		}
	}
	if n := count(e2, `SELECT COUNT(*) FROM assignments WHERE app_id = ?`, demo.AppWiki0); n != want || want == 0 {
		t.Errorf("Wiki0 assignments: %d, want %d", n, want)
	}
	// The administrator removes Wiki0; it stays removed.
	if _, err := e2.s.db.Exec(`DELETE FROM managed_connections WHERE id = 'mc_wiki0_todo0'; DELETE FROM clients WHERE id = 'wiki0'; DELETE FROM apps WHERE id = 'wiki0'`); err != nil {
		t.Fatal(err)
	}
	e2.s.Close()
	e3 := newEnvAt(t, dir)
	if n := count(e3, `SELECT COUNT(*) FROM apps WHERE id = ?`, demo.AppWiki0); n != 0 {
		t.Errorf("Wiki0 came back after the administrator deleted it")
	}
}
