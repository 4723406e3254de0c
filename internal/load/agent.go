// Package load drives the sandbox with simulated agents, each doing the whole
// Cross App Access flow the way Agent0 does it: sign in once (OIDC code +
// PKCE, headless), then per flow token exchange at the IdP (ID token ->
// ID-JAG), jwt-bearer at Todo0 (ID-JAG -> access token) and an MCP tool call
// that creates a uniquely named todo. `go run . load`, the benchmarks and the
// crash test use it.
package load

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Target is where the four parties are.
type Target struct {
	IdPURL, Agent0URL, Todo0URL, MCPResource string
}

// NewHTTPClient returns a client whose pool keeps enough idle loopback
// connections for n concurrent agents, so a load run measures the parties
// and not TCP handshakes or ephemeral-port exhaustion.
func NewHTTPClient(n int) *http.Client {
	t := &http.Transport{
		Proxy:               nil, // loopback only: never a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * n,
		MaxIdleConnsPerHost: 2 * n,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Agent is one simulated agent: Agent0's credentials and one user's ID token.
type Agent struct {
	T       Target
	HTTP    *http.Client
	IDToken string
	// TokenEndpoint is the IdP's, from discovery.
	TokenEndpoint string
}

// SignIn makes an agent for user: OIDC discovery at the IdP, then an
// authorization code flow with PKCE (S256) whose login form is filled
// headlessly, then the code exchange for the ID token.
func SignIn(ctx context.Context, t Target, hc *http.Client, user, password string) (*Agent, error) {
	meta, err := Discover(ctx, hc, t.IdPURL)
	if err != nil {
		return nil, err
	}
	cfg := &oauth2.Config{
		ClientID: demo.Agent0IdPClientID, ClientSecret: demo.Agent0IdPClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: t.Agent0URL + "/callback",
		Scopes:      []string{"openid", "profile", "email"},
	}
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()[:16]
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", state))
	b := webclient.New()
	b.HTTP.Transport = hc.Transport
	q, err := b.AuthorizationCode(ctx, authURL, cfg.RedirectURL, user, password)
	if err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	if q.Get("state") != state || q.Get("code") == "" {
		return nil, fmt.Errorf("sign-in: redirect without code or with the wrong state (error=%q)", q.Get("error"))
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	idt, _ := tok.Extra("id_token").(string)
	if idt == "" {
		return nil, errors.New("code exchange returned no id_token")
	}
	return &Agent{T: t, HTTP: hc, IDToken: idt, TokenEndpoint: meta.TokenEndpoint}, nil
}

// Metadata is the part of the IdP's discovery document the agents use.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// Discover fetches the IdP's OpenID configuration.
func Discover(ctx context.Context, hc *http.Client, issuer string) (*Metadata, error) {
	var m Metadata
	if err := getJSON(ctx, hc, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", "", &m); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if m.Issuer != issuer || m.TokenEndpoint == "" || m.AuthorizationEndpoint == "" {
		return nil, fmt.Errorf("discovery: issuer %q (want %q) or endpoints missing", m.Issuer, issuer)
	}
	return &m, nil
}

// Exchange trades the agent's ID token for an ID-JAG for Todo0 MCP
// (RFC 8693 token exchange, client_secret_basic).
func (a *Agent) Exchange(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type":           {oauth.GrantTypeTokenExchange},
		"requested_token_type": {oauth.TokenTypeIDJAG},
		"audience":             {a.T.Todo0URL},
		"resource":             {a.T.MCPResource},
		"scope":                {demo.ScopeRead + " " + demo.ScopeWrite},
		"subject_token":        {a.IDToken},
		"subject_token_type":   {oauth.TokenTypeIDToken},
	}
	var out struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	if err := a.postToken(ctx, a.TokenEndpoint, demo.Agent0IdPClientID, demo.Agent0IdPClientSecret, form, &out); err != nil {
		return "", fmt.Errorf("token exchange: %w", err)
	}
	if out.IssuedTokenType != oauth.TokenTypeIDJAG || out.AccessToken == "" {
		return "", fmt.Errorf("token exchange: issued_token_type %q", out.IssuedTokenType)
	}
	return out.AccessToken, nil
}

// Redeem presents the ID-JAG at Todo0's token endpoint (RFC 7523 jwt-bearer).
func (a *Agent) Redeem(ctx context.Context, jag string) (string, error) {
	form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag}}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := a.postToken(ctx, a.T.Todo0URL+"/oauth2/token", demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret, form, &out); err != nil {
		return "", fmt.Errorf("jwt-bearer: %w", err)
	}
	if out.AccessToken == "" || !strings.EqualFold(out.TokenType, "bearer") {
		return "", fmt.Errorf("jwt-bearer: token_type %q", out.TokenType)
	}
	return out.AccessToken, nil
}

// CreateTodo opens an MCP session with the access token, calls create_todo
// and closes the session. It returns the new todo's id.
func (a *Agent) CreateTodo(ctx context.Context, accessToken, title string) (int64, error) {
	cs, err := a.Connect(ctx, accessToken)
	if err != nil {
		return 0, err
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": title}})
	if err != nil {
		return 0, fmt.Errorf("create_todo: %w", err)
	}
	if res.IsError {
		return 0, fmt.Errorf("create_todo: tool error %s", toolText(res))
	}
	var t struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &t); err != nil || t.ID == 0 || t.Title != title {
		return 0, fmt.Errorf("create_todo: unexpected result %s", raw)
	}
	return t.ID, nil
}

// Connect opens an MCP session (initialize) that sends accessToken.
func (a *Agent) Connect(ctx context.Context, accessToken string) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: bearer{token: accessToken, next: a.HTTP.Transport}, Timeout: a.HTTP.Timeout}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "xaa-load", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: a.T.MCPResource, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		return nil, fmt.Errorf("mcp connect: %w", err)
	}
	return cs, nil
}

func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "; ")
}

// bearer adds the access token to every request of an MCP session.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	next := b.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// postToken posts a token request with client_secret_basic (RFC 6749 2.3.1:
// id and secret form-urlencoded before base64) and decodes a 200 into out,
// anything else into an error that carries the OAuth error code.
func (a *Agent) postToken(ctx context.Context, endpoint, id, secret string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return &StatusError{Status: resp.StatusCode, Code: e.Error, Description: e.Description}
	}
	return json.Unmarshal(body, out)
}

// StatusError is a refused HTTP request.
type StatusError struct {
	Status            int
	Code, Description string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

func getJSON(ctx context.Context, hc *http.Client, u, basicUser string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if basicUser != "" {
		req.SetBasicAuth(basicUser, serviceSecret)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: HTTP %d %s", u, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

const serviceSecret = demo.MCPServiceClientSecret
