package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// TestOldDataDirOnNewHostAndPorts starts the sandbox again on its data
// directory with another host name and other ports (`up -host ... -idp-port
// ...` on an old .xaa-data): the seeded demo world follows the new URLs, so
// sign-in at Agent0 and Todo0 works (their redirect URIs are registered
// under the new URLs), the managed connection names the new MCP resource, and
// Todo0 still knows alice and her todo although the IdP's issuer changed.
func TestOldDataDirOnNewHostAndPorts(t *testing.T) {
	dir := t.TempDir()
	c := ctx(t)
	sb1, err := sandbox.Start(c, sandbox.Options{DataDir: dir, Host: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cs := mcpWithToken(t, c, sb1, xaaAccessToken(t, c, sb1, webclient.New(), "alice", "alice-demo"))
	if res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": "made before the move"}}); err != nil || res.IsError {
		t.Fatalf("create_todo: %v %+v", err, res)
	}
	cs.Close()
	if err := sb1.Close(); err != nil {
		t.Fatal(err)
	}

	sb2 := start(t, sandbox.Options{DataDir: dir, Host: "127.0.0.1"})
	if sb2.IdPURL == sb1.IdPURL || sb2.Agent0URL == sb1.Agent0URL {
		t.Fatalf("the second start did not move: %s %s", sb1.IdPURL, sb2.IdPURL)
	}
	alice := webclient.New()
	page, err := alice.SignIn(c, sb2.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access", "Alice Anderson")
	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"made after the move"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "made after the move", "Added")
	page, err = alice.SignIn(c, sb2.Todo0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "made before the move", "made after the move")
	if strings.Contains(page.Body, "redirect_uri") {
		t.Fatalf("sign-in refused: %s", page.Body)
	}
}
