package sandboxcontainers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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

// tokenLifetimes runs the flow by hand (x/oauth2 for alice's ID token, then
// the token exchange and the jwt-bearer grant) and returns the expires_in of
// the ID-JAG and of Todo0's access token.
func tokenLifetimes(ctx context.Context, c sandboxclient.Config) (idJAG, accessToken float64, err error) {
	creds := c.Credentials
	redirect := c.URLs.Agent0 + "/callback"
	conf := &oauth2.Config{
		ClientID: creds.Agent0AtIdP.ID, ClientSecret: creds.Agent0AtIdP.Secret, RedirectURL: redirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: c.URLs.IdP + "/oauth2/authorize", TokenURL: c.URLs.IdP + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	q, err := sandboxclient.AuthorizationCode(ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n")), redirect, "alice", "alice-demo")
	if err != nil {
		return 0, 0, err
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return 0, 0, err
	}
	idToken, _ := tok.Extra("id_token").(string)
	jag, err := tokenRequest(ctx, c.URLs.IdP+"/oauth2/token", creds.Agent0AtIdP, url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:id-jag"},
		"audience":             {c.URLs.Todo0},
		"resource":             {c.URLs.MCPResource},
		"scope":                {strings.Join(creds.Scopes, " ")},
		"subject_token":        {idToken},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:id_token"},
	})
	if err != nil {
		return 0, 0, err
	}
	at, err := tokenRequest(ctx, c.URLs.Todo0+"/oauth2/token", creds.Agent0AtTodo0, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {fmt.Sprint(jag["access_token"])},
	})
	if err != nil {
		return 0, 0, err
	}
	a, _ := jag["expires_in"].(float64)
	b, _ := at["expires_in"].(float64)
	return a, b, nil
}

func tokenRequest(ctx context.Context, u string, client sandboxclient.Client, form url.Values) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s %v %v", u, resp.Status, out, err)
	}
	return out, nil
}
