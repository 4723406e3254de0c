package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// grown is a running sandbox whose databases hold n rows of every growing
// kind, written straight into the stores: n audit records (10% about
// alice, 10% denied, 10% admin events, so every filter fills a page of 100
// even at 1,000 rows and the sizes compare equal work), n IdP users, n todos
// and n Todo0 grants for alice; a group with the n users as members, an app
// with the n users assigned, and one user with n sessions and n refresh
// tokens at the IdP.
type grown struct {
	n           int
	sb          *sandbox.Sandbox
	hc          *http.Client
	todo0User   string
	todo0Cookie string
	mcp         *mcp.ClientSession
	midUser     string // a username in the middle of the user list
	midTodo     string // a cursor in the middle of alice's todos
	midMember   string // a user id in the middle of the group's members and the app's users
	midGrants   string // a cursor in the middle of the busy user's sessions and refresh tokens
}

// busyUser is the bulk user who has n sessions and n refresh tokens.
const busyUser = "00u_bulk000001"

func grow(b *testing.B, n int) *grown {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close() })
	g := &grown{n: n, sb: sb, hc: load.NewHTTPClient(4)}
	a, err := load.SignIn(ctx, load.Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}, g.hc, "alice", "alice-demo")
	if err != nil {
		b.Fatal(err)
	}
	if g.todo0User, err = a.Todo0UserID(ctx); err != nil {
		b.Fatal(err)
	}
	jag, err := a.Exchange(ctx)
	if err != nil {
		b.Fatal(err)
	}
	at, err := a.Redeem(ctx, jag)
	if err != nil {
		b.Fatal(err)
	}
	exec := func(file string, q string, args ...any) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, file)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(q, args...); err != nil {
			b.Fatalf("%s: %v", file, err)
		}
	}
	const seq = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) `
	exec("idp/idp.db", seq+`INSERT INTO audit(at, event, outcome, client_id, user_id, app_id, detail)
		SELECT unixepoch() - ? + i,
			CASE WHEN i % 10 = 0 THEN 'admin.user.update' WHEN i % 10 = 1 THEN 'sign_in' ELSE 'token_exchange' END,
			CASE WHEN i % 10 = 2 THEN 'denied' ELSE 'granted' END,
			CASE WHEN i % 2 = 0 THEN 'agent0' ELSE 'todo0' END,
			CASE WHEN i % 10 = 7 THEN '00u_alice' ELSE printf('00u_bulk%06d', i % 1000) END,
			CASE WHEN i % 4 = 0 THEN 'todo0' ELSE '' END, '{}' FROM seq`, n, n)
	exec("idp/idp.db", seq+`INSERT INTO users(id, username, name, email, password_hash, created_at)
		SELECT printf('00u_bulk%06d', i), printf('u%06d', i), 'Bulk', printf('u%06d@acme.example', i), '', 0 FROM seq`, n)
	exec("todo0/todo0.db", seq+`INSERT INTO todos(user_id, title, created_at, created_by) SELECT ?, 'bulk todo ' || i, 0, 'person' FROM seq`, n, g.todo0User)
	exec("todo0/todo0.db", seq+`INSERT INTO grants(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at)
		SELECT 'bulk' || i, unixepoch(), ?, ?, ?, 'todos.read', 'jag' || i, unixepoch() + 300 FROM seq`, n, demo.Agent0Todo0ClientID, g.todo0User, sb.MCPResource)
	exec("idp/idp.db", `INSERT INTO groups(id, name, created_at) VALUES ('bulk', 'bulk', 0);
		INSERT INTO apps(id, name) VALUES ('bulkapp', 'Bulk app');
		INSERT INTO group_members(group_id, user_id) SELECT 'bulk', id FROM users WHERE id LIKE '00u_bulk%';
		INSERT INTO assignments(app_id, user_id) SELECT 'bulkapp', id FROM users WHERE id LIKE '00u_bulk%';`)
	exec("idp/idp.db", seq+`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at)
		SELECT 'bulk' || i, randomblob(32), ?, unixepoch() - i, unixepoch() + 86400 FROM seq`, n, busyUser)
	exec("idp/idp.db", seq+`INSERT INTO refresh_tokens(token_hash, id, client_id, user_id, sid, scope, created_at, expires_at)
		SELECT randomblob(32), 'bulk' || i, 'agent0', ?, 'bulk' || i, 'openid', unixepoch() - i, unixepoch() + 86400 FROM seq`, n, busyUser)
	g.midMember = fmt.Sprintf("00u_bulk%06d", n/2)
	func() {
		// The grants pages' after= is "<time>.<rowid>" of the last session
		// and refresh token shown, joined by "_".
		db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "idp/idp.db"))
		defer db.Close()
		var pos [2]string
		for i, t := range []string{"sessions", "refresh_tokens"} {
			col := map[string]string{"sessions": "auth_time", "refresh_tokens": "created_at"}[t]
			if err := db.QueryRow(`SELECT `+col+` || '.' || rowid FROM `+t+` WHERE user_id = ? ORDER BY `+col+` DESC, rowid DESC LIMIT 1 OFFSET ?`,
				busyUser, n/2).Scan(&pos[i]); err != nil {
				b.Fatal(err)
			}
		}
		g.midGrants = pos[0] + "_" + pos[1]
	}()
	g.todo0Cookie = "bench-session-cookie"
	h := sha256.Sum256([]byte(g.todo0Cookie))
	exec("todo0/todo0.db", `INSERT INTO sessions(cookie_hash, user_id, csrf, expires_at) VALUES (?, ?, 'c', ?)`, h[:], g.todo0User, time.Now().Add(time.Hour).Unix())
	g.midUser = fmt.Sprintf("u%06d", n/2)
	var first int64
	func() {
		db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "todo0/todo0.db"))
		defer db.Close()
		if err := db.QueryRow(`SELECT MIN(id) FROM todos WHERE user_id = ?`, g.todo0User).Scan(&first); err != nil {
			b.Fatal(err)
		}
	}()
	g.midTodo = strconv.FormatInt(first+int64(n/2), 10)
	if g.mcp, err = a.Connect(ctx, at); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.mcp.Close() })
	return g
}

// get fetches u with an admin bearer, Basic service credentials or the
// Todo0 session cookie, and reads the whole answer.
func (g *grown) get(u string, auth func(*http.Request)) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	auth(req)
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return int(n), err
}

func adminAuth(r *http.Request) { r.Header.Set("Authorization", "Bearer "+demo.IdPAdminToken) }
func serviceAuth(r *http.Request) {
	r.SetBasicAuth(demo.MCPServiceClientID, demo.MCPServiceClientSecret)
}

// growthOps are the user-facing operations whose cost must not grow with
// the data: the admin's audit filters, user list, group and app (with
// their first page of users), the lists of groups and apps, a group's
// members, an app's assigned users and a user's sessions and refresh
// tokens (first and middle pages), Todo0's todo API and page (with its
// per-app grant summary), and MCP list_todos.
func growthOps(g *grown) []struct {
	name string
	run  func() error
} {
	audit := func(q string) func() error {
		return func() error { _, err := g.get(g.sb.IdPURL+"/admin/api/audit?"+q, adminAuth); return err }
	}
	admin := func(path string) func() error {
		return func() error { _, err := g.get(g.sb.IdPURL+"/admin/api"+path, adminAuth); return err }
	}
	api := g.sb.Todo0URL + "/api/v1/users/" + url.PathEscape(g.todo0User) + "/todos"
	ctx := context.Background()
	list := func(cursor string) func() error {
		return func() error {
			args := map[string]any{}
			if cursor != "" {
				args["cursor"] = cursor
			}
			res, err := g.mcp.CallTool(ctx, &mcp.CallToolParams{Name: "list_todos", Arguments: args})
			if err == nil && res.IsError {
				err = fmt.Errorf("list_todos: tool error")
			}
			return err
		}
	}
	return []struct {
		name string
		run  func() error
	}{
		{"audit-newest", audit("")},
		{"audit-user", audit("user=alice")},
		{"audit-app", audit("app=todo0")},
		{"audit-event-prefix", audit("event=admin.")},
		{"audit-outcome", audit("outcome=denied")},
		{"audit-user+outcome", audit("user=alice&outcome=granted")},
		{"users-first-page", func() error { _, err := g.get(g.sb.IdPURL+"/admin/api/users", adminAuth); return err }},
		{"users-middle-page", func() error {
			_, err := g.get(g.sb.IdPURL+"/admin/api/users?after="+g.midUser, adminAuth)
			return err
		}},
		{"group-get", admin("/groups/bulk")},
		{"groups-list", admin("/groups")},
		{"group-members-first-page", admin("/groups/bulk/members")},
		{"group-members-middle-page", admin("/groups/bulk/members?after=" + g.midMember)},
		{"app-get", admin("/apps/bulkapp")},
		{"apps-list", admin("/apps")},
		{"app-users-first-page", admin("/apps/bulkapp/assignments/users")},
		{"app-users-middle-page", admin("/apps/bulkapp/assignments/users?after=" + g.midMember)},
		{"user-sessions-first-page", admin("/users/" + busyUser + "/sessions")},
		{"user-sessions-middle-page", admin("/users/" + busyUser + "/sessions?after=" + url.QueryEscape(g.midGrants))},
		{"todo-api-first-page", func() error { _, err := g.get(api, serviceAuth); return err }},
		{"todo-api-middle-page", func() error { _, err := g.get(api+"?cursor="+g.midTodo, serviceAuth); return err }},
		{"todo0-page", func() error {
			_, err := g.get(g.sb.Todo0URL+"/", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "todo0_session", Value: g.todo0Cookie}) })
			return err
		}},
		{"mcp-list-todos", list("")},
		{"mcp-list-todos-middle", list(g.midTodo)},
	}
}

// BenchmarkGrowth measures each growthOps operation with 1,000, 10,000 and
// 100,000 rows in one run, interleaved (one call per size per iteration, so
// every size sees the same background load), and reports each size's time
// and its ratio to the 1,000-row case ("x10k", "x100k"; the target is < 2).
// "cpu-us-Nk" is the CPU time of the whole process (client and servers run
// here) per call, which moves less with the machine's other load than the
// wall time does.
//
//	go test -run '^$' -bench Growth -benchtime 200x ./internal/bench
func BenchmarkGrowth(b *testing.B) {
	sizes := []int{1000, 10000, 100000}
	worlds := make([]*grown, len(sizes))
	for i, n := range sizes {
		worlds[i] = grow(b, n)
	}
	for k, op := range growthOps(worlds[0]) {
		b.Run(op.name, func(b *testing.B) {
			runs := make([]func() error, len(sizes))
			for i, g := range worlds {
				runs[i] = growthOps(g)[k].run
				if err := runs[i](); err != nil { // warm up
					b.Fatal(err)
				}
			}
			spent := make([]time.Duration, len(sizes))
			cpu := make([]time.Duration, len(sizes))
			for b.Loop() {
				for i, run := range runs {
					c0, t0 := cpuTime(), time.Now()
					if err := run(); err != nil {
						b.Fatal(err)
					}
					spent[i] += time.Since(t0)
					cpu[i] += cpuTime() - c0
				}
			}
			for i, n := range sizes {
				b.ReportMetric(float64(spent[i].Microseconds())/float64(b.N), fmt.Sprintf("us-%dk", n/1000))
				b.ReportMetric(float64(cpu[i].Microseconds())/float64(b.N), fmt.Sprintf("cpu-us-%dk", n/1000))
				if i > 0 {
					b.ReportMetric(float64(spent[i])/float64(spent[0]), fmt.Sprintf("x%dk", n/1000))
				}
			}
		})
	}
}
