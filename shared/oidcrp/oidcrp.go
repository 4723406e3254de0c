// Package oidcrp is the OpenID Connect relying party that Agent0 and Todo0
// use to sign users in with Acme SSO: authorization code + PKCE S256 + state
// + nonce, client_secret_basic at the token endpoint, strict ID token checks.
package oidcrp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Config configures a relying party.
type Config struct {
	Issuer       string // the IdP's issuer URL
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// CookieName holds the pending login's state; it must differ per party
	// because cookies ignore ports on localhost.
	CookieName string
	HTTPClient *http.Client
	Skew       time.Duration
}

// RP is a relying party. Discovery happens on first use, so parties can be
// constructed in any order.
type RP struct {
	cfg  Config
	keys *jwks.Remote

	mu      sync.Mutex
	meta    *Metadata
	pending pendingStore
}

// Metadata is the part of the IdP's discovery document the RP uses.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	// RFC 9207 3: when true, every authorization response carries iss.
	AuthorizationResponseISSParameterSupported bool   `json:"authorization_response_iss_parameter_supported"`
	EndSessionEndpoint                         string `json:"end_session_endpoint"`
}

type pendingLogin struct {
	verifier, nonce, returnTo string
	expires                   time.Time
}

// Identity is a signed-in user as the ID token describes them.
type Identity struct {
	Issuer, Subject, Email, Name string
	SessionID                    string // the IdP's sid
	IDToken                      string
	IDTokenExpiry                time.Time
	RefreshToken                 string
	AuthTime                     time.Time
}

// New validates cfg.
func New(cfg Config) (*RP, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oidcrp: Issuer is required")
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("oidcrp: ClientID and ClientSecret are required")
	case cfg.RedirectURL == "":
		return nil, errors.New("oidcrp: RedirectURL is required")
	case cfg.CookieName == "":
		return nil, errors.New("oidcrp: CookieName is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Skew == 0 {
		cfg.Skew = 30 * time.Second
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "profile", "email"}
	}
	return &RP{
		cfg:  cfg,
		keys: &jwks.Remote{Issuer: cfg.Issuer, MetadataURL: discoveryURL(cfg.Issuer), Client: cfg.HTTPClient},
	}, nil
}

func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Metadata fetches (once) and returns the IdP's discovery document.
func (rp *RP) Metadata(ctx context.Context) (*Metadata, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.meta != nil {
		return rp.meta, nil
	}
	var m Metadata
	if err := jwks.GetJSON(ctx, rp.cfg.HTTPClient, discoveryURL(rp.cfg.Issuer), &m); err != nil {
		return nil, fmt.Errorf("oidcrp: discovery at %s: %w", rp.cfg.Issuer, err)
	}
	if m.Issuer != rp.cfg.Issuer {
		return nil, fmt.Errorf("oidcrp: discovery names issuer %q, configured %q", m.Issuer, rp.cfg.Issuer)
	}
	rp.meta = &m
	return rp.meta, nil
}

func (rp *RP) oauth2Config(m *Metadata) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     rp.cfg.ClientID,
		ClientSecret: rp.cfg.ClientSecret,
		RedirectURL:  rp.cfg.RedirectURL,
		Scopes:       rp.cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   m.AuthorizationEndpoint,
			TokenURL:  m.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartLogin redirects the browser to the IdP. returnTo is a local path to
// come back to after sign-in; extra adds authorization request parameters
// (prompt=login and max_age for a step-up).
func (rp *RP) StartLogin(w http.ResponseWriter, r *http.Request, returnTo string, extra ...oauth2.AuthCodeOption) {
	m, err := rp.Metadata(r.Context())
	if err != nil {
		http.Error(w, "Acme SSO is unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") {
		returnTo = "/"
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	now := time.Now()
	rp.pending.add(state, pendingLogin{verifier: verifier, nonce: nonce, returnTo: returnTo, expires: now.Add(pendingTTL)}, now)
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: rp.cfg.CookieName, Value: state, Path: "/", MaxAge: 600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: httpx.SecureCookie(rp.cfg.RedirectURL, r),
	})
	u := rp.oauth2Config(m).AuthCodeURL(state, append([]oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", nonce)}, extra...)...)
	http.Redirect(w, r, u, http.StatusFound)
}

// LoginError is an error the IdP returned to the redirect URI.
type LoginError struct{ Code, Description string }

func (e *LoginError) Error() string { return e.Code + ": " + e.Description }

// FinishLogin handles the redirect back from the IdP and returns who signed in.
func (rp *RP) FinishLogin(w http.ResponseWriter, r *http.Request) (*Identity, string, error) {
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(rp.cfg.CookieName)
	if err != nil || state == "" || c.Value != state {
		return nil, "", errors.New("sign-in state does not match this browser; start the sign-in again")
	}
	http.SetCookie(w, &http.Cookie{Name: rp.cfg.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	rp.mu.Lock()
	p, ok := rp.pending.take(state)
	rp.mu.Unlock()
	if !ok || time.Now().After(p.expires) {
		return nil, "", errors.New("sign-in expired; start it again")
	}
	m, err := rp.Metadata(r.Context())
	if err != nil {
		return nil, "", err
	}
	// RFC 9207 2.4: iss must match; and when the IdP advertises iss support,
	// a response without it is refused (it may come from a mix-up).
	if iss, has := q.Get("iss"), q.Has("iss"); has && iss != rp.cfg.Issuer {
		return nil, "", fmt.Errorf("authorization response from issuer %q, expected %q (RFC 9207)", iss, rp.cfg.Issuer)
	} else if !has && m.AuthorizationResponseISSParameterSupported {
		return nil, "", errors.New("authorization response has no iss although the IdP always sends one (RFC 9207 2.4)")
	}
	if e := q.Get("error"); e != "" {
		return nil, p.returnTo, &LoginError{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return nil, "", errors.New("the IdP returned neither a code nor an error")
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, rp.cfg.HTTPClient)
	tok, err := rp.oauth2Config(m).Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		return nil, "", fmt.Errorf("code exchange failed: %w", err)
	}
	id, err := rp.identity(r.Context(), tok, p.nonce)
	return id, p.returnTo, err
}

// Refresh uses an IdP refresh token to get a fresh ID token.
func (rp *RP) Refresh(ctx context.Context, refreshToken string) (*Identity, error) {
	m, err := rp.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	ctx2 := context.WithValue(ctx, oauth2.HTTPClient, rp.cfg.HTTPClient)
	tok, err := rp.oauth2Config(m).TokenSource(ctx2, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh failed: %w", err)
	}
	id, err := rp.identity(ctx, tok, "")
	if err != nil {
		return nil, err
	}
	if id.RefreshToken == "" {
		id.RefreshToken = refreshToken
	}
	return id, nil
}

func (rp *RP) identity(ctx context.Context, tok *oauth2.Token, nonce string) (*Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("token response has no id_token")
	}
	var claims struct {
		Nonce    string `json:"nonce"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Sid      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
	}
	t, err := rp.VerifyIDToken(ctx, raw, &claims)
	if err != nil {
		return nil, err
	}
	if nonce != "" && claims.Nonce != nonce {
		return nil, errors.New("ID token nonce does not match the sign-in request")
	}
	return &Identity{
		Issuer: t.Claims.Issuer, Subject: t.Claims.Subject, Email: claims.Email, Name: claims.Name,
		SessionID: claims.Sid, IDToken: raw, IDTokenExpiry: t.Claims.Expiry.Time(),
		RefreshToken: tok.RefreshToken, AuthTime: time.Unix(claims.AuthTime, 0),
	}, nil
}

// VerifyIDToken checks an ID token from the configured IdP for this client
// (OIDC Core 3.1.3.7): signature by the IdP's JWKS, iss, aud, exp, iat.
func (rp *RP) VerifyIDToken(ctx context.Context, raw string, dest ...any) (*jwtverify.Token, error) {
	v := jwtverify.Verifier{
		Issuers:  map[string]jwtverify.KeySource{rp.cfg.Issuer: rp.keys},
		Audience: rp.cfg.ClientID,
		Skew:     rp.cfg.Skew,
		Required: []string{"sub", "iat"},
	}
	t, err := v.Verify(ctx, raw, dest...)
	if err != nil {
		return nil, fmt.Errorf("ID token rejected: %w", err)
	}
	// An ID-JAG or access token is not an ID token, even if its claims fit.
	if jwtverify.TypMatches(t.Typ, oauth.TypIDJAG) || jwtverify.TypMatches(t.Typ, oauth.TypAccessToken) {
		return nil, fmt.Errorf("ID token rejected: %w: %q", jwtverify.ErrTyp, t.Typ)
	}
	return t, nil
}
