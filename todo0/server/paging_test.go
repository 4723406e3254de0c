package server

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// bulkTodos gives the user n todos straight in the store (one statement),
// so a test can reach sizes that the API would take minutes to build.
func (e *env) bulkTodos(userID string, n int) {
	e.t.Helper()
	if _, err := e.s.db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO todos(user_id, title, created_at, created_by) SELECT ?, 'bulk ' || i, 0, 'person' FROM seq`, n, userID); err != nil {
		e.t.Fatal(err)
	}
}

// TestTodoAPIPagesAtAnySize: the service API lists a user's todos a page at
// a time (limit, opaque cursor, next_cursor absent on the last page), so a
// user with 10,000 todos (Todo0 MCP's unpaged list failed at about 6,400)
// is listed completely: every todo exactly once, in id order.
func TestTodoAPIPagesAtAnySize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, _ := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	const n = 10000
	e.bulkTodos(alice, n)
	base := "/api/v1/users/" + alice + "/todos"

	_, m := e.api(http.MethodGet, base, "", nil)
	if got := len(m["todos"].([]any)); got != defaultTodoPage || m["next_cursor"] == nil {
		t.Fatalf("first page without limit: %d todos, next_cursor %v", got, m["next_cursor"])
	}
	seen, last, pages := 0, 0.0, 0
	cursor := ""
	for {
		path := base + "?limit=" + strconv.Itoa(maxTodoPage)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp, m := e.api(http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d %v", pages, resp.StatusCode, m)
		}
		pages++
		for _, td := range m["todos"].([]any) {
			id := td.(map[string]any)["id"].(float64)
			if id <= last {
				t.Fatalf("id %v after %v: not in order or repeated", id, last)
			}
			last = id
			seen++
		}
		next, ok := m["next_cursor"].(string)
		if !ok {
			break
		}
		cursor = next
	}
	if seen != n || pages != n/maxTodoPage {
		t.Errorf("%d todos in %d pages, want %d in %d", seen, pages, n, n/maxTodoPage)
	}
}

// TestTodoAPIPageBadInput: a limit out of range or a cursor this server did
// not hand out is a 400 invalid_request JSON error.
func TestTodoAPIPageBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, _ := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	base := "/api/v1/users/" + alice + "/todos"
	for _, q := range []string{"limit=0", "limit=-3", "limit=501", "limit=ten", "cursor=abc", "cursor=-5", "cursor=0", "cursor=007", "cursor=99999999999999999999"} {
		resp, m := e.api(http.MethodGet, base+"?"+q, "", nil)
		if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_request" || m["error_description"] == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("?%s: %d %v", q, resp.StatusCode, m)
		}
	}
}

// TestPagePages: Todo0's page shows a page of todos with a link to the next,
// however many the user has; the next page continues where the first ended,
// and a cursor the server did not hand out leads back to the first page.
func TestPagePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, cookie := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	e.bulkTodos(alice, webTodoPage*2+3)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	next := regexp.MustCompile(`href="/\?cursor=([0-9]+)" id="next-page"`)
	titles := regexp.MustCompile(`<span class="">bulk ([0-9]+)</span>`)
	var got []string
	path, pages := "/", 0
	for {
		status, body := get(path)
		if status != http.StatusOK {
			t.Fatalf("%s: %d", path, status)
		}
		pages++
		for _, m := range titles.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if pages > 1 && !strings.Contains(body, `id="first-page"`) {
			t.Errorf("page %d has no link to the first page", pages)
		}
		m := next.FindStringSubmatch(body)
		if m == nil {
			break
		}
		path = "/?cursor=" + m[1]
	}
	if pages != 3 || len(got) != webTodoPage*2+3 || got[0] != "1" || got[len(got)-1] != strconv.Itoa(webTodoPage*2+3) {
		t.Errorf("%d pages, %d todos (%v ... %v)", pages, len(got), got[:1], got[len(got)-1:])
	}
	if status, _ := get("/?cursor=nonsense"); status != http.StatusSeeOther {
		t.Errorf("bad cursor: %d, want a redirect to the first page", status)
	}
}

// TestMaintainPrunesGrantsKeepsPage: Maintain deletes the grants whose
// access tokens have expired, and the page still shows how many ID-JAGs each
// app redeemed for the user and when it last did.
func TestMaintainPrunesGrantsKeepsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, cookie := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	now := time.Now()
	for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(-10 * time.Minute), now.Add(-2 * time.Minute), now.Add(4 * time.Minute)} {
		if _, err := e.s.db.Exec(`INSERT INTO grants(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at) VALUES (?,?,?,?,?,?,?,?)`,
			"g"+strconv.Itoa(i), exp.Add(-5*time.Minute).Unix(), demo.Agent0Todo0ClientID, alice, "r", "todos.read", "j"+strconv.Itoa(i), exp.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.state(); st.grants != 1 {
		t.Errorf("%d grants left, want only the live one", st.grants)
	}
	if p := e.page(cookie); !strings.Contains(p, "redeemed 4 ID-JAG(s)") || !strings.Contains(p, now.Add(-time.Minute).Format("2006-01-02 15:04")) {
		t.Errorf("the page lost the count or the time of the pruned grants")
	}
}

// TestDoneKeepsThePage: marking a todo done on a later page of Todo0's page
// comes back to that page, a cursor the server did not hand out comes back
// to the first page, and a todo that is not the person's is a 404 that
// changes nothing.
func TestDoneKeepsThePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, cookie := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	bob, _ := e.signIn("00u_bob", "bob@acme.example", "Bob Brown")
	e.bulkTodos(alice, webTodoPage+5)
	e.bulkTodos(bob, 1)
	var csrf string
	if err := e.s.db.QueryRow(`SELECT csrf FROM sessions WHERE cookie_hash = ?`, hash(cookie)).Scan(&csrf); err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	_, _, first := do(http.MethodGet, "/", nil)
	m := regexp.MustCompile(`href="/\?cursor=([0-9]+)" id="next-page"`).FindStringSubmatch(first)
	if m == nil {
		t.Fatal("no next page link")
	}
	cursor := m[1]
	_, _, second := do(http.MethodGet, "/?cursor="+cursor, nil)
	if !strings.Contains(second, `name="cursor" value="`+cursor+`"`) {
		t.Fatal("the second page's Done forms do not carry its cursor")
	}
	if strings.Contains(first, `name="cursor"`) {
		t.Error("the first page's Done forms carry a cursor")
	}
	var onSecond int64
	if err := e.s.db.QueryRow(`SELECT id FROM todos WHERE user_id = ? ORDER BY id LIMIT 1 OFFSET ?`, alice, webTodoPage+1).Scan(&onSecond); err != nil {
		t.Fatal(err)
	}
	done := func(id int64, cursor string) (int, string) {
		status, loc, _ := do(http.MethodPost, "/todos/"+strconv.FormatInt(id, 10)+"/done", url.Values{"csrf": {csrf}, "cursor": {cursor}})
		return status, loc
	}
	if status, loc := done(onSecond, cursor); status != http.StatusSeeOther || loc != "/?cursor="+cursor {
		t.Errorf("Done on the second page: %d to %q, want 303 to /?cursor=%s", status, loc, cursor)
	}
	if status, loc := done(onSecond, "/evil.example"); status != http.StatusSeeOther || loc != "/" {
		t.Errorf("Done with a forged cursor: %d to %q, want 303 to /", status, loc)
	}
	var bobsTodo int64
	if err := e.s.db.QueryRow(`SELECT id FROM todos WHERE user_id = ?`, bob).Scan(&bobsTodo); err != nil {
		t.Fatal(err)
	}
	if status, _ := done(bobsTodo, ""); status != http.StatusNotFound {
		t.Errorf("Done on another person's todo: %d, want 404", status)
	}
	var doneCount int
	if err := e.s.db.QueryRow(`SELECT count(*) FROM todos WHERE done = 1`).Scan(&doneCount); err != nil || doneCount != 1 {
		t.Errorf("%d todos done (%v), want only the one on the second page", doneCount, err)
	}
}
