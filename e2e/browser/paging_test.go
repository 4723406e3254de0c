//go:build browser

package browser

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestTodo0PagePages: a person with 120 todos sees them 50 at a time on
// Todo0's page and walks through them with "Next page" and back with
// "First page", and marking one done keeps them on its page; the admin sees 100 users per page of the console's table.
func TestTodo0PagePages(t *testing.T) {
	dir := t.TempDir()
	sb := StartSandbox(t, sandbox.Options{DataDir: dir})
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Todo0URL+"/login", "alice", "alice-demo")
	alice.MustContain("Alice Anderson's todos", "No todos yet.")
	exec := func(file, q string, args ...any) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, file)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	const seq = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) `
	exec("todo0/todo0.db", seq+`INSERT INTO todos(user_id, title, created_at, created_by) SELECT (SELECT id FROM users WHERE sub = '00u_alice'), printf('todo %03d', i), 0, 'person' FROM seq`, 120)
	count := func() int { return strings.Count(alice.HTML(), `<li data-id=`) }

	alice.Go(sb.Todo0URL + "/")
	if n := count(); n != 50 || !alice.Exists("#next-page") || alice.Exists("#first-page") {
		t.Fatalf("first page: %d todos, next %v", n, alice.Exists("#next-page"))
	}
	alice.MustContain("todo 001", "todo 050")
	alice.MustNotContain("todo 051")
	alice.Click("#next-page")
	alice.MustContain("todo 051", "todo 100")
	alice.MustNotContain("todo 050", "todo 101")
	// Done on the second page comes back to the second page.
	alice.Click(`li[data-id="60"] button`)
	alice.MustContain("todo 051", "todo 100")
	if !alice.Exists(`li[data-id="60"] span.done`) || alice.Exists(`li[data-id="60"] button`) {
		t.Fatal("todo 060 is not shown done on the page it was marked on")
	}
	alice.Click("#next-page")
	if n := count(); n != 20 || alice.Exists("#next-page") || !alice.Exists("#first-page") {
		t.Fatalf("last page: %d todos, next %v", n, alice.Exists("#next-page"))
	}
	alice.MustContain("todo 101", "todo 120")
	if dst := os.Getenv("XAA_PAGING_SCREENSHOT"); dst != "" {
		alice.Screenshot(dst)
	}
	alice.Click("#first-page")
	alice.MustContain("todo 001")

	exec("idp/idp.db", seq+`INSERT INTO users(id, username, name, email, password_hash, created_at) SELECT printf('00u_bulk%03d', i), printf('user%03d', i), 'Bulk', printf('user%03d@acme.example', i), '', 0 FROM seq`, 150)
	admin := NewPerson(t, "admin")
	admin.SignIn(sb.IdPURL+"/admin", "admin", "admin-demo")
	admin.Go(sb.IdPURL + "/admin/users")
	if n := strings.Count(admin.HTML(), `<tr id="user-`); n != 100 || !admin.Exists("#next-page") {
		t.Fatalf("users page: %d rows", n)
	}
	admin.Click("#next-page")
	if n := strings.Count(admin.HTML(), `<tr id="user-`); n != 54 || admin.Exists("#next-page") {
		t.Fatalf("second users page: %d rows", n)
	}

	// A group of 150: its page shows 100 members, the next page the other
	// 50, and removing one there keeps the admin on a working page.
	exec("idp/idp.db", `INSERT INTO groups(id, name, created_at) VALUES ('g_bulk', 'bulk', 0)`)
	exec("idp/idp.db", seq+`INSERT INTO group_members(group_id, user_id) SELECT 'g_bulk', printf('00u_bulk%03d', i) FROM seq`, 150)
	admin.Go(sb.IdPURL + "/admin/groups")
	admin.MustContain("more members")
	admin.Click(`#group-g_bulk a[href="/admin/groups/g_bulk"]`)
	members := func() int { return strings.Count(admin.HTML(), `<tr id="member-`) }
	if n := members(); n != 100 || !admin.Exists("#next-page") || admin.Exists("#first-page") {
		t.Fatalf("group page: %d members, next %v", n, admin.Exists("#next-page"))
	}
	admin.MustContain("user001", "user100")
	admin.MustNotContain("user101")
	admin.Click("#next-page")
	if n := members(); n != 50 || admin.Exists("#next-page") || !admin.Exists("#first-page") {
		t.Fatalf("second group page: %d members", n)
	}
	admin.MustContain("user101", "user150")
	if dst := os.Getenv("XAA_GROUP_PAGING_SCREENSHOT"); dst != "" {
		admin.Screenshot(dst)
	}
	admin.Submit(`#member-user150 button`)
	admin.MustNotContain(`id="member-user150"`)
	admin.Go(sb.IdPURL + "/admin/groups/g_bulk?after=00u_bulk100")
	if n := members(); n != 49 {
		t.Fatalf("after removing user150: %d members on the second page, want 49", n)
	}
}
