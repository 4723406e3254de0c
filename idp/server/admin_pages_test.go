package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// bulkGroupAndApp adds n users (bulkUsers), a group "bulk" with all of
// them as members and an app "bulkapp" they are all assigned to, straight
// to the store.
func (e *env) bulkGroupAndApp(n int) {
	e.t.Helper()
	e.bulkUsers(n)
	for _, q := range []string{
		`INSERT INTO groups(id, name, created_at) VALUES ('bulk', 'bulk', 0)`,
		`INSERT INTO apps(id, name) VALUES ('bulkapp', 'Bulk app')`,
		`INSERT INTO group_members(group_id, user_id) SELECT 'bulk', id FROM users WHERE id LIKE '00u_bulk%'`,
		`INSERT INTO assignments(app_id, user_id) SELECT 'bulkapp', id FROM users WHERE id LIKE '00u_bulk%'`,
	} {
		if _, err := e.s.db.Exec(q); err != nil {
			e.t.Fatal(err)
		}
	}
}

// bulkGrants gives alice sessions unexpired sessions and tokens unexpired
// refresh tokens (three to a second, so the order's ties are exercised),
// plus one expired session and token that no page may list.
func (e *env) bulkGrants(sessions, tokens int) {
	e.t.Helper()
	now := e.now().Unix()
	const seq = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) `
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{seq + `INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at)
			SELECT printf('sid%04d', i), randomblob(32), '00u_alice', ? - i / 3, ? + 3600 FROM seq`, []any{sessions, now, now}},
		{seq + `INSERT INTO refresh_tokens(token_hash, id, client_id, user_id, sid, scope, created_at, expires_at)
			SELECT randomblob(32), printf('rt%04d', i), 'agent0', '00u_alice', 'sid0001', 'openid', ? - i / 3, ? + 3600 FROM seq`, []any{tokens, now, now}},
		{`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES ('expired', randomblob(32), '00u_alice', ?, ?)`, []any{now, now - 1}},
		{`INSERT INTO refresh_tokens(token_hash, id, client_id, user_id, sid, scope, created_at, expires_at) VALUES (randomblob(32), 'expired', 'agent0', '00u_alice', 'expired', 'openid', ?, ?)`, []any{now, now - 1}},
	} {
		if _, err := e.s.db.Exec(q.sql, q.args...); err != nil {
			e.t.Fatal(err)
		}
	}
}

var nextLink = regexp.MustCompile(`^<(/admin/api/[^>]+)>; rel="next"$`)

// walk follows a list's Link rel="next" from path to its last page and
// returns each page's item ids as decoded by ids.
func (e *env) walk(t *testing.T, path string, ids func(body string) []string) [][]string {
	t.Helper()
	var pages [][]string
	for path != "" && len(pages) < 100 {
		r := e.mustAdmin(http.MethodGet, path, nil)
		pages = append(pages, ids(r.Body))
		path = ""
		if m := nextLink.FindStringSubmatch(r.Header.Get("Link")); m != nil {
			path = strings.TrimPrefix(m[1], "/admin/api")
		} else if l := r.Header.Get("Link"); l != "" {
			t.Fatalf("Link %q is not a next link", l)
		}
	}
	return pages
}

func memberIDs(t *testing.T) func(string) []string {
	return func(body string) []string {
		var ms []MemberView
		if err := json.Unmarshal([]byte(body), &ms); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, m := range ms {
			if m.Username == "" || m.Name == "" {
				t.Fatalf("member without a username or name: %+v", m)
			}
			out = append(out, m.ID)
		}
		return out
	}
}

func bulkIDs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("00u_bulk%06d", i))
	}
	return out
}

// TestAdminAPIMemberPages: a group's members and an app's assigned users
// are paged by user id (?after=&limit=, Link rel="next" while there is
// more): the first, a middle and the last page of 150, each member once,
// in order; the default page is 100.
func TestAdminAPIMemberPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkGroupAndApp(150)
	for _, list := range []string{"/groups/bulk/members", "/apps/bulkapp/assignments/users"} {
		t.Run(list, func(t *testing.T) {
			pages := e.walk(t, list+"?limit=60", memberIDs(t))
			want := [][]string{bulkIDs(1, 60), bulkIDs(61, 120), bulkIDs(121, 150)}
			if fmt.Sprint(pages) != fmt.Sprint(want) {
				t.Errorf("pages:\n got %v\nwant %v", pages, want)
			}
			if pages := e.walk(t, list, memberIDs(t)); len(pages) != 2 || len(pages[0]) != defaultPage || len(pages[1]) != 50 {
				t.Errorf("default pages: %d", len(pages))
			}
			if pages := e.walk(t, list+"?after=00u_bulk000150", memberIDs(t)); len(pages) != 1 || len(pages[0]) != 0 {
				t.Errorf("after the last member: %v", pages)
			}
		})
	}
}

// TestAdminAPIGrantPages: a user's sessions and refresh tokens are paged
// together, newest first, each list by its own position in one opaque
// after=; a list that ends first stays empty on the later pages, and
// expired grants are never listed.
func TestAdminAPIGrantPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkGrants(150, 70)
	ids := func(body string) []string {
		var g UserGrants
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, s := range g.Sessions {
			out = append(out, s.SID)
		}
		for _, rt := range g.RefreshTokens {
			out = append(out, rt.ID)
		}
		return out
	}
	// Newest first: a larger i is an earlier time; among rows of the same
	// second the one stored last comes first.
	seq := func(prefix string, n, from, to int) []string {
		var order []int
		for i := 1; i <= n; i++ {
			order = append(order, i)
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(a/3, b/3), cmp.Compare(b, a)) })
		var out []string
		for _, i := range order[from-1 : to] {
			out = append(out, fmt.Sprintf("%s%04d", prefix, i))
		}
		return out
	}
	pages := e.walk(t, "/users/00u_alice/sessions?limit=60", ids)
	want := [][]string{
		append(seq("sid", 150, 1, 60), seq("rt", 70, 1, 60)...),
		append(seq("sid", 150, 61, 120), seq("rt", 70, 61, 70)...),
		seq("sid", 150, 121, 150),
	}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages:\n got %v\nwant %v", pages, want)
	}
	if pages := e.walk(t, "/users/00u_alice/sessions", ids); len(pages) != 2 || len(pages[0]) != defaultPage+70 || len(pages[1]) != 50 {
		t.Errorf("default pages: %v", pages)
	}
}

// TestAdminAPIPageParameters: a bad limit or after is a 400
// invalid_request in the one error shape, an unknown parent a 404.
func TestAdminAPIPageParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := url.QueryEscape(strings.Repeat("x", maxAfter+1))
	lists := []string{"/users", "/groups/bulk/members", "/apps/bulkapp/assignments/users", "/users/00u_alice/sessions"}
	e.bulkGroupAndApp(3)
	for _, tc := range []struct {
		lists  []string
		query  string
		status int
	}{
		{lists, "limit=0", 400},
		{lists, "limit=1001", 400},
		{lists, "limit=x", 400},
		{lists, "limit=-5", 400},
		{lists, "after=" + long, 400},
		{lists, "after=a%01b", 400},
		{lists[3:], "after=garbage", 400},
		{lists[3:], "after=end_end", 400},
		{lists[3:], "after=12.3", 400},
		{lists[3:], "after=-1.2_end", 400},
		{lists[3:], "after=1.x_end", 400},
		{[]string{"/groups/nope/members", "/apps/nope/assignments/users", "/users/nope/sessions"}, "", 404},
		{lists, "limit=1000", 200},
		{lists[3:], "after=end_5.1", 200},
	} {
		for _, l := range tc.lists {
			r := e.admin(http.MethodGet, l+"?"+tc.query, nil)
			if r.Status != tc.status {
				t.Errorf("%s?%s: %d %s, want %d", l, tc.query, r.Status, r.Body, tc.status)
				continue
			}
			if tc.status != 200 && (r.str("error") != "invalid_request" || r.Header.Get("Cache-Control") != "no-store") {
				t.Errorf("%s?%s: %s (Cache-Control %q)", l, tc.query, r.Body, r.Header.Get("Cache-Control"))
			}
		}
	}
}

// TestAdminAPIEmbeddedFirstPage: a group and an app embed only the first
// page of their users' ids and say so: members_next / assigned_users_next
// name the next page of the paged list, which continues where the embedded
// list stopped. A small list is complete and has no next field.
func TestAdminAPIEmbeddedFirstPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkGroupAndApp(150)
	for _, tc := range []struct{ path, list, next, want string }{
		{"/groups/bulk", "members", "members_next", "/admin/api/groups/bulk/members?after=00u_bulk000100"},
		{"/apps/bulkapp", "assigned_users", "assigned_users_next", "/admin/api/apps/bulkapp/assignments/users?after=00u_bulk000100"},
	} {
		r := e.mustAdmin(http.MethodGet, tc.path, nil)
		if got := r.JSON[tc.list].([]any); len(got) != defaultPage || got[99] != "00u_bulk000100" {
			t.Errorf("%s: %d %s", tc.path, len(got), tc.list)
		}
		if r.str(tc.next) != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.path, tc.next, r.str(tc.next), tc.want)
		}
		rest := e.walk(t, strings.TrimPrefix(r.str(tc.next), "/admin/api"), memberIDs(t))
		if fmt.Sprint(rest) != fmt.Sprint([][]string{bulkIDs(101, 150)}) {
			t.Errorf("%s: the next page is %v", tc.path, rest)
		}
	}
	if _, err := e.s.db.Exec(`DELETE FROM group_members WHERE user_id > '00u_bulk000002'`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/apps/todo0", "/groups/bulk"} {
		r := e.mustAdmin(http.MethodGet, path, nil)
		if strings.Contains(r.Body, `_next"`) {
			t.Errorf("%s: a complete list has a next field: %s", path, r.Body)
		}
	}
}

// TestPageQueriesUseIndexes: every page is one index range, read in order:
// no table scan, no sort.
func TestPageQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const members, assigned = "INDEX sqlite_autoindex_group_members_1 (group_id=?", "INDEX assignments_app (app_id=?"
	for _, q := range []struct {
		sql   string
		args  []any
		index string // the range each page reads
	}{
		{groupMembersPage, []any{"g", "", 10}, members},
		{appUsersPage, []any{"a", "", 10}, assigned},
		{groupMemberIDs, []any{"g", 10}, members},
		{appUserIDs, []any{"a", 10}, assigned},
		{sessionsPage, []any{"u", 1, 1, 0, 10}, "INDEX sessions_user (user_id=?"},
		{refreshTokensPage, []any{"u", 1, 1, 0, 10}, "INDEX refresh_tokens_user (user_id=?"},
	} {
		rows, err := e.s.db.Query("EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if strings.Contains(p, "SCAN") || strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, q.index) {
			t.Errorf("%s\nplan: %s", q.sql, p)
		}
	}
}

// TestConsoleMemberAndGrantPages: the console's group, app and user pages
// show one page of members, assigned users or sessions with a link
// onwards; the group and app lists link to them when there are more.
func TestConsoleMemberAndGrantPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bulkGroupAndApp(150)
	e.bulkGrants(150, 10)
	b := e.browser(t)
	b.signIn("admin", "admin-demo")
	for _, tc := range []struct{ list, page, row, more string }{
		{"/admin/groups", "/admin/groups/bulk", `<tr id="member-`, `href="/admin/groups/bulk" class="more"`},
		{"/admin/apps", "/admin/apps/bulkapp", `<tr id="assigned-`, `href="/admin/apps/bulkapp" class="more"`},
		{"", "/admin/users/00u_alice", `<tr><td><code>sid`, ""},
	} {
		if tc.list != "" {
			if p := b.get(tc.list); !strings.Contains(p.Body, tc.more) {
				t.Errorf("%s does not link to the rest: %d", tc.list, p.Status)
			}
		}
		p := b.get(tc.page)
		next := regexp.MustCompile(`href="` + regexp.QuoteMeta(tc.page) + `\?after=([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
		if n := strings.Count(p.Body, tc.row); n != defaultPage || next == nil {
			t.Fatalf("%s: %d rows, next %v (%d)", tc.page, n, next, p.Status)
		}
		p = b.get(tc.page + "?after=" + strings.ReplaceAll(next[1], "&amp;", "&"))
		if n := strings.Count(p.Body, tc.row); n != 50 || strings.Contains(p.Body, `id="next-page"`) || !strings.Contains(p.Body, `id="first-page"`) {
			t.Errorf("%s second page: %d rows (%d)", tc.page, n, p.Status)
		}
	}
	if p := b.get("/admin/users/00u_alice?after=bad"); p.Status != 400 {
		t.Errorf("a bad after on the user page: %d", p.Status)
	}
}
