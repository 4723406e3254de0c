package sandboxcontainers_test

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
)

// aliceAgent is alice's agent at work: the Go MCP SDK's Cross App Access
// client signs her in at the IdP, exchanges her ID token for an ID-JAG and
// redeems it at Todo0 for its session with Todo0 MCP.
func aliceAgent(ctx context.Context, c sandboxclient.Config) (*mcp.ClientSession, error) {
	creds := c.Credentials
	redirect := c.URLs.Agent0 + "/callback" // the redirect URI the IdP knows for agent0
	idp := &oauthex.ClientCredentials{ClientID: creds.Agent0AtIdP.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtIdP.Secret}}
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     c.URLs.IdP,
		IdPCredentials:   idp,
		MCPAuthServerURL: c.URLs.Todo0,
		MCPResourceURI:   c.URLs.MCPResource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: creds.Agent0AtTodo0.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtTodo0.Secret}},
		MCPScopes:        creds.Scopes,
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			return extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
				IssuerURL: c.URLs.IdP, Credentials: idp, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email"},
			}, func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				q, err := sandboxclient.AuthorizationCode(ctx, args.URL, redirect, "alice", "alice-demo")
				if err != nil {
					return nil, err
				}
				return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	return mcp.NewClient(&mcp.Implementation{Name: "sandboxcontainers-test", Version: "v0"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: c.URLs.MCPResource, OAuthHandler: handler}, nil)
}

// callTool calls an MCP tool and returns its structured result.
func callTool(ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) (any, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return nil, err
	}
	if res.IsError {
		return nil, fmt.Errorf("%s: %+v", name, res.Content)
	}
	return res.StructuredContent, nil
}
