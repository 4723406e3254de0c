package check_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/check"
)

// The sandbox's own Todo0 MCP server passes every rule, the root metadata
// document included (it serves none: RFC 9728 3.3).
func TestMCPAgainstTodo0MCP(t *testing.T) {
	sb, dir := startSandbox(t)
	ctx := context.Background()
	as, err := check.LoadSigner(ctx, sb.Todo0URL, filepath.Join(dir, "todo0"), "todo0.db")
	if err != nil {
		t.Fatal(err)
	}
	c := check.MCP{Resource: sb.MCPResource, AS: as, IdP: sandboxIdP(t, sb, dir), Scope: "todos.read todos.write", Tool: "create_todo", ToolScope: "todos.write"}
	rep, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rep.Results {
		if res.Verdict != check.Pass {
			t.Errorf("%s (%s): %s; expected %s, got %s; %s", res.ID, res.Spec, res.Verdict, res.Expected, res.Got, res.Detail)
		}
	}
	if testing.Verbose() {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Log(b.String())
	}
}
