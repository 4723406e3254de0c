// Package server is Todo0: the todo web app with its own Acme SSO sign-in, the
// todo API, and Todo0's authorization server, which redeems ID-JAGs for
// access tokens to the Todo0 MCP resource.
package server

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oidcrp"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// Config configures Todo0. Zero values take the defaults in parentheses.
type Config struct {
	// PublicURL is Todo0's URL and its authorization server's issuer (demo.Todo0URL).
	PublicURL string
	DataDir   string // holds todo0.db (required)
	// IdPIssuer is the trusted IdP, for SSO and for ID-JAGs (demo.IdPURL).
	IdPIssuer string
	// IdPClientID and IdPClientSecret are Todo0's SSO client at the IdP.
	IdPClientID, IdPClientSecret string
	// Resources are the protected resources this AS issues tokens for
	// (demo.Todo0MCPURL + "/mcp"). The first is the default when an ID-JAG names none.
	Resources []string
	// DefaultScopes are what a requesting app gets when its ID-JAG carries no
	// scope claim (the ID-JAG draft makes scope optional; the resource AS
	// decides). Least privilege by default: todos.read. A scope parameter in
	// the jwt-bearer request narrows within them.
	DefaultScopes []string
	// MCPURL is only used to seed the demo world (demo.Todo0MCPURL).
	SigningAlg     string        // access token signing: RS256 or ES256 (ES256)
	AccessTokenTTL time.Duration // (5m)
	ClockSkew      time.Duration // tolerance for exp/nbf/iat (30s)
	// MaxIDJAGAge bounds how old an ID-JAG's iat may be (10m).
	MaxIDJAGAge time.Duration
	// IdPJWKSMinRefresh bounds how often a token with an unknown kid may make
	// Todo0 refetch the IdP's JWKS (10s), so made-up kids cannot flood the IdP.
	IdPJWKSMinRefresh time.Duration
	// Agent0JWKSURI is where agent0-at-todo0 publishes the keys of its
	// private_key_jwt client assertions (demo.Agent0URL + "/.well-known/jwks.json").
	// It is used when seeding a fresh database.
	Agent0JWKSURI string
	// AdminToken guards the fault switchboard at /admin/api/faults (demo.Todo0AdminToken).
	AdminToken string
	// Quirks are the vendor behaviours switched on (strict when zero).
	Quirks     quirks.Set
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.PublicURL == "" {
		c.PublicURL = demo.Todo0URL
	}
	if c.IdPIssuer == "" {
		c.IdPIssuer = demo.IdPURL
	}
	if c.IdPClientID == "" {
		c.IdPClientID, c.IdPClientSecret = demo.Todo0IdPClientID, demo.Todo0IdPClientSecret
	}
	if len(c.Resources) == 0 {
		c.Resources = []string{demo.Todo0MCPURL + demo.MCPPath}
	}
	if len(c.DefaultScopes) == 0 {
		c.DefaultScopes = []string{demo.ScopeRead}
	}
	for _, sc := range c.DefaultScopes {
		if !slices.Contains(knownScopes, sc) {
			return fmt.Errorf("todo0: DefaultScopes: %q is not a Todo0 scope (%v)", sc, knownScopes)
		}
	}
	if c.Agent0JWKSURI == "" {
		c.Agent0JWKSURI = demo.Agent0URL + "/.well-known/jwks.json"
	}
	if c.AdminToken == "" {
		c.AdminToken = demo.Todo0AdminToken
	}
	if c.SigningAlg == "" {
		c.SigningAlg = string(jose.ES256)
	}
	for d, v := range map[*time.Duration]time.Duration{&c.AccessTokenTTL: 5 * time.Minute, &c.ClockSkew: 30 * time.Second, &c.MaxIDJAGAge: 10 * time.Minute, &c.IdPJWKSMinRefresh: 10 * time.Second} {
		if *d == 0 {
			*d = v
		}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	u, err := httpx.PublicBase(c.PublicURL)
	if err != nil {
		return fmt.Errorf("todo0: PublicURL %q %v", c.PublicURL, err)
	}
	c.PublicURL = u
	if c.DataDir == "" {
		return errors.New("todo0: DataDir is required")
	}
	return nil
}

// Server is a running Todo0.
type Server struct {
	cfg     Config
	db      *sql.DB
	stmts   *sqlitedb.Stmts // the hot paths' prepared statements
	keys    *keys.Set
	replay  *replay.Store
	clients *clientauth.Authenticator
	idpKeys *jwks.Remote
	rp      *oidcrp.RP
	tmpl    *template.Template
	log     *slog.Logger
	now     func() time.Time
	faults  *faults.Set

	clientKeyCache sync.Map
	clientCache    sync.Map    // id -> client, see client()
	users          userCache   // committed users by (iss, sub), for the redemption
	knownUsers     *knownUsers // user ids the service API has found
}

//go:embed templates/*.html
var templateFS embed.FS

// New opens (or creates and seeds) Todo0's database and keys.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "todo0.db"), migrations)
	if err != nil {
		return nil, err
	}
	ks, err := keys.Open(ctx, db, jose.SignatureAlgorithm(cfg.SigningAlg))
	if err != nil {
		db.Close()
		return nil, err
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{"join": strings.Join, "unix": func(t int64) string {
		return time.Unix(t, 0).Format("2006-01-02 15:04")
	}}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		db.Close()
		return nil, err
	}
	rp, err := oidcrp.New(oidcrp.Config{
		Issuer: cfg.IdPIssuer, ClientID: cfg.IdPClientID, ClientSecret: cfg.IdPClientSecret,
		RedirectURL: cfg.PublicURL + "/callback", CookieName: "todo0_login", HTTPClient: cfg.HTTPClient,
		Scopes: []string{"openid", "profile", "email"},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, db: db, stmts: &sqlitedb.Stmts{DB: db}, keys: ks, replay: &replay.Store{DB: db}, rp: rp, tmpl: tmpl, log: cfg.Logger, now: time.Now, faults: newFaults(),
		knownUsers: newKnownUsers(maxKnownUsers),
		idpKeys: &jwks.Remote{
			Issuer: cfg.IdPIssuer, MetadataURL: strings.TrimSuffix(cfg.IdPIssuer, "/") + "/.well-known/openid-configuration",
			Client: cfg.HTTPClient, MinRefresh: cfg.IdPJWKSMinRefresh,
		},
	}
	s.clients = &clientauth.Authenticator{
		Clients:   registry{s},
		Audiences: []string{cfg.PublicURL, cfg.PublicURL + "/oauth2/token"},
		Replay:    s.replay,
		Skew:      cfg.ClockSkew,
	}
	if err := s.seed(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("todo0: seed: %w", err)
	}
	if prev, err := s.followIdPIssuer(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("todo0: users of the previous IdP URL: %w", err)
	} else if prev != "" {
		s.log.Info("users follow the IdP's new URL", "from", prev, "to", cfg.IdPIssuer)
	}
	return s, nil
}

// Close releases the database.
func (s *Server) Close() error { return errors.Join(s.stmts.Close(), s.db.Close()) }

// Issuer is the authorization server's issuer.
func (s *Server) Issuer() string { return s.cfg.PublicURL }

// Faults is Todo0's fault switchboard (see docs/todo0-faults.md).
func (s *Server) Faults() *faults.Set { return s.faults }

// Handler serves the web app, the API and the authorization server.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	// Authorization server.
	r.HandleFunc("/.well-known/oauth-authorization-server", s.metadata).Methods(http.MethodGet)
	r.Handle("/oauth2/jwks", s.keys).Methods(http.MethodGet)
	r.HandleFunc("/oauth2/token", s.token)
	r.HandleFunc("/oauth2/introspect", s.introspect)
	r.HandleFunc("/ssf/events", s.receiveSET).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/authorize", s.authorizeEndpoint).Methods(http.MethodGet, http.MethodPost)
	// Service API for Todo0 MCP (client credentials of its own).
	api := r.PathPrefix("/api/v1/users/{user}/todos").Subrouter()
	api.HandleFunc("", s.apiListTodos).Methods(http.MethodGet)
	api.HandleFunc("", s.apiCreateTodo).Methods(http.MethodPost)
	api.HandleFunc("/{id:[0-9]+}", s.apiUpdateTodo).Methods(http.MethodPatch)
	api.HandleFunc("/{id:[0-9]+}", s.apiDeleteTodo).Methods(http.MethodDelete)
	api.Use(s.requireService)
	// Web app.
	r.HandleFunc("/", s.home).Methods(http.MethodGet)
	r.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { s.rp.StartLogin(w, r, "/") }).Methods(http.MethodGet)
	r.HandleFunc("/callback", s.callback).Methods(http.MethodGet)
	r.HandleFunc("/logout", s.logout).Methods(http.MethodPost)
	r.HandleFunc("/todos", s.webCreateTodo).Methods(http.MethodPost)
	r.HandleFunc("/todos/{id:[0-9]+}/done", s.webCompleteTodo).Methods(http.MethodPost)
	// Fault injection for SDK authors (admin token required).
	r.Handle("/admin/api/faults", faults.Handler(s.faults, s.cfg.AdminToken))
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such endpoint at Todo0"})
	})
	return httpx.Middleware(s.cfg.PublicURL, s.log, r)
}

// Maintain prunes expired replay records, sessions and grants. A grant
// (the record of an issued access token and of the ID-JAG it was issued
// for) goes once both have expired: then the ID-JAG's exp check refuses it
// anyway. What the page shows of it, the count and time per app, stays in
// grant_apps.
func (s *Server) Maintain(ctx context.Context) error {
	_, err := s.replay.Prune(ctx, s.now().Add(-s.cfg.ClockSkew))
	_, e1 := sqlitedb.Prune(ctx, s.stmts, "sessions", `expires_at < ?`, s.now().Unix())
	_, e2 := sqlitedb.Prune(ctx, s.stmts, "grants", `max(expires_at, id_jag_exp) < ?`, s.now().Add(-s.cfg.ClockSkew).Unix())
	_, e3 := sqlitedb.Prune(ctx, s.stmts, "revoked_access_tokens", `expires_at < ?`, s.now().Add(-s.cfg.ClockSkew).Unix())
	return errors.Join(err, e1, e2, e3)
}

// ---- clients ----

type registry struct{ s *Server }

func (r registry) Client(ctx context.Context, id string) (*clientauth.Client, error) {
	c, err := r.s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return &c.Client, nil
}

type client struct {
	clientauth.Client
	Name, Kind string
}

// client looks a client up. Todo0's clients are written only when the
// server starts (seed), so a client once read is kept for the life of the
// server: each token request and service API call reads it twice (client
// authentication, then its kind).
func (s *Server) client(ctx context.Context, id string) (*client, error) {
	if v, ok := s.clientCache.Load(id); ok {
		c := v.(client)
		return &c, nil
	}
	var c client
	var methods, jwksURI string
	err := s.stmts.QueryRow(ctx, `SELECT id, name, kind, secret_hash, auth_methods, jwks_uri FROM clients WHERE id = ?`, id).
		Scan(&c.ID, &c.Name, &c.Kind, &c.SecretHash, &methods, &jwksURI)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clientauth.ErrUnknownClient
	}
	if err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(methods, &c.Methods); err != nil {
		return nil, err
	}
	if jwksURI != "" {
		v, _ := s.clientKeyCache.LoadOrStore(jwksURI, &jwks.Remote{URL: jwksURI, Client: s.cfg.HTTPClient})
		c.Keys = v.(*jwks.Remote)
	}
	s.clientCache.Store(id, c)
	return &c, nil
}

// agent0Methods are the token endpoint auth methods of agent0-at-todo0.
const agent0Methods = `["client_secret_basic","client_secret_post","private_key_jwt"]`

// wiki0Methods are the token endpoint auth methods of wiki0-at-todo0.
const wiki0Methods = `["client_secret_basic","client_secret_post"]`

// seed registers the demo clients on a fresh database.
func (s *Server) seed(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM clients`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		// Agent0's key location follows the configuration on every start (its
		// URL changes with the sandbox's ports), and a database seeded before
		// Agent0 had private_key_jwt at Todo0 gets it now.
		_, err := s.db.ExecContext(ctx, `UPDATE clients SET jwks_uri = ?, auth_methods = ? WHERE id = ?`,
			s.cfg.Agent0JWKSURI, agent0Methods, demo.Agent0Todo0ClientID)
		if err != nil {
			return err
		}
		// Wiki0, the SAML requesting app, joined the demo world later.
		_, err = s.db.ExecContext(ctx, `INSERT OR IGNORE INTO clients(id, name, kind, secret_hash, auth_methods, jwks_uri) VALUES (?, 'Wiki0', 'requesting_app', ?, ?, '')`,
			demo.Wiki0Todo0ClientID, clientauth.HashSecret(demo.Wiki0Todo0ClientSecret), wiki0Methods)
		return err
	}
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		// Agent0 may authenticate with its secret or, with private_key_jwt,
		// with the keys it publishes at Agent0JWKSURI.
		// Wiki0 (the SAML requesting app) has a secret only.
		_, err := tx.ExecContext(ctx, `INSERT INTO clients(id, name, kind, secret_hash, auth_methods, jwks_uri) VALUES (?, 'Agent0', 'requesting_app', ?, ?, ?), (?, 'Todo0 MCP', 'service', ?, ?, ''), (?, 'Wiki0', 'requesting_app', ?, ?, '')`,
			demo.Agent0Todo0ClientID, clientauth.HashSecret(demo.Agent0Todo0ClientSecret), agent0Methods, s.cfg.Agent0JWKSURI,
			demo.MCPServiceClientID, clientauth.HashSecret(demo.MCPServiceClientSecret), `["client_secret_basic"]`,
			demo.Wiki0Todo0ClientID, clientauth.HashSecret(demo.Wiki0Todo0ClientSecret), wiki0Methods)
		return err
	})
}
