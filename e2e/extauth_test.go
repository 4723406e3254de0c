package e2e

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// TestGoSDKEnterpriseHandler runs the Go MCP SDK's own client side of SEP-990,
// unmodified: extauth.PerformOIDCLogin (with a headless code fetcher) for the
// ID token, then extauth.EnterpriseHandler inside the SDK's streamable
// transport for token exchange, jwt-bearer and the tool call. Only the
// seeded demo credentials are configured.
func TestGoSDKEnterpriseHandler(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	browser := webclient.New()
	redirect := sb.Agent0URL + "/callback" // the redirect URI registered for agent0

	fetchCode := headlessFetcher(browser, redirect, "alice", "alice-demo")
	idpCreds := &oauthex.ClientCredentials{ClientID: demo.Agent0IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: demo.Agent0IdPClientSecret}}
	logins := 0
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     sb.IdPURL,
		IdPCredentials:   idpCreds,
		MCPAuthServerURL: sb.Todo0URL,
		MCPResourceURI:   sb.MCPResource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: demo.Agent0Todo0ClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: demo.Agent0Todo0ClientSecret}},
		MCPScopes:        []string{demo.ScopeRead, demo.ScopeWrite},
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			logins++
			return extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
				IssuerURL: sb.IdPURL, Credentials: idpCreds, RedirectURL: redirect,
				Scopes: []string{"openid", "profile", "email"},
			}, fetchCode)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-harness", Version: "test"}, nil)
	cs, err := client.Connect(c, &mcp.StreamableClientTransport{Endpoint: sb.MCPResource, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect through EnterpriseHandler: %v", err)
	}
	defer cs.Close()

	res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": "written by the Go SDK"}})
	if err != nil || res.IsError {
		t.Fatalf("create_todo: %v %+v", err, res)
	}
	res, err = cs.CallTool(c, &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("list_todos: %v %+v", err, res)
	}
	todos, _ := res.StructuredContent.(map[string]any)["todos"].([]any)
	if len(todos) != 1 || todos[0].(map[string]any)["title"] != "written by the Go SDK" {
		t.Fatalf("list_todos = %v", res.StructuredContent)
	}
	if logins != 1 {
		t.Errorf("OIDC logins = %d, want 1", logins)
	}
	// The todo is Alice's in Todo0 too.
	page, err := browser.SignIn(c, sb.Todo0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "written by the Go SDK", "00u_alice")
}
