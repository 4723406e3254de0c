package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// xaaAccessToken runs the XAA sequence by hand for user: OIDC login at the
// IdP, token exchange for an ID-JAG, jwt-bearer at Todo0. It returns the
// Todo0 access token.
func xaaAccessToken(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, b *webclient.Browser, user, password string) string {
	t.Helper()
	idpCreds := &oauthex.ClientCredentials{ClientID: demo.Agent0IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: demo.Agent0IdPClientSecret}}
	redirect := sb.Agent0URL + "/callback"
	tok, err := extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
		IssuerURL: sb.IdPURL, Credentials: idpCreds, RedirectURL: redirect, Scopes: []string{"openid"},
	}, headlessFetcher(b, redirect, user, password))
	if err != nil {
		t.Fatal(err)
	}
	jag, err := oauthex.ExchangeToken(ctx, sb.IdPURL+"/oauth2/token", &oauthex.TokenExchangeRequest{
		RequestedTokenType: oauth.TokenTypeIDJAG, Audience: sb.Todo0URL, Resource: sb.MCPResource,
		Scope: []string{demo.ScopeRead, demo.ScopeWrite}, SubjectToken: tok.Extra("id_token").(string), SubjectTokenType: oauth.TokenTypeIDToken,
	}, idpCreds, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: demo.Agent0Todo0ClientID, ClientSecret: demo.Agent0Todo0ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: sb.Todo0URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	at, err := cfg.Exchange(ctx, "", oauth2.SetAuthURLParam("grant_type", oauth.GrantTypeJWTBearer), oauth2.SetAuthURLParam("assertion", jag.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	return at.AccessToken
}

func mcpWithToken(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, accessToken string) *mcp.ClientSession {
	t.Helper()
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "test"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: sb.MCPResource, HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func jwksKids(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestRestartKeepsKeysUsersAndTodos restarts every party on the same data
// directory: signing keys, users, sessions and todos survive, and an access
// token issued before the restart still works after it.
func TestRestartKeepsKeysUsersAndTodos(t *testing.T) {
	dir := t.TempDir()
	c := ctx(t)
	sb1, err := sandbox.Start(c, sandbox.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := sandbox.Options{DataDir: dir, IdPPort: port(sb1.IdPURL), Agent0Port: port(sb1.Agent0URL), Todo0Port: port(sb1.Todo0URL), MCPPort: port(sb1.MCPURL)}
	idpKids, todoKids := jwksKids(t, sb1.IdPURL+"/oauth2/jwks"), jwksKids(t, sb1.Todo0URL+"/oauth2/jwks")

	alice := webclient.New()
	at := xaaAccessToken(t, c, sb1, alice, "alice", "alice-demo")
	cs := mcpWithToken(t, c, sb1, at)
	if res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": "survive a restart"}}); err != nil || res.IsError {
		t.Fatalf("create_todo: %v %+v", err, res)
	}
	cs.Close()
	if err := sb1.Close(); err != nil {
		t.Fatal(err)
	}

	sb2 := start(t, opts)
	if got := jwksKids(t, sb2.IdPURL+"/oauth2/jwks"); !equal(got, idpKids) {
		t.Errorf("IdP keys changed across restart: %v -> %v", idpKids, got)
	}
	if got := jwksKids(t, sb2.Todo0URL+"/oauth2/jwks"); !equal(got, todoKids) {
		t.Errorf("Todo0 keys changed across restart: %v -> %v", todoKids, got)
	}
	// The pre-restart access token still verifies and the todo is still there.
	res, err := mcpWithToken(t, c, sb2, at).CallTool(c, &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("list_todos with a pre-restart token: %v %+v", err, res)
	}
	todos, _ := res.StructuredContent.(map[string]any)["todos"].([]any)
	if len(todos) != 1 {
		t.Fatalf("todos after restart = %v", res.StructuredContent)
	}
	// The Acme session cookie from before the restart still signs Alice in.
	page, err := alice.SignIn(c, sb2.Todo0URL+"/login", "alice", "wrong password: must not be asked")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "survive a restart")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
