// Package server is Todo0 MCP: a streamable-HTTP MCP server (Go MCP SDK) and
// an OAuth protected resource (RFC 9728) whose tokens come from the Todo0
// authorization server. It reaches todo data through Todo0's API with
// credentials of its own; the client's token never leaves this server.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Config configures Todo0 MCP. Zero values take the defaults in parentheses.
type Config struct {
	// PublicURL is where clients reach this server (demo.Todo0MCPURL); the
	// resource identifier is PublicURL + "/mcp".
	PublicURL string
	// AuthServer is the Todo0 authorization server's issuer (demo.Todo0URL).
	AuthServer string
	// Todo0API is the base URL of Todo0's todo API (AuthServer).
	Todo0API string
	// ServiceClientID and ServiceClientSecret are this server's own client at
	// Todo0 (demo.MCPServiceClientID).
	ServiceClientID, ServiceClientSecret string
	ClockSkew                            time.Duration // (30s)
	// CheckRevocation asks Todo0 (RFC 7662 introspection, with this server's
	// own client) about every access token that verifies, so a token Todo0
	// ended early after a Shared Signals event is refused at once (off: a
	// valid signature and exp are enough, and a revoked user's token works
	// until it expires).
	CheckRevocation bool
	// AdminToken guards the fault switchboard at /admin/api/faults (demo.MCPAdminToken).
	AdminToken string
	// AllowedOrigins are browser origins, besides this server's own, that
	// may call /mcp (none). Any other Origin gets 403 (MCP transport rule).
	AllowedOrigins []string
	// SessionTimeout closes an MCP session idle this long (30m).
	SessionTimeout time.Duration
	// MaxSessionsPerUser bounds one user's MCP sessions; a new one closes
	// the oldest (16).
	MaxSessionsPerUser int
	HTTPClient         *http.Client
	Logger             *slog.Logger
}

// Server is a running Todo0 MCP.
type Server struct {
	cfg      Config
	resource string
	prmURL   string
	verifier jwtverify.Verifier
	tokens   *tokenCache // verified access tokens, until their exp
	api      *todoAPI
	// dpopReplay remembers DPoP proof jti values (RFC 9449 11.1).
	dpopReplay *dpop.MemoryReplay
	// Two MCP servers with the same tools: mcpEMA advertises the
	// enterprise-managed-authorization extension and serves clients that
	// offered it in initialize; mcp serves the others (echo, don't impose).
	mcp, mcpEMA *mcp.Server
	sessions    *sessionCap
	faults      *faults.Set
	log         *slog.Logger
}

// New builds the server. It keeps no state of its own, so it has no database.
func New(cfg Config) (*Server, error) {
	if cfg.PublicURL == "" {
		cfg.PublicURL = demo.Todo0MCPURL
	}
	if cfg.AuthServer == "" {
		cfg.AuthServer = demo.Todo0URL
	}
	if cfg.Todo0API == "" {
		cfg.Todo0API = cfg.AuthServer
	}
	if cfg.ServiceClientID == "" {
		cfg.ServiceClientID, cfg.ServiceClientSecret = demo.MCPServiceClientID, demo.MCPServiceClientSecret
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = demo.MCPAdminToken
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: newTodoAPITransport(), Timeout: 15 * time.Second}
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 30 * time.Minute
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = 16
	}
	if cfg.MaxSessionsPerUser < 0 {
		return nil, fmt.Errorf("todo0-mcp: max sessions per user must be at least 1, got %d", cfg.MaxSessionsPerUser)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pub, err := httpx.PublicBase(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("todo0-mcp: PublicURL %q %v", cfg.PublicURL, err)
	}
	cfg.PublicURL = pub
	s := &Server{
		cfg:        cfg,
		dpopReplay: &dpop.MemoryReplay{},
		resource:   pub + demo.MCPPath,
		prmURL:     pub + "/.well-known/oauth-protected-resource" + demo.MCPPath,
		api:        &todoAPI{base: strings.TrimSuffix(cfg.Todo0API, "/"), clientID: cfg.ServiceClientID, secret: cfg.ServiceClientSecret, http: cfg.HTTPClient},
		log:        cfg.Logger,
		faults:     newFaults(),
	}
	s.tokens = newTokenCache(10000)
	s.verifier = jwtverify.Verifier{
		Typ:        oauth.TypAccessToken,
		Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256},
		Issuers: map[string]jwtverify.KeySource{cfg.AuthServer: &jwks.Remote{
			Issuer:      cfg.AuthServer,
			MetadataURL: strings.TrimSuffix(cfg.AuthServer, "/") + "/.well-known/oauth-authorization-server",
			Client:      cfg.HTTPClient,
		}},
		Audience: s.resource,
		Skew:     cfg.ClockSkew,
		Required: []string{"sub", "client_id", "jti", "iat"},
	}
	s.mcp = s.newMCPServer(nil)
	s.mcpEMA = s.newMCPServer(map[string]any{oauth.ExtensionEnterpriseManagedAuthorization: map[string]any{}})
	s.sessions = &sessionCap{max: cfg.MaxSessionsPerUser, servers: []*mcp.Server{s.mcp, s.mcpEMA}, byID: map[string]sessionOwner{}}
	return s, nil
}

func (s *Server) newMCPServer(extensions map[string]any) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "todo0-mcp", Title: "Todo0 MCP", Version: "0.1.0"}, &mcp.ServerOptions{
		Instructions: "Tools over the signed-in user's Todo0 todos. Reading needs todos.read, changing needs todos.write.",
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}, Extensions: extensions},
		Logger:       s.log,
	})
	s.addTools(srv)
	return srv
}

// serverFor picks the MCP server for a new session: the one that echoes the
// enterprise-managed-authorization extension when the client's initialize
// offers it (EMA: the server may echo it).
func (s *Server) serverFor(r *http.Request) *mcp.Server {
	body, _ := r.Context().Value(bodyKey{}).([]byte)
	var init struct {
		Method string `json:"method"`
		Params struct {
			Capabilities struct {
				Extensions map[string]json.RawMessage `json:"extensions"`
			} `json:"capabilities"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &init) == nil && init.Method == "initialize" {
		if _, ok := init.Params.Capabilities.Extensions[oauth.ExtensionEnterpriseManagedAuthorization]; ok {
			return s.mcpEMA
		}
	}
	return s.mcp
}

// Faults is Todo0 MCP's fault switchboard (see docs/todo0-faults.md).
func (s *Server) Faults() *faults.Set { return s.faults }

// Resource is the RFC 9728 resource identifier.
func (s *Server) Resource() string { return s.resource }

// Maintain has nothing to prune; Todo0 MCP keeps no state.
func (s *Server) Maintain(context.Context) error { return nil }

// Close has nothing to release.
func (s *Server) Close() error { return nil }

// Handler serves the protected resource metadata and the MCP endpoint.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	// RFC 9728 3.1: the path-suffixed location for the /mcp resource. No root
	// document: RFC 9728 3.3 ties it to the identifier without a path, a
	// resource this server does not have (the Go MCP SDK refuses one that
	// names /mcp).
	r.HandleFunc("/.well-known/oauth-protected-resource"+demo.MCPPath, s.protectedResourceMetadata)
	r.Handle("/admin/api/faults", faults.Handler(s.faults, s.cfg.AdminToken))
	streamable := mcp.NewStreamableHTTPHandler(s.serverFor, &mcp.StreamableHTTPOptions{Logger: s.log, SessionTimeout: s.cfg.SessionTimeout})
	r.Handle(demo.MCPPath, s.originGate(s.protect(s.sessions.track(streamable))))
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return httpx.Middleware(s.cfg.PublicURL, s.log, r)
}

var errNotTodo0 = errors.New("not a Todo0 access token")
