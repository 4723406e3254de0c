package server

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// RFC 9396 9.1: a token with authorization_details is held to them per tool:
// the todo0_todos detail must name the tool's action; a token without
// details is judged by its scopes alone.
func TestToolsHonourAuthorizationDetails(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		details any // nil: no claim
		allowed map[string]bool
	}{
		{"list only", []map[string]any{{"type": "todo0_todos", "actions": []string{"list"}}}, map[string]bool{"list_todos": true, "create_todo": false, "delete_todo": false}},
		{"list and create", []map[string]any{{"type": "todo0_todos", "actions": []string{"list", "create"}}}, map[string]bool{"list_todos": true, "create_todo": true, "delete_todo": false}},
		{"every action of the type", []map[string]any{{"type": "todo0_todos"}}, map[string]bool{"list_todos": true, "create_todo": true, "delete_todo": true}},
		{"another type only", []map[string]any{{"type": "payroll"}}, map[string]bool{"list_todos": false, "create_todo": false}},
		{"no details: scopes decide", nil, map[string]bool{"list_todos": true, "create_todo": true, "delete_todo": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.token(oauth.TypAccessToken, func(c map[string]any) {
				if tc.details != nil {
					c["authorization_details"] = tc.details
				}
			})
			cs := e.connect(tok, true)
			defer cs.Close()
			args := map[string]map[string]any{"list_todos": {}, "create_todo": {"title": "t"}, "delete_todo": {"id": 424242}}
			for tool, want := range tc.allowed {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args[tool]})
				if err != nil {
					t.Fatalf("%s: %v", tool, err)
				}
				refused := res.IsError && strings.Contains(text(res), "authorization_details do not allow")
				if refused == want {
					t.Errorf("%s: allowed=%v, want %v (%s)", tool, !refused, want, text(res))
				}
			}
		})
	}
	t.Run("malformed details refuse the token", func(t *testing.T) {
		tok := e.token(oauth.TypAccessToken, func(c map[string]any) { c["authorization_details"] = "list" })
		resp := e.post("/mcp", "Bearer "+tok, callBody("list_todos", `{}`))
		if resp.StatusCode != 401 {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
}

func text(res *mcp.CallToolResult) string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			out = append(out, tc.Text)
		}
	}
	return strings.Join(out, " ")
}
