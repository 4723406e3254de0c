package sandboxtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxtest"
)

// In a test: one sandbox per test, stopped when the test ends.
func TestStartInATest(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	resp, err := http.Get(sb.URLs.IdP + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP discovery: %s", resp.Status)
	}
}

// The sandbox's URLs and demo credentials, for your client's configuration.
func ExampleNew() {
	sb, err := sandboxtest.New(nil)
	if err != nil {
		panic(err)
	}
	defer sb.Close()

	fmt.Println(strings.HasPrefix(sb.URLs.IdP, "http://localhost:"))
	fmt.Println(sb.URLs.MCPResource == sb.URLs.MCP+"/mcp")
	fmt.Println(sb.Credentials.Agent0AtIdP.ID, sb.Credentials.Agent0AtTodo0.ID)
	alice, _ := sb.Credentials.User("alice")
	fmt.Println(alice.Username, alice.Password, alice.Apps)
	// Output:
	// true
	// true
	// agent0 agent0-at-todo0
	// alice alice-demo [agent0 todo0 wiki0]
}

// The Go MCP SDK's Cross App Access client (extauth.EnterpriseHandler)
// against the sandbox: sign in at the IdP as alice, exchange the ID token for
// an ID-JAG, redeem it at Todo0 and call a tool on Todo0 MCP. Only the demo
// credentials are configured.
func ExampleNew_goMCPSDK() {
	sb, err := sandboxtest.New(nil)
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	ctx := context.Background()
	creds := sb.Credentials
	redirect := sb.URLs.Agent0 + "/callback" // the redirect URI the IdP knows for agent0

	idp := &oauthex.ClientCredentials{ClientID: creds.Agent0AtIdP.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtIdP.Secret}}
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     sb.URLs.IdP,
		IdPCredentials:   idp,
		MCPAuthServerURL: sb.URLs.Todo0,
		MCPResourceURI:   sb.URLs.MCPResource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: creds.Agent0AtTodo0.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtTodo0.Secret}},
		MCPScopes:        creds.Scopes,
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			return extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
				IssuerURL: sb.URLs.IdP, Credentials: idp, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email"},
			}, func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				// Alice signs in at Acme; no browser needed.
				q, err := sandboxclient.AuthorizationCode(ctx, args.URL, redirect, "alice", "alice-demo")
				if err != nil {
					return nil, err
				}
				return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
			})
		},
	})
	if err != nil {
		panic(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "my-sdk-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: sb.URLs.MCPResource, OAuthHandler: handler}, nil)
	if err != nil {
		panic(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": "written by my SDK"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.IsError, res.StructuredContent.(map[string]any)["title"])
	// Output: false written by my SDK
}

// Fault switches make a party misbehave, to check that a client notices:
// here Todo0's authorization server answers every token request with 500.
func ExampleNew_faults() {
	sb, err := sandboxtest.New(nil)
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	ctx := context.Background()

	if err := sb.Admin.SetFaults(ctx, sandboxclient.Todo0, "token.server_error"); err != nil {
		panic(err)
	}
	resp, err := http.PostForm(sb.URLs.Todo0+"/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}})
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	f, _ := sb.Admin.Faults(ctx, sandboxclient.Todo0)
	fmt.Println(f.Active)
	_ = sb.Admin.SetFaults(ctx, sandboxclient.Todo0) // all off again
	// Output:
	// 500
	// [token.server_error]
}
