// Package harnesscheck is an SDK author's test suite in miniature: it imports
// sandboxtest and sandboxclient from outside the sandbox's module, starts one
// sandbox per test and drives the flow over HTTP with golang.org/x/oauth2
// alone, as any client library would.
package harnesscheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxtest"
)

// TestCrossAppAccessFromAnotherModule: alice's ID token from the IdP,
// exchanged for an ID-JAG (RFC 8693), redeemed at Todo0 (RFC 7523) for an
// access token whose audience is Todo0 MCP.
func TestCrossAppAccessFromAnotherModule(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	ctx := context.Background()
	c := sb.Credentials
	redirect := sb.URLs.Agent0 + "/callback"

	conf := &oauth2.Config{
		ClientID: c.Agent0AtIdP.ID, ClientSecret: c.Agent0AtIdP.Secret, RedirectURL: redirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: sb.URLs.IdP + "/oauth2/authorize", TokenURL: sb.URLs.IdP + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	q, err := sandboxclient.AuthorizationCode(ctx, conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "nonce-1")), redirect, "alice", "alice-demo")
	if err != nil || q.Get("state") != "state-1" {
		t.Fatalf("sign-in: %v %v", q, err)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no id_token")
	}

	idJAG := postForm(t, sb.URLs.IdP+"/oauth2/token", c.Agent0AtIdP, url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:id-jag"},
		"audience":             {sb.URLs.Todo0},
		"resource":             {sb.URLs.MCPResource},
		"scope":                {strings.Join(c.Scopes, " ")},
		"subject_token":        {idToken},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:id_token"},
	})["access_token"]
	at := postForm(t, sb.URLs.Todo0+"/oauth2/token", c.Agent0AtTodo0, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {idJAG.(string)},
	})
	if at["token_type"] != "Bearer" || at["access_token"] == "" {
		t.Fatalf("Todo0 token response = %v", at)
	}
	if _, ok := at["refresh_token"]; ok {
		t.Fatal("Todo0 issued a refresh token for an ID-JAG")
	}
}

// The fault switches work from another module too.
func TestFaultsFromAnotherModule(t *testing.T) {
	sb := sandboxtest.Start(t, nil)
	if err := sb.Admin.SetFaults(context.Background(), sandboxclient.MCP, "prm.omit"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(sb.URLs.MCP + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("protected resource metadata with prm.omit: %s, want 404", resp.Status)
	}
}

func postForm(t *testing.T, u string, client sandboxclient.Client, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %v %v", u, resp.Status, out, err)
	}
	return out
}
