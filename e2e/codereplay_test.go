package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// RFC 6749 4.1.2 code replay: a second redemption of a code by its own
// client (with the right PKCE verifier) revokes the session the code was
// issued under, so nothing issued with it keeps working: the refresh token,
// the ID token at the token exchange, the access token at userinfo. Another
// client, or the right client without the verifier, gets invalid_grant and
// revokes nothing.
func TestCodeReplayRevokesTheSession(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	redirect := sb.Agent0URL + "/callback"
	cfg := oauth2.Config{ClientID: demo.Agent0IdPClientID, ClientSecret: demo.Agent0IdPClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: sb.IdPURL + "/oauth2/authorize", TokenURL: sb.IdPURL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access"}}
	v := oauth2.GenerateVerifier()
	q, err := webclient.New().AuthorizationCode(c, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), redirect, "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	cd := q.Get("code")
	tok, err := cfg.Exchange(c, cd, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)

	refreshWorks := func() bool {
		_, err := cfg.TokenSource(c, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		return err == nil
	}
	userinfo := func() int {
		req, _ := http.NewRequestWithContext(c, http.MethodGet, sb.IdPURL+"/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	exchange := func() int {
		form := url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDJAG},
			"subject_token": {idToken}, "subject_token_type": {oauth.TokenTypeIDToken}, "audience": {sb.Todo0URL}, "resource": {sb.MCPResource}}
		req, _ := http.NewRequestWithContext(c, http.MethodPost, sb.IdPURL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if !refreshWorks() || userinfo() != 200 || exchange() != 200 {
		t.Fatal("the fresh grant does not work")
	}

	other := cfg
	other.ClientID, other.ClientSecret = demo.Todo0IdPClientID, demo.Todo0IdPClientSecret
	other.RedirectURL = sb.Todo0URL + "/callback"
	if _, err := other.Exchange(c, cd, oauth2.VerifierOption(v)); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("another client replaying: %v", err)
	}
	if _, err := cfg.Exchange(c, cd, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("replay without the verifier: %v", err)
	}
	if !refreshWorks() || userinfo() != 200 || exchange() != 200 {
		t.Fatal("a replay by someone who could not have redeemed the code revoked the grant")
	}

	if _, err := cfg.Exchange(c, cd, oauth2.VerifierOption(v)); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("replay: %v", err)
	}
	if refreshWorks() {
		t.Error("refresh token works after the code replay")
	}
	if got := userinfo(); got != http.StatusUnauthorized {
		t.Errorf("userinfo after the code replay: %d", got)
	}
	if got := exchange(); got != http.StatusBadRequest {
		t.Errorf("token exchange of the ID token after the code replay: %d", got)
	}
}

// RFC 7636 4.1: code_verifier is 43 to 128 unreserved characters; anything
// else is invalid_request, before the code is looked at (and so the code
// survives for the real redemption).
func TestCodeVerifierSyntax(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	redirect := sb.Agent0URL + "/callback"
	cfg := oauth2.Config{ClientID: demo.Agent0IdPClientID, ClientSecret: demo.Agent0IdPClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: sb.IdPURL + "/oauth2/authorize", TokenURL: sb.IdPURL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid"}}
	for _, v := range []string{
		strings.Repeat("a", 42),       // too short
		strings.Repeat("a", 129),      // too long
		strings.Repeat("a", 42) + "+", // not unreserved
		strings.Repeat("a", 42) + " ", // space
		strings.Repeat("a", 42) + "é", // not ASCII
	} {
		// S256 of the bad verifier, so only the syntax rule can refuse it.
		q, err := webclient.New().AuthorizationCode(c, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), redirect, "alice", "alice-demo")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Exchange(c, q.Get("code"), oauth2.VerifierOption(v)); !isOAuthErr(err, "invalid_request") {
			t.Errorf("verifier %q: %v", v, err)
		}
	}
}
