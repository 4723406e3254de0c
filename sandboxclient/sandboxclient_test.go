package sandboxclient

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// The JSON a non-Go harness reads (`up --json`) names every field in
// snake_case, and the demo credentials are the seeded ones.
func TestConfigJSON(t *testing.T) {
	c := Config{URLs: NewURLs("http://localhost:1", "http://localhost:2", "http://localhost:3", "http://localhost:4"), Credentials: DemoCredentials()}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"mcp_resource":"http://localhost:4/mcp"`,
		`"agent0_at_idp":{"client_id":"agent0","client_secret":"agent0-idp-secret"}`,
		`"agent0_at_todo0":{"client_id":"agent0-at-todo0","client_secret":"agent0-todo0-secret"}`,
		`"admin_tokens":{"idp":"acme-admin-token","todo0":"todo0-admin-token","todo0_mcp":"todo0-mcp-admin-token"}`,
		`"username":"alice","password":"alice-demo"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if len(c.Credentials.Users) != len(demo.Users) {
		t.Errorf("users = %d, want %d", len(c.Credentials.Users), len(demo.Users))
	}
	if u, ok := c.Credentials.User("carol"); !ok || u.Active {
		t.Errorf("carol = %+v %v, want the deactivated demo user", u, ok)
	}
	if _, ok := c.Credentials.User("mallory"); ok {
		t.Error("an unknown user was found")
	}
	for p, want := range map[Party]string{IdP: "http://localhost:1", Agent0: "http://localhost:2", Todo0: "http://localhost:3", MCP: "http://localhost:4", "x": ""} {
		if got := c.URLs.URL(p); got != want {
			t.Errorf("URL(%s) = %q, want %q", p, got, want)
		}
	}
}
