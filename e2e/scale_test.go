package e2e

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"

	_ "modernc.org/sqlite"
)

// TestListTodosAtScale: MCP list_todos lists a user with 10,000 todos
// completely, page by page through nextCursor (an unpaged list failed at
// about 6,400: Todo0 MCP read at most 1 MiB of Todo0's answer). The todos
// are written straight into Todo0's database so the test stays fast.
func TestListTodosAtScale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sb := start(t, sandbox.Options{DataDir: dir})
	c := ctx(t)
	at := xaaAccessToken(t, c, sb, webclient.New(), "alice", "alice-demo")
	const n = 10000
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "todo0", "todo0.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO todos(user_id, title, created_at, created_by) SELECT ?, 'bulk ' || i, 0, 'person' FROM seq`, n, subOf(t, at)); err != nil {
		t.Fatal(err)
	}
	cs := mcpWithToken(t, c, sb, at)
	seen := map[float64]bool{}
	cursor, pages := "", 0
	for {
		args := map[string]any{"limit": 100}
		if cursor != "" {
			args["cursor"] = cursor
		}
		res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "list_todos", Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("page %d: %v %+v", pages, err, res)
		}
		pages++
		out := res.StructuredContent.(map[string]any)
		for _, td := range out["todos"].([]any) {
			id := td.(map[string]any)["id"].(float64)
			if seen[id] {
				t.Fatalf("todo %v listed twice", id)
			}
			seen[id] = true
		}
		next, _ := out["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != n || pages != n/100 {
		t.Errorf("%d todos in %d pages, want %d in %d", len(seen), pages, n, n/100)
	}
}

// subOf is the sub of a token Todo0 just issued to the test.
func subOf(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sub == "" {
		t.Fatalf("access token payload: %v", err)
	}
	return c.Sub
}
