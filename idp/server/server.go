// Package server is the Acme IdP: an OpenID Connect provider for Agent0 and
// Todo0 sign-in, and the token exchange that issues ID-JAGs under the admin's
// managed connections.
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
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// Config configures the IdP. Zero values take the defaults in parentheses.
type Config struct {
	// Issuer is the IdP's public URL and OIDC issuer (demo.IdPURL).
	Issuer string
	// DataDir holds idp.db (required).
	DataDir string
	// SigningAlg signs ID tokens and ID-JAGs: RS256 or ES256 (RS256).
	SigningAlg string

	// The other parties' public URLs, used only to seed the demo world on a
	// fresh database (the demo defaults).
	Agent0URL, Todo0URL, Todo0MCPURL string

	IDTokenTTL      time.Duration // (1h)
	AccessTokenTTL  time.Duration // IdP access tokens for userinfo (1h)
	RefreshTokenTTL time.Duration // (30 days)
	SessionTTL      time.Duration // browser session at the IdP (12h)
	IDJAGTTL        time.Duration // (5m)
	ClockSkew       time.Duration // tolerance when checking tokens (30s)

	// Audit retention: Maintain deletes audit records older than AuditMaxAge
	// (30 days) and the oldest beyond AuditMaxRows (200,000); a negative
	// value keeps everything. Export first (docs/idp-admin.md) to keep more.
	AuditMaxAge  time.Duration
	AuditMaxRows int

	// AdminToken authenticates the admin JSON API as a Bearer token
	// (demo.IdPAdminToken). The console uses admin sign-in instead.
	AdminToken string

	// SharedSignals makes Acme a Shared Signals transmitter (ssf.go): it
	// pushes RISC account-disabled and CAEP session-revoked events to every
	// resource app, so they can end live access tokens at once (off).
	SharedSignals bool
	// HTTPClient pushes the Shared Signals events (a 10s-timeout client).
	HTTPClient *http.Client
	// Quirks are the vendor behaviours switched on (strict when zero).
	Quirks quirks.Set

	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defd := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Issuer, demo.IdPURL)
	def(&c.Agent0URL, demo.Agent0URL)
	def(&c.Todo0URL, demo.Todo0URL)
	def(&c.Todo0MCPURL, demo.Todo0MCPURL)
	def(&c.SigningAlg, string(jose.RS256))
	def(&c.AdminToken, demo.IdPAdminToken)
	defd(&c.IDTokenTTL, time.Hour)
	defd(&c.AccessTokenTTL, time.Hour)
	defd(&c.RefreshTokenTTL, 30*24*time.Hour)
	defd(&c.SessionTTL, 12*time.Hour)
	defd(&c.IDJAGTTL, 5*time.Minute)
	defd(&c.ClockSkew, 30*time.Second)
	defd(&c.AuditMaxAge, 30*24*time.Hour)
	if c.AuditMaxRows == 0 {
		c.AuditMaxRows = 200000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	for name, p := range map[string]*string{"Issuer": &c.Issuer, "Agent0URL": &c.Agent0URL, "Todo0URL": &c.Todo0URL, "Todo0MCPURL": &c.Todo0MCPURL} {
		v, err := httpx.PublicBase(*p)
		if err != nil {
			return fmt.Errorf("idp: %s %q %v", name, *p, err)
		}
		*p = v
	}
	if c.DataDir == "" {
		return errors.New("idp: DataDir is required")
	}
	return nil
}

// Server is a running IdP.
type Server struct {
	cfg     Config
	db      *sql.DB
	stmts   *sqlitedb.Stmts // the hot paths' prepared statements
	keys    *keys.Set
	samlKey *samlKey // XML-DSig key for SAML assertions (saml.go)
	replay  *replay.Store
	clients *clientauth.Authenticator
	tmpl    *template.Template
	log     *slog.Logger
	now     func() time.Time
	faults  *faults.Set
	// failures aggregates failed-authentication audit records.
	failures failureAggregator

	policy policyCache // clients, apps and connections, until an admin change
	// clientKeyCache holds one remote JWKS per registered client jwks_uri.
	clientKeyCache sync.Map
}

//go:embed templates/*.html
var templateFS embed.FS

// New opens (or creates and seeds) the IdP's database and keys.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "idp.db"), migrations)
	if err != nil {
		return nil, err
	}
	ks, err := keys.Open(ctx, db, jose.SignatureAlgorithm(cfg.SigningAlg))
	if err != nil {
		db.Close()
		return nil, err
	}
	tmpl, err := template.New("").Funcs(templateFuncs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, stmts: &sqlitedb.Stmts{DB: db}, keys: ks, replay: &replay.Store{DB: db}, tmpl: tmpl, log: cfg.Logger, now: time.Now, faults: newFaultSet()}
	if s.samlKey, err = openSAMLKey(ctx, db, cfg.Issuer, s.now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("idp: %w", err)
	}
	s.clients = &clientauth.Authenticator{
		Clients:   registry{s},
		Audiences: []string{cfg.Issuer, cfg.Issuer + "/oauth2/token"},
		Replay:    s.replay,
		Skew:      cfg.ClockSkew,
	}
	if err := s.seed(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("idp: seed: %w", err)
	}
	changed, err := s.reconcileSeededURLs(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("idp: seeded URLs: %w", err)
	}
	for _, c := range changed {
		s.log.Info("seeded demo world follows the configured URL", "change", c)
	}
	return s, nil
}

// Close releases the database.
func (s *Server) Close() error { return errors.Join(s.stmts.Close(), s.db.Close()) }

// Issuer is the IdP's issuer URL.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Keys is the IdP's signing key set.
func (s *Server) Keys() *keys.Set { return s.keys }

// Handler serves every IdP endpoint.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/.well-known/openid-configuration", s.discovery).Methods(http.MethodGet)
	r.HandleFunc("/.well-known/oauth-authorization-server", s.discovery).Methods(http.MethodGet)
	r.Handle("/oauth2/jwks", s.keys).Methods(http.MethodGet)
	r.HandleFunc("/oauth2/authorize", s.authorize).Methods(http.MethodGet)
	r.HandleFunc("/login", s.login).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/token", s.token)
	r.HandleFunc("/oauth2/userinfo", s.userinfo).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/logout", s.endSession).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/saml/metadata", s.samlMetadata).Methods(http.MethodGet)
	r.HandleFunc("/saml/sso", s.samlSSO).Methods(http.MethodGet)
	r.HandleFunc("/saml/sso", s.samlLogin).Methods(http.MethodPost)
	r.HandleFunc("/", s.home).Methods(http.MethodGet)
	s.adminAPIRoutes(r.PathPrefix("/admin/api").Subrouter())
	s.consoleRoutes(r)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return httpx.Middleware(s.cfg.Issuer, s.log, r)
}
