package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// bulkUsers adds n users straight to the store (u000001 ...), so tests can
// reach sizes the admin API would take minutes to build.
func (e *env) bulkUsers(n int) {
	e.t.Helper()
	if _, err := e.s.db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO users(id, username, name, email, password_hash, created_at)
		SELECT printf('00u_bulk%06d', i), printf('u%06d', i), 'Bulk', printf('u%06d@acme.example', i), '', 0 FROM seq`, n); err != nil {
		e.t.Fatal(err)
	}
}

// TestAdminAPIUsersPages: GET /admin/api/users is paged by username
// (?after=&limit=, Link rel="next" while there is more): 2,504 users come
// back exactly once each, with their groups and direct app assignments.
func TestAdminAPIUsersPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkUsers(2500)
	link := regexp.MustCompile(`^<(/admin/api/users\?[^>]+)>; rel="next"$`)
	path, pages := "/users?limit=1000", 0
	seen := map[string]bool{}
	var alice UserView
	for {
		r := e.mustAdmin(http.MethodGet, path, nil)
		pages++
		var users []UserView
		if err := json.Unmarshal([]byte(r.Body), &users); err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if seen[u.Username] {
				t.Fatalf("%s listed twice", u.Username)
			}
			seen[u.Username] = true
			if u.Username == "alice" {
				alice = u
			}
		}
		m := link.FindStringSubmatch(r.Header.Get("Link"))
		if m == nil {
			break
		}
		path = strings.TrimPrefix(m[1], "/admin/api")
	}
	if len(seen) != 2504 || pages != 3 {
		t.Errorf("%d users in %d pages", len(seen), pages)
	}
	if len(alice.Apps) == 0 || alice.Groups == nil {
		t.Errorf("alice's assignments missing from the list: %+v", alice)
	}
	if r := e.mustAdmin(http.MethodGet, "/users", nil); r.Header.Get("Link") == "" || strings.Count(r.Body, `"username"`) != defaultPage {
		t.Errorf("default page: Link %q, %d users", r.Header.Get("Link"), strings.Count(r.Body, `"username"`))
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if r := e.admin(http.MethodGet, "/users?"+q, nil); r.Status != 400 || r.str("error") != "invalid_request" {
			t.Errorf("?%s: %d %s", q, r.Status, r.Body)
		}
	}
}

// TestConsoleUsersAndAuditPages: the console's users table and audit log
// show a page at a time with a link onwards.
func TestConsoleUsersAndAuditPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkUsers(150)
	for range 120 {
		e.s.audit(t.Context(), auditRecord{Event: "sign_in", Outcome: "ok", UserID: "00u_alice"})
	}
	b := e.browser(t)
	b.signIn("admin", "admin-demo")
	p := b.get("/admin/users")
	next := regexp.MustCompile(`href="/admin/users\?after=([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
	if strings.Count(p.Body, `<tr id="user-`) != defaultPage || next == nil {
		t.Fatalf("first users page: %d rows, next %v", strings.Count(p.Body, `<tr id="user-`), next)
	}
	p = b.get("/admin/users?after=" + next[1])
	if n := strings.Count(p.Body, `<tr id="user-`); n != 154-defaultPage || strings.Contains(p.Body, `id="next-page"`) || !strings.Contains(p.Body, `id="first-page"`) {
		t.Errorf("second users page: %d rows", n)
	}
	p = b.get("/admin/audit?event=sign_in")
	older := regexp.MustCompile(`href="/admin/audit\?([^"]+)" id="older"`).FindStringSubmatch(p.Body)
	if older == nil || !strings.Contains(older[1], "event=sign_in") {
		t.Fatalf("audit page has no link to older records with the filter kept")
	}
	if !strings.Contains(p.Body, `href="/admin/audit.jsonl?event=sign_in"`) {
		t.Errorf("the export link does not keep the filter")
	}
	p = b.get("/admin/audit?" + strings.ReplaceAll(older[1], "&amp;", "&"))
	if p.Status != 200 || strings.Contains(p.Body, `id="older"`) {
		t.Errorf("older audit page: %d, still a link onwards", p.Status)
	}
}
