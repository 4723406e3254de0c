// Package server is Agent0, the requesting app: it signs users in with Acme
// SSO and then reaches Todo0 MCP for them through Cross App Access (token
// exchange at the IdP for an ID-JAG, jwt-bearer at the Todo0 AS), with no
// consent screen and no second sign-in.
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
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oidcrp"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// Config configures Agent0. Zero values take the defaults in parentheses.
type Config struct {
	PublicURL string // (demo.Agent0URL)
	DataDir   string // holds agent0.db (required)

	IdPIssuer                    string // (demo.IdPURL)
	IdPClientID, IdPClientSecret string // Agent0's client at the IdP (demo)
	// MCPURL is the Todo0 MCP endpoint, which is also its resource id
	// (demo.Todo0MCPURL + "/mcp"). Its authorization server is discovered.
	MCPURL string
	// Todo0ClientID and Todo0ClientSecret are Agent0's client at the Todo0 AS:
	// another id than at the IdP (demo.Agent0Todo0ClientID).
	Todo0ClientID, Todo0ClientSecret string
	// Scopes requested for Todo0 (todos.read todos.write).
	Scopes []string
	// RetryRefusedAfter is how long a refusal by the IdP or the AS stops
	// every call for the user (1m). The first request after it asks again,
	// so an administrator's reactivation takes effect without anyone
	// touching Agent0; Reconnect asks at once. Negative: only Reconnect.
	RetryRefusedAfter time.Duration
	// DPoP makes Agent0 prove possession of a key (RFC 9449) at the token
	// exchange, at the AS and at Todo0 MCP, so its ID-JAGs and access tokens
	// are bound to it. Off by default: the Go MCP SDK's client has no DPoP.
	DPoP       bool
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (c *Config) setDefaults() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.PublicURL, demo.Agent0URL)
	def(&c.IdPIssuer, demo.IdPURL)
	def(&c.MCPURL, demo.Todo0MCPURL+demo.MCPPath)
	if c.IdPClientID == "" {
		c.IdPClientID, c.IdPClientSecret = demo.Agent0IdPClientID, demo.Agent0IdPClientSecret
	}
	if c.Todo0ClientID == "" {
		c.Todo0ClientID, c.Todo0ClientSecret = demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret
	}
	if c.RetryRefusedAfter == 0 {
		c.RetryRefusedAfter = time.Minute
	}
	if len(c.Scopes) == 0 {
		c.Scopes = demo.Todo0Scopes
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	// Requests made with a context that carries a session's recorder (the
	// ID token refresh, say) appear in that session's flow inspector.
	hc := *c.HTTPClient
	hc.Transport = &recordingTransport{base: c.HTTPClient.Transport}
	c.HTTPClient = &hc
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	u, err := httpx.PublicBase(c.PublicURL)
	if err != nil {
		return fmt.Errorf("agent0: PublicURL %q %v", c.PublicURL, err)
	}
	c.PublicURL = u
	if c.DataDir == "" {
		return errors.New("agent0: DataDir is required")
	}
	return nil
}

var migrations = []string{
	keys.Migration,
	`CREATE TABLE sessions (
		id            TEXT PRIMARY KEY,      -- internal id, keys the in-memory MCP connection
		cookie_hash   BLOB NOT NULL UNIQUE,
		sub           TEXT NOT NULL,
		name          TEXT NOT NULL,
		email         TEXT NOT NULL,
		id_token      TEXT NOT NULL,          -- the subject token for token exchange
		id_token_exp  INTEGER NOT NULL,
		refresh_token TEXT NOT NULL DEFAULT '', -- IdP refresh token, to renew the ID token
		csrf          TEXT NOT NULL,
		created_at    INTEGER NOT NULL,
		expires_at    INTEGER NOT NULL
	);`,
}

// Server is a running Agent0.
type Server struct {
	cfg  Config
	db   *sql.DB
	keys *keys.Set
	rp   *oidcrp.RP
	tmpl *template.Template
	log  *slog.Logger
	now  func() time.Time

	mu    sync.Mutex
	conns map[string]*connection // by session id
	asURL string                 // Todo0's discovered authorization server
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New opens Agent0's database and keys.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "agent0.db"), migrations)
	if err != nil {
		return nil, err
	}
	ks, err := keys.Open(ctx, db, jose.ES256)
	if err != nil {
		db.Close()
		return nil, err
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{"join": strings.Join, "until": func(t time.Time) string { return until(t, time.Now()) }, "expired": func(t time.Time) bool { return !time.Now().Before(t) }}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		db.Close()
		return nil, err
	}
	rp, err := oidcrp.New(oidcrp.Config{
		Issuer: cfg.IdPIssuer, ClientID: cfg.IdPClientID, ClientSecret: cfg.IdPClientSecret,
		RedirectURL: cfg.PublicURL + "/callback", CookieName: "agent0_login", HTTPClient: cfg.HTTPClient,
		Scopes: []string{"openid", "profile", "email", "offline_access"},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Server{cfg: cfg, db: db, keys: ks, rp: rp, tmpl: tmpl, log: cfg.Logger, now: time.Now, conns: map[string]*connection{}}, nil
}

// until says how long until t, for pages rendered without JavaScript.
func until(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	if d >= time.Minute {
		return fmt.Sprintf("in %dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("in %ds", int(d.Seconds()))
}

// Close ends MCP sessions and releases the database.
func (s *Server) Close() error {
	s.mu.Lock()
	conns := s.conns
	s.conns = map[string]*connection{}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return s.db.Close()
}

// Maintain forgets expired sessions, and with them what Agent0 holds in
// memory for each (the flow inspector record, the chat, the MCP session).
func (s *Server) Maintain(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, s.now().Unix()); err != nil {
		return err
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.conns))
	for id := range s.conns {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			s.forget(id)
		}
	}
	return nil
}

// Handler serves Agent0's pages.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/", s.home).Methods(http.MethodGet)
	r.HandleFunc("/login", s.login).Methods(http.MethodGet)
	r.HandleFunc("/callback", s.callback).Methods(http.MethodGet)
	r.HandleFunc("/logout", s.logout).Methods(http.MethodPost)
	r.HandleFunc("/chat", s.chat).Methods(http.MethodPost)
	r.HandleFunc("/inspector", s.inspector).Methods(http.MethodGet)
	r.PathPrefix("/static/").Handler(http.FileServerFS(staticFS)).Methods(http.MethodGet)
	r.HandleFunc("/todos", s.addTodo).Methods(http.MethodPost)
	r.HandleFunc("/todos/{id:[0-9]+}/done", s.completeTodo).Methods(http.MethodPost)
	r.HandleFunc("/reconnect", s.reconnect).Methods(http.MethodPost)
	// Agent0's public keys, for private_key_jwt client authentication at the IdP.
	r.Handle("/.well-known/jwks.json", s.keys).Methods(http.MethodGet)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return httpx.Middleware(s.cfg.PublicURL, s.log, r)
}
