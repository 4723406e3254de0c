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

// connection is one user's MCP session with Todo0 MCP, and what Agent0
// shows about it. Authorization is the Go MCP SDK's extauth.EnterpriseHandler:
// on a 401 from the MCP server it takes the user's ID token, exchanges it at
// the IdP for an ID-JAG, and redeems that at the Todo0 AS. When the access
// token expires, the MCP server answers 401 again and the handler re-runs the
// exchange, silently (the inspector shows it).
type connection struct {
	mu      sync.Mutex
	session *mcp.ClientSession
	as      string // the discovered authorization server
	err     error  // the last failure, shown to the user
	// refused is a refusal by the IdP or the AS. It is sticky: Agent0 makes
	// no further calls for the user until they press Reconnect or
	// Config.RetryRefusedAfter has passed since refusedAt.
	refused   error
	refusedAt time.Time
	tools     []toolInfo // from tools/list

	rec    *Recorder    // the flow inspector's record of this session
	client *http.Client // records into rec
	chat   chatLog
}

func (c *connection) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil {
		_ = c.session.Close()
		c.session = nil
	}
}

// dropConnection ends the MCP session; the next call connects afresh. The
// inspector record and the chat stay.
func (s *Server) dropConnection(sessionID string) {
	s.mu.Lock()
	c := s.conns[sessionID]
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// forget ends the MCP session and forgets everything about it (sign-out).
func (s *Server) forget(sessionID string) {
	s.mu.Lock()
	c := s.conns[sessionID]
	delete(s.conns, sessionID)
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

func (s *Server) connectionFor(sessionID string) *connection {
	return s.connectionWith(sessionID, nil)
}

// newRecorder is an empty flow-inspector record for one session.
func (s *Server) newRecorder() *Recorder {
	return newRecorder(s.lane, s.cfg.IdPClientSecret, s.cfg.Todo0ClientSecret)
}

// connectionWith returns the session's connection, creating it with rec (or
// a new recorder) if there is none yet.
func (s *Server) connectionWith(sessionID string, rec *Recorder) *connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[sessionID]
	if !ok {
		if rec == nil {
			rec = s.newRecorder()
		}
		base := s.cfg.HTTPClient
		tr := base.Transport
		if rt, ok := tr.(*recordingTransport); ok {
			tr = rt.base // record once, here
		}
		var rt http.RoundTripper = &recordingTransport{base: tr, rec: rec}
		if s.cfg.DPoP {
			if dt, err := newDPoPTransport(rt, s.cfg.MCPURL, s.now); err == nil {
				rt = dt
			} else {
				s.log.Error("dpop key", "err", err)
			}
		}
		c = &connection{rec: rec, client: &http.Client{Timeout: base.Timeout, Transport: rt}}
		s.conns[sessionID] = c
	}
	return c
}

// lane says which party a URL belongs to, for the sequence diagram.
func (s *Server) lane(u *url.URL) string {
	host := func(raw string) string {
		p, err := url.Parse(raw)
		if err != nil {
			return ""
		}
		return p.Host
	}
	s.mu.Lock()
	as := s.asURL
	s.mu.Unlock()
	switch u.Host {
	case host(s.cfg.MCPURL):
		return LaneMCP
	case host(s.cfg.IdPIssuer):
		return LaneIdP
	case host(as):
		return LaneAS
	}
	return LaneAgent0
}

// isRefusal reports an OAuth error from the IdP or the AS: the user's access
// was refused, not a network hiccup.
func isRefusal(err error) bool {
	var re *oauth2.RetrieveError
	if _, stepUp := stepUpMaxAge(err); stepUp {
		return false // not a refusal: the user signs in again (stepup.go)
	}
	return errors.As(err, &re) && re.ErrorCode != ""
}

// discovery is what Agent0 learns about the MCP server before connecting
// (checklist 5): the 401 names the resource metadata, which names the AS,
// whose metadata must offer the ID-JAG grant profile.
type discovery struct {
	Resource      string
	AuthServer    string
	TokenEndpoint string
}

func (s *Server) discover(ctx context.Context, hc *http.Client) (*discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.MCPURL, strings.NewReader(`{}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
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
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, prmURL, s.cfg.MCPURL, hc)
	if err != nil {
		return nil, fmt.Errorf("protected resource metadata: %w", err)
	}
	if len(prm.AuthorizationServers) == 0 {
		return nil, errors.New("protected resource metadata names no authorization server")
	}
	as := prm.AuthorizationServers[0]
	asm, err := auth.GetAuthServerMetadata(ctx, as, hc)
	if err != nil || asm == nil {
		return nil, fmt.Errorf("authorization server metadata for %s: %v", as, err)
	}
	var profiles struct {
		Profiles []string `json:"authorization_grant_profiles_supported"`
	}
	if err := jwks.GetJSON(ctx, hc, strings.TrimSuffix(as, "/")+"/.well-known/oauth-authorization-server", &profiles); err != nil {
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

// mcpSession returns the user's MCP session, connecting on first use. After
// a refusal it returns that refusal without calling anyone.
func (s *Server) mcpSession(ctx context.Context, sessionID string) (*mcp.ClientSession, *connection, error) {
	c := s.connectionFor(sessionID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused != nil {
		if s.cfg.RetryRefusedAfter < 0 || s.now().Before(c.refusedAt.Add(s.cfg.RetryRefusedAfter)) {
			return nil, c, c.refused
		}
		c.refused = nil // time to ask the IdP again
	}
	if c.session != nil {
		return c.session, c, nil
	}
	ctx = withRecorder(ctx, c.rec)
	d, err := s.discover(ctx, c.client)
	if err != nil {
		c.err = err
		return nil, c, err
	}
	c.as = d.AuthServer
	s.mu.Lock()
	s.asURL = d.AuthServer
	s.mu.Unlock()
	rec := c.rec
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     s.cfg.IdPIssuer,
		IdPCredentials:   &oauthex.ClientCredentials{ClientID: s.cfg.IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: s.cfg.IdPClientSecret}},
		MCPAuthServerURL: d.AuthServer,
		MCPResourceURI:   d.Resource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: s.cfg.Todo0ClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: s.cfg.Todo0ClientSecret}},
		MCPScopes:        s.cfg.Scopes,
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			// A refresh of the ID token goes through the shared client,
			// which records into the recorder in the context.
			idt, err := s.idToken(withRecorder(ctx, rec), sessionID)
			if err != nil {
				return nil, err
			}
			return (&oauth2.Token{}).WithExtra(map[string]any{"id_token": idt}), nil
		},
		HTTPClient: c.client,
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
		Endpoint: s.cfg.MCPURL, HTTPClient: c.client, OAuthHandler: handler, DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		c.err = err
		if isRefusal(err) {
			c.refused, c.refusedAt = err, s.now()
		}
		return nil, c, err
	}
	c.session, c.err = cs, nil
	if c.tools == nil {
		c.tools, _ = listTools(cctx, cs)
	}
	return cs, c, nil
}

// listTools asks the server what it offers (tools/list), so a new tool is
// usable without changing Agent0.
func listTools(ctx context.Context, cs *mcp.ClientSession) ([]toolInfo, error) {
	var out []toolInfo
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return out, err
		}
		out = append(out, newToolInfo(t))
	}
	return out, nil
}

// refreshTools re-reads tools/list.
func (s *Server) refreshTools(ctx context.Context, sessionID string) ([]toolInfo, error) {
	cs, c, err := s.mcpSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	tools, err := listTools(ctx, cs)
	if err != nil {
		s.failed(sessionID, c, err)
		return nil, err
	}
	c.mu.Lock()
	c.tools = tools
	c.mu.Unlock()
	return tools, nil
}

// failed remembers a failed call: a refusal stops further calls until
// Reconnect or RetryRefusedAfter; either way the MCP session is dropped and
// re-made next time.
func (s *Server) failed(sessionID string, c *connection, err error) {
	c.mu.Lock()
	c.err = err
	if isRefusal(err) {
		c.refused, c.refusedAt = err, s.now()
	}
	c.mu.Unlock()
	s.dropConnection(sessionID)
}

// callTool calls an MCP tool for the user and returns its structured result
// (or its text, for a tool without structured output).
func (s *Server) callTool(ctx context.Context, sessionID, name string, args map[string]any) (any, error) {
	cs, c, err := s.mcpSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if errors.Is(err, mcp.ErrSessionMissing) {
		// Todo0 MCP closed the idle session (404): connect afresh, once.
		s.dropConnection(sessionID)
		if cs, c, err = s.mcpSession(ctx, sessionID); err != nil {
			return nil, err
		}
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	}
	if err != nil {
		s.failed(sessionID, c, err)
		return nil, err
	}
	var text []string
	for _, ct := range res.Content {
		if t, ok := ct.(*mcp.TextContent); ok {
			text = append(text, t.Text)
		}
	}
	if res.IsError {
		return nil, &toolError{Tool: name, Message: strings.Join(text, " ")}
	}
	if res.StructuredContent != nil {
		// Normalize to plain JSON values.
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	return strings.Join(text, "\n"), nil
}

type toolError struct{ Tool, Message string }

func (e *toolError) Error() string { return e.Tool + ": " + e.Message }

// explain turns a connection failure into words for the user.
func explain(err error) (title, detail string) {
	if n, ok := stepUpMaxAge(err); ok {
		return "Sign in again", fmt.Sprintf("Your administrator wants a recent sign-in (within %ds) before Agent0 reaches Todo0 for you. Sign in again with Acme; Agent0 then reconnects.", n)
	}
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
