package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

func authorizeURL(sb *sandbox.Sandbox, mod func(url.Values)) string {
	sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier"))
	q := url.Values{
		"response_type": {"code"}, "client_id": {demo.Agent0IdPClientID}, "redirect_uri": {sb.Agent0URL + "/callback"},
		"scope": {"openid"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	return sb.IdPURL + "/oauth2/authorize?" + q.Encode()
}

// The IdP's authorization endpoint: errors before the redirect URI is trusted
// are shown, never redirected (RFC 6749 4.1.2.1); later ones are redirected;
// PKCE S256 is required.
func TestAuthorizationEndpoint(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	tests := []struct {
		name      string
		mod       func(url.Values)
		status    int    // when the IdP shows an error page
		redirErr  string // when the IdP redirects with an error
		showsForm bool
	}{
		{name: "valid request shows the login form", showsForm: true},
		{name: "unknown client", mod: func(q url.Values) { q.Set("client_id", "ghost") }, status: 400},
		{name: "unregistered redirect_uri", mod: func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, status: 400},
		{name: "redirect_uri prefix is not a match", mod: func(q url.Values) { q.Set("redirect_uri", sb.Agent0URL+"/callback/x") }, status: 400},
		{name: "missing redirect_uri", mod: func(q url.Values) { q.Del("redirect_uri") }, status: 400},
		{name: "PKCE missing", mod: func(q url.Values) { q.Del("code_challenge") }, redirErr: "invalid_request"},
		{name: "PKCE plain", mod: func(q url.Values) { q.Set("code_challenge_method", "plain") }, redirErr: "invalid_request"},
		{name: "not openid", mod: func(q url.Values) { q.Set("scope", "profile") }, redirErr: "invalid_scope"},
		{name: "implicit flow", mod: func(q url.Values) { q.Set("response_type", "token") }, redirErr: "unsupported_response_type"},
		{name: "prompt=none without session", mod: func(q url.Values) { q.Set("prompt", "none") }, redirErr: "login_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := webclient.New()
			var landed *url.URL
			b.HTTP.CheckRedirect = func(req *http.Request, via []*http.Request) error {
				landed = req.URL
				return http.ErrUseLastResponse
			}
			p, err := b.Get(c, authorizeURL(sb, tc.mod))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.showsForm:
				mustContain(t, p, `name="username"`, `name="password"`, "alice-demo")
			case tc.status != 0:
				if p.Status != tc.status || landed != nil {
					t.Fatalf("status %d, redirected to %v; want an error page %d", p.Status, landed, tc.status)
				}
			default:
				if landed == nil || landed.Query().Get("error") != tc.redirErr || landed.Query().Get("state") != "st" || landed.Query().Get("iss") != sb.IdPURL {
					t.Fatalf("redirect = %v, want error=%s with state and iss", landed, tc.redirErr)
				}
			}
		})
	}
}

// Sign-in failures at the IdP say what happened and issue nothing.
func TestLoginFailures(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	for _, tc := range []struct{ user, pass, want string }{
		{"alice", "wrong", "Wrong username or password."},
		{"nobody", "x", "Wrong username or password."},
		{"carol", "carol-demo", "deactivated by your administrator"},
	} {
		p, err := webclient.New().SignIn(c, sb.Agent0URL+"/login", tc.user, tc.pass)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, p, tc.want, `name="password"`)
	}
	// A login form post without the CSRF cookie is refused.
	b := webclient.New()
	p, _ := b.Get(c, authorizeURL(sb, nil))
	target, vals, err := p.Form("/login")
	if err != nil {
		t.Fatal(err)
	}
	vals.Set("username", "alice")
	vals.Set("password", "alice-demo")
	p, err = webclient.New().Post(c, target, vals) // another browser: no CSRF cookie
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "expired") {
		t.Fatalf("login without CSRF cookie: %d", p.Status)
	}
}

// A code is bound to its PKCE verifier, client and redirect URI, and works once.
func TestCodeExchange(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	redirect := sb.Agent0URL + "/callback"
	cfg := oauth2.Config{ClientID: demo.Agent0IdPClientID, ClientSecret: demo.Agent0IdPClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: sb.IdPURL + "/oauth2/authorize", TokenURL: sb.IdPURL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access"}}
	b := webclient.New()
	code := func(verifier string) string {
		q, err := b.AuthorizationCode(c, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), redirect, "alice", "alice-demo")
		if err != nil {
			t.Fatal(err)
		}
		return q.Get("code")
	}
	v := oauth2.GenerateVerifier()
	if _, err := cfg.Exchange(c, code(v), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := cfg.Exchange(c, code(v)); !isOAuthErr(err, "invalid_request") {
		t.Fatalf("no verifier: %v", err)
	}
	other := cfg
	other.ClientID, other.ClientSecret = demo.Todo0IdPClientID, demo.Todo0IdPClientSecret
	if _, err := other.Exchange(c, code(v), oauth2.VerifierOption(v)); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("code of another client: %v", err)
	}
	cd := code(v)
	tok, err := cfg.Exchange(c, cd, oauth2.VerifierOption(v))
	if err != nil || tok.Extra("id_token") == nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v %+v", err, tok)
	}
	if _, err := cfg.Exchange(c, cd, oauth2.VerifierOption(v)); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("code reuse: %v", err)
	}
	// RFC 6749 10.5: reusing the code revoked the refresh token it produced.
	if _, err := cfg.TokenSource(c, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthErr(err, "invalid_grant") {
		t.Fatalf("refresh after code reuse: %v", err)
	}
}

func isOAuthErr(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}
