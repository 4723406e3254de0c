// Package interop runs unmodified third-party OAuth/OIDC clients against the
// sandbox (all four parties in-process on loopback): coreos/go-oidc verifies
// the IdP's ID tokens through discovery, and golang.org/x/oauth2 does the
// authorization code flow with PKCE. The Go MCP SDK's extauth flow is in
// e2e/extauth_test.go; the TypeScript SDK is in ts/ (see docs/interop.md).
package interop

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

func setup(t *testing.T) (context.Context, *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return ctx, sb
}

// codeFlow is golang.org/x/oauth2 doing code + PKCE (S256) with Agent0's
// client at the IdP; the endpoints come from go-oidc's discovery.
func codeFlow(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, provider *oidc.Provider, verifier, challengeVerifier string) (*oauth2.Token, error) {
	t.Helper()
	cfg := &oauth2.Config{
		ClientID: demo.Agent0IdPClientID, ClientSecret: demo.Agent0IdPClientSecret,
		Endpoint:    provider.Endpoint(),
		RedirectURL: sb.Agent0URL + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email"},
	}
	state, nonce := oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()[:20]
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(challengeVerifier), oidc.Nonce(nonce))
	q, err := webclient.New().AuthorizationCode(ctx, authURL, cfg.RedirectURL, "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	// RFC 9207: the IdP names itself in the redirect.
	if q.Get("iss") != sb.IdPURL {
		t.Errorf("iss in the authorization response = %q, want %q", q.Get("iss"), sb.IdPURL)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, err
	}
	idt, _ := tok.Extra("id_token").(string)
	if idt == "" {
		t.Fatal("token response has no id_token")
	}
	// go-oidc verifies signature (JWKS from discovery), iss, aud, exp.
	v := provider.Verifier(&oidc.Config{ClientID: demo.Agent0IdPClientID, SupportedSigningAlgs: []string{oidc.RS256}})
	id, err := v.Verify(ctx, idt)
	if err != nil {
		t.Fatalf("go-oidc refused the IdP's ID token: %v", err)
	}
	if id.Nonce != nonce {
		t.Errorf("nonce %q, want %q", id.Nonce, nonce)
	}
	if id.Subject != "00u_alice" {
		t.Errorf("sub %q, want 00u_alice", id.Subject)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if err := id.Claims(&claims); err != nil || claims.Email != "alice@acme.example" {
		t.Errorf("claims %+v, %v", claims, err)
	}
	// The access token works at userinfo through go-oidc, and names the same user.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != id.Subject {
		t.Errorf("userinfo sub %q, ID token sub %q", ui.Subject, id.Subject)
	}
	return tok, nil
}

// TestGoOIDCAndOAuth2CodePKCE: OIDC discovery, code + PKCE with x/oauth2,
// ID token verified by go-oidc, userinfo through go-oidc.
func TestGoOIDCAndOAuth2CodePKCE(t *testing.T) {
	ctx, sb := setup(t)
	provider, err := oidc.NewProvider(ctx, sb.IdPURL) // checks discovery's issuer equals sb.IdPURL
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	v := oauth2.GenerateVerifier()
	if _, err := codeFlow(t, ctx, sb, provider, v, v); err != nil {
		t.Fatalf("code exchange: %v", err)
	}
}

// TestOAuth2WrongPKCEVerifier: RFC 7636 4.6, a code_verifier that does not
// match the S256 challenge is refused with invalid_grant, as x/oauth2 reports it.
func TestOAuth2WrongPKCEVerifier(t *testing.T) {
	ctx, sb := setup(t)
	provider, err := oidc.NewProvider(ctx, sb.IdPURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = codeFlow(t, ctx, sb, provider, oauth2.GenerateVerifier(), oauth2.GenerateVerifier())
	var re *oauth2.RetrieveError
	if err == nil || !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("exchange with the wrong verifier: %v, want invalid_grant 400", err)
	}
}

// TestGoOIDCRejectsForeignAudience: an ID token issued to Agent0 does not
// verify for another client id, so go-oidc's aud check is really exercised
// against the IdP's tokens.
func TestGoOIDCRejectsForeignAudience(t *testing.T) {
	ctx, sb := setup(t)
	provider, err := oidc.NewProvider(ctx, sb.IdPURL)
	if err != nil {
		t.Fatal(err)
	}
	v := oauth2.GenerateVerifier()
	tok, err := codeFlow(t, ctx, sb, provider, v, v)
	if err != nil {
		t.Fatal(err)
	}
	idt := tok.Extra("id_token").(string)
	other := provider.Verifier(&oidc.Config{ClientID: demo.Todo0IdPClientID})
	if _, err := other.Verify(ctx, idt); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("verify for todo0: %v, want an audience error", err)
	}
	// And a token from a different issuer URL (same keys) is refused too.
	u, _ := url.Parse(sb.IdPURL)
	u.Host = "127.0.0.1:" + u.Port()
	ctx2 := oidc.InsecureIssuerURLContext(ctx, u.String())
	p2, err := oidc.NewProvider(ctx2, sb.IdPURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Verifier(&oidc.Config{ClientID: demo.Agent0IdPClientID}).Verify(ctx, idt); err == nil {
		t.Fatal("ID token verified for a different issuer")
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}
