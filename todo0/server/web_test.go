package server

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// signIn provisions a user by (iss, sub) and gives them a session cookie, as
// the SSO callback would.
func (e *env) signIn(sub, email, name string) (userID, cookie string) {
	e.t.Helper()
	ctx := context.Background()
	var u provisioned
	err := e.s.stmts.InTx(ctx, func(tx sqlitedb.Tx) (err error) {
		u, err = e.s.provision(ctx, tx, e.idp.URL, sub, email, name)
		return err
	})
	e.s.settle(u, err)
	userID = u.id
	if err != nil {
		e.t.Fatal(err)
	}
	cookie = randomID()
	if _, err := e.s.db.Exec(`INSERT INTO sessions(cookie_hash, user_id, csrf, expires_at) VALUES (?,?,?,?)`,
		hash(cookie), userID, randomID(), time.Now().Add(time.Hour).Unix()); err != nil {
		e.t.Fatal(err)
	}
	return userID, cookie
}

func (e *env) page(cookie string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("page %d", resp.StatusCode)
	}
	return string(b)
}

// api calls the service API as Todo0 MCP does (its own Basic credentials).
func (e *env) api(method, path, body string, auth func(*http.Request)) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth == nil {
		req.SetBasicAuth(demo.MCPServiceClientID, demo.MCPServiceClientSecret)
	} else {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusNoContent {
		resp.Body.Close()
		return resp, nil
	}
	return resp, decode(e.t, resp)
}

// TestPageShowsWhoActed: a todo created through the service API for alice by
// an agent shows, on alice's page only, as created by that agent for her;
// two users never see each other's todos.
func TestPageShowsWhoActed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, aliceCookie := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	_, bobCookie := e.signIn("00u_bob", "bob@acme.example", "Bob Brown")
	resp, m := e.api(http.MethodPost, "/api/v1/users/"+alice+"/todos", `{"title":"Buy oat milk","acting_client":"`+demo.Agent0Todo0ClientID+`"}`, nil)
	if resp.StatusCode != http.StatusCreated || m["created_by"] != "agent" || m["via_client"] != demo.Agent0Todo0ClientID || m["via_name"] != "Agent0" {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	if _, err := e.s.createTodo(context.Background(), alice, "Call the dentist", "person", ""); err != nil {
		t.Fatal(err)
	}
	bobsID := func() string {
		var id string
		_ = e.s.db.QueryRow(`SELECT id FROM users WHERE sub = '00u_bob'`).Scan(&id)
		return id
	}()
	if _, err := e.s.createTodo(context.Background(), bobsID, "Bob's secret plan", "person", ""); err != nil {
		t.Fatal(err)
	}

	a := e.page(aliceCookie)
	li := lineWith(a, "Buy oat milk")
	if !strings.Contains(li, "created by agent <b>Agent0</b> (client <code>"+demo.Agent0Todo0ClientID+"</code>) for you") {
		t.Errorf("alice's agent todo is not attributed to the agent: %q", li)
	}
	if li := lineWith(a, "Call the dentist"); !strings.Contains(li, "created by you") {
		t.Errorf("alice's own todo: %q", li)
	}
	if strings.Contains(a, "Bob's secret plan") {
		t.Error("alice sees bob's todo")
	}
	b := e.page(bobCookie)
	if strings.Contains(b, "Buy oat milk") || strings.Contains(b, "Call the dentist") {
		t.Error("bob sees alice's todos")
	}
	if !strings.Contains(b, "Bob&#39;s secret plan") {
		t.Error("bob does not see his own todo")
	}
	// the service API is per user too
	bobsTodos := func() []any {
		_, m := e.api(http.MethodGet, "/api/v1/users/"+bobsID+"/todos", "", nil)
		return m["todos"].([]any)
	}()
	if len(bobsTodos) != 1 {
		t.Errorf("bob's API list: %v", bobsTodos)
	}
	// alice's todo cannot be completed or deleted through bob's path
	var aliceTodo int64
	_ = e.s.db.QueryRow(`SELECT id FROM todos WHERE title = 'Buy oat milk'`).Scan(&aliceTodo)
	path := "/api/v1/users/" + bobsID + "/todos/" + strconv.FormatInt(aliceTodo, 10)
	if resp, _ := e.api(http.MethodPatch, path, `{"done":true}`, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("PATCH another user's todo: %d", resp.StatusCode)
	}
	if resp, _ := e.api(http.MethodDelete, path, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE another user's todo: %d", resp.StatusCode)
	}
	// no session: the sign-in page, no todos
	if p := e.page(""); !strings.Contains(p, "Sign in with Acme SSO") || strings.Contains(p, "Buy oat milk") {
		t.Error("signed-out page shows todos")
	}
}

func lineWith(page, s string) string {
	i := strings.Index(page, s)
	if i < 0 {
		return ""
	}
	end := strings.Index(page[i:], "</li>")
	if end < 0 {
		end = len(page) - i
	}
	return page[i : i+end]
}

// TestServiceAPIBadInput: the service API answers bad input with a clear
// 400 JSON error and never panics; only the service client may call it, and
// never with an end user's bearer token.
func TestServiceAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, _ := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	base := "/api/v1/users/" + alice + "/todos"
	if _, err := e.s.createTodo(context.Background(), alice, "existing", "person", ""); err != nil {
		t.Fatal(err)
	}
	basicAs := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(id, secret) }
	}
	for _, tc := range []struct {
		name, method, path, body string
		auth                     func(*http.Request)
		status                   int
		code                     string
	}{
		{"unknown field", http.MethodPost, base, `{"title":"x","owner":"bob"}`, nil, 400, "invalid_request"},
		{"wrong type", http.MethodPost, base, `{"title":42}`, nil, 400, "invalid_request"},
		{"not JSON", http.MethodPost, base, `title=x`, nil, 400, "invalid_request"},
		{"empty body", http.MethodPost, base, ``, nil, 400, "invalid_request"},
		{"array", http.MethodPost, base, `[{"title":"x"}]`, nil, 400, "invalid_request"},
		{"two objects", http.MethodPost, base, `{"title":"x"}{"title":"y"}`, nil, 400, "invalid_request"},
		{"huge body", http.MethodPost, base, `{"title":"` + strings.Repeat("a", 1<<20) + `"}`, nil, 400, "invalid_request"},
		{"empty title", http.MethodPost, base, `{"title":"   ","acting_client":"agent0-at-todo0"}`, nil, 400, "invalid_request"},
		{"long title", http.MethodPost, base, `{"title":"` + strings.Repeat("a", MaxTitle+1) + `","acting_client":"agent0-at-todo0"}`, nil, 400, "invalid_request"},
		// the page shows acting_client as who acted: it must be a registered app
		{"acting_client missing", http.MethodPost, base, `{"title":"x"}`, nil, 400, "invalid_request"},
		{"acting_client unknown", http.MethodPost, base, `{"title":"x","acting_client":"mallory"}`, nil, 400, "invalid_request"},
		{"acting_client is the service", http.MethodPost, base, `{"title":"x","acting_client":"todo0-mcp"}`, nil, 400, "invalid_request"},
		{"done missing", http.MethodPatch, base + "/1", `{}`, nil, 400, "invalid_request"},
		{"done wrong type", http.MethodPatch, base + "/1", `{"done":"yes"}`, nil, 400, "invalid_request"},
		{"id overflow", http.MethodPatch, base + "/99999999999999999999999", `{"done":true}`, nil, 404, "not_found"},
		{"unknown todo", http.MethodDelete, base + "/4242", ``, nil, 404, "not_found"},
		{"unknown user", http.MethodGet, "/api/v1/users/t0u_nobody/todos", ``, nil, 404, "not_found"},
		{"no credentials", http.MethodGet, base, ``, func(*http.Request) {}, 401, "invalid_client"},
		{"wrong secret", http.MethodGet, base, ``, basicAs(demo.MCPServiceClientID, "nope"), 401, "invalid_client"},
		// the end user's token must never be what reaches the API (checklist 4)
		{"bearer token", http.MethodGet, base, ``, func(r *http.Request) { r.Header.Set("Authorization", "Bearer eyJ.x.y") }, 401, "invalid_client"},
		{"requesting app", http.MethodGet, base, ``, basicAs(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret), 403, "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state()
			resp, m := e.api(tc.method, tc.path, tc.body, tc.auth)
			if resp.StatusCode != tc.status || m["error"] != tc.code || m["error_description"] == "" {
				t.Errorf("%d %v, want %d %s", resp.StatusCode, m, tc.status, tc.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if after := e.state(); after != before {
				t.Errorf("state changed %+v -> %+v", before, after)
			}
		})
	}
}

// TestTodoQueryLimit: the page query's constant LIMIT leaves room for the
// largest page and the one row that says a next page exists.
func TestTodoQueryLimit(t *testing.T) {
	if todoQueryLimit != strconv.Itoa(maxTodoPage+1) {
		t.Fatalf("todoQueryLimit = %s, want maxTodoPage+1 = %d", todoQueryLimit, maxTodoPage+1)
	}
}

// TestProvisionKeepsLatestProfile: checklist 3.10, a user is found by
// (iss, sub); the email and name the IdP last sent are kept, an empty one
// keeps the stored value, and an unchanged returning user is the same user.
func TestProvisionKeepsLatestProfile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	provision := func(email, name string) string {
		t.Helper()
		var u provisioned
		err := e.s.stmts.InTx(ctx, func(tx sqlitedb.Tx) (err error) {
			u, err = e.s.provision(ctx, tx, e.idp.URL, "00u_prov", email, name)
			return err
		})
		e.s.settle(u, err)
		if err != nil {
			t.Fatal(err)
		}
		return u.id
	}
	profile := func(id string) (email, name string) {
		t.Helper()
		if err := e.s.db.QueryRow(`SELECT email, name FROM users WHERE id = ?`, id).Scan(&email, &name); err != nil {
			t.Fatal(err)
		}
		return
	}
	id := provision("a@example.com", "A")
	for _, c := range []struct{ email, name, wantEmail, wantName string }{
		{"a@example.com", "A", "a@example.com", "A"}, // unchanged: only read
		{"b@example.com", "A", "b@example.com", "A"},
		{"b@example.com", "B", "b@example.com", "B"},
		{"", "", "b@example.com", "B"}, // empty keeps the stored value
		{"", "C", "b@example.com", "C"},
	} {
		if got := provision(c.email, c.name); got != id {
			t.Fatalf("provision(%q, %q) = user %s, want the same user %s", c.email, c.name, got, id)
		}
		if email, name := profile(id); email != c.wantEmail || name != c.wantName {
			t.Errorf("after provision(%q, %q): %q %q, want %q %q", c.email, c.name, email, name, c.wantEmail, c.wantName)
		}
	}
	var n int
	if err := e.s.db.QueryRow(`SELECT COUNT(*) FROM users WHERE sub = '00u_prov'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d users for one (iss, sub) (%v), want 1", n, err)
	}
}

// TestCreateTodoAnswersAsStored: the todo the service API answers a create
// with (built from what was written, not read back) is the todo a later
// list returns, field for field.
func TestCreateTodoAnswersAsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, _ := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	resp, created := e.api(http.MethodPost, "/api/v1/users/"+alice+"/todos", `{"title":"  Buy oat milk ","acting_client":"`+demo.Agent0Todo0ClientID+`"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
	resp, m := e.api(http.MethodGet, "/api/v1/users/"+alice+"/todos", "", nil)
	todos, _ := m["todos"].([]any)
	if resp.StatusCode != http.StatusOK || len(todos) != 1 {
		t.Fatalf("list: %d %v", resp.StatusCode, m)
	}
	if !reflect.DeepEqual(created, todos[0]) {
		t.Errorf("created %v, stored %v", created, todos[0])
	}
	if created["title"] != "Buy oat milk" || created["via_name"] != "Agent0" {
		t.Errorf("created %v", created)
	}
}
