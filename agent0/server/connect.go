package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// connection is one user's MCP session with Todo0 MCP. Authorization is the
// Go MCP SDK's extauth.EnterpriseHandler: on a 401 from the MCP server it
// takes the user's ID token, exchanges it at the IdP for an ID-JAG, and
// redeems that at the Todo0 AS. When the access token expires, the MCP server
// answers 401 again and the handler re-runs the exchange, silently.
type connection struct {
	mu      sync.Mutex
	session *mcp.ClientSession
	as      string // the discovered authorization server
	err     error  // the last failure, shown to the user
}

func (c *connection) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil {
		_ = c.session.Close()
		c.session = nil
	}
}

func (s *Server) dropConnection(sessionID string) {
	s.mu.Lock()
	c := s.conns[sessionID]
	delete(s.conns, sessionID)
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

func (s *Server) connectionFor(sessionID string) *connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[sessionID]
	if !ok {
		c = &connection{}
		s.conns[sessionID] = c
	}
	return c
}

// discovery is what Agent0 learns about the MCP server before connecting
// (checklist 5): the 401 names the resource metadata, which names the AS,
// whose metadata must offer the ID-JAG grant profile.
type discovery struct {
	Resource      string
	AuthServer    string
	TokenEndpoint string
}

func (s *Server) discover(ctx context.Context) (*discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.MCPURL, strings.NewReader(`{}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Todo0 MCP is unreachable: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, fmt.Errorf("Todo0 MCP answered %d without a token; expected 401 with resource metadata", resp.StatusCode)
	}
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return nil, fmt.Errorf("Todo0 MCP sent a malformed WWW-Authenticate: %w", err)
	}
	var prmURL string
	for _, c := range challenges {
		if c.Scheme == "bearer" && c.Params["resource_metadata"] != "" {
			prmURL = c.Params["resource_metadata"]
		}
	}
	if prmURL == "" {
		return nil, errors.New("Todo0 MCP's 401 names no resource_metadata (RFC 9728 5.1)")
	}
	if err := sameOrigin(prmURL, s.cfg.MCPURL); err != nil {
		return nil, err
	}
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, prmURL, s.cfg.MCPURL, s.cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("protected resource metadata: %w", err)
	}
	if len(prm.AuthorizationServers) == 0 {
		return nil, errors.New("protected resource metadata names no authorization server")
	}
	as := prm.AuthorizationServers[0]
	asm, err := auth.GetAuthServerMetadata(ctx, as, s.cfg.HTTPClient)
	if err != nil || asm == nil {
		return nil, fmt.Errorf("authorization server metadata for %s: %v", as, err)
	}
	var profiles struct {
		Profiles []string `json:"authorization_grant_profiles_supported"`
	}
	if err := jwks.GetJSON(ctx, s.cfg.HTTPClient, strings.TrimSuffix(as, "/")+"/.well-known/oauth-authorization-server", &profiles); err != nil {
		return nil, fmt.Errorf("authorization server metadata for %s: %w", as, err)
	}
	if !slices.Contains(profiles.Profiles, oauth.GrantProfileIDJAG) {
		return nil, fmt.Errorf("%s does not offer the ID-JAG grant profile, so Cross App Access cannot reach it", as)
	}
	return &discovery{Resource: prm.Resource, AuthServer: as, TokenEndpoint: asm.TokenEndpoint}, nil
}

func sameOrigin(a, b string) error {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Scheme != ub.Scheme || ua.Host != ub.Host {
		return fmt.Errorf("resource_metadata %q is not on the MCP server's origin", a)
	}
	return nil
}

// mcpSession returns the user's MCP session, connecting on first use.
func (s *Server) mcpSession(ctx context.Context, sessionID string) (*mcp.ClientSession, *connection, error) {
	c := s.connectionFor(sessionID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil {
		return c.session, c, nil
	}
	d, err := s.discover(ctx)
	if err != nil {
		c.err = err
		return nil, c, err
	}
	c.as = d.AuthServer
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     s.cfg.IdPIssuer,
		IdPCredentials:   &oauthex.ClientCredentials{ClientID: s.cfg.IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: s.cfg.IdPClientSecret}},
		MCPAuthServerURL: d.AuthServer,
		MCPResourceURI:   d.Resource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: s.cfg.Todo0ClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: s.cfg.Todo0ClientSecret}},
		MCPScopes:        s.cfg.Scopes,
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			idt, err := s.idToken(ctx, sessionID)
			if err != nil {
				return nil, err
			}
			return (&oauth2.Token{}).WithExtra(map[string]any{"id_token": idt}), nil
		},
		HTTPClient: s.cfg.HTTPClient,
	})
	if err != nil {
		return nil, c, err
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "agent0", Version: "0.1.0"}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{Extensions: map[string]any{oauth.ExtensionEnterpriseManagedAuthorization: map[string]any{}}},
	})
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := client.Connect(cctx, &mcp.StreamableClientTransport{
		Endpoint: s.cfg.MCPURL, HTTPClient: s.cfg.HTTPClient, OAuthHandler: handler, DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		c.err = err
		return nil, c, err
	}
	c.session, c.err = cs, nil
	return cs, c, nil
}

// callTool calls an MCP tool for the user and decodes its structured result.
func (s *Server) callTool(ctx context.Context, sessionID, name string, args map[string]any, out any) error {
	cs, c, err := s.mcpSession(ctx, sessionID)
	if err != nil {
		return err
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		// A refused re-authorization leaves the session unusable; start
		// afresh on the next request (after the admin relents, say).
		s.dropConnection(sessionID)
		return err
	}
	if res.IsError {
		var msg []string
		for _, ct := range res.Content {
			if t, ok := ct.(*mcp.TextContent); ok {
				msg = append(msg, t.Text)
			}
		}
		return &toolError{Tool: name, Message: strings.Join(msg, " ")}
	}
	if out == nil {
		return nil
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

type toolError struct{ Tool, Message string }

func (e *toolError) Error() string { return e.Tool + ": " + e.Message }

// explain turns a connection failure into words for the user.
func explain(err error) (title, detail string) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		who := "The authorization server"
		if strings.Contains(err.Error(), "token exchange") {
			who = "Acme (your identity provider)"
		} else if strings.Contains(err.Error(), "JWT bearer") {
			who = "Todo0's authorization server"
		}
		switch re.ErrorCode {
		case oauth.ErrAccessDenied:
			return "Refused by your administrator", fmt.Sprintf("%s refused to connect Todo0 for you: %s. Ask your Acme administrator.", who, re.ErrorDescription)
		case oauth.ErrInvalidGrant:
			return "Your sign-in is no longer valid", fmt.Sprintf("%s did not accept the credentials Agent0 holds for you (%s). Sign out and sign in again.", who, re.ErrorDescription)
		default:
			return "Connection refused", fmt.Sprintf("%s answered %s: %s", who, re.ErrorCode, re.ErrorDescription)
		}
	}
	var te *toolError
	if errors.As(err, &te) {
		return "Todo0 could not do that", te.Message
	}
	return "Todo0 is not reachable", err.Error()
}
