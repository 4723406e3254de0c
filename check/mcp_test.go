package check_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/check"
)

// The sandbox's own Todo0 MCP server passes every rule but those listed in
// pendingAtTodo0MCP: rules it does not follow yet (the checker's verdict on
// them is tested against brokenMCP, which follows them).
var pendingAtTodo0MCP = map[string]string{
	"mcp.prm.root": "Todo0 MCP serves its /mcp document at the root well-known URL too; RFC 9728 3.3 (checklist 7) wants the root one to describe the pathless identifier",
}

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
		if why, pending := pendingAtTodo0MCP[res.ID]; pending {
			t.Logf("%s: %s (%s)", res.ID, res.Verdict, why)
			continue
		}
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
