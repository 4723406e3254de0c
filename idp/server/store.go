package server

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// ---- random values and hashes ----

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// Passwords: PBKDF2-SHA256 (stdlib). The iteration count is modest because
// these are sandbox accounts and tests sign in often; the format carries it,
// so it can be raised without breaking stored hashes.
const pbkdf2Iterations = 100_000

func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	dk, err := pbkdf2.Key(sha256.New, pw, salt, pbkdf2Iterations, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iterations, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(dk)), nil
}

// dummyHash keeps a login for an unknown user as slow as one for a known user.
var dummyHash, _ = hashPassword("not a real password")

func checkPassword(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	var iter int
	if _, err := fmt.Sscan(parts[1], &iter); err != nil || iter < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// ---- users ----

type user struct {
	ID, Username, Name, Email, PasswordHash string
	Active, Admin                           bool
}

var errNotFound = errors.New("not found")

func (s *Server) userBy(ctx context.Context, col, v string) (*user, error) {
	var u user
	err := s.stmts.QueryRow(ctx, `SELECT id, username, name, email, password_hash, active, is_admin FROM users WHERE `+col+` = ?`, v).
		Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.PasswordHash, &u.Active, &u.Admin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return &u, err
}

func (s *Server) assigned(ctx context.Context, userID, appID string) (bool, error) {
	var n int
	// Directly, or through a group the user belongs to.
	err := s.stmts.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM assignments WHERE user_id = ?1 AND app_id = ?2) +
		(SELECT COUNT(*) FROM group_assignments ga JOIN group_members gm ON gm.group_id = ga.group_id WHERE gm.user_id = ?1 AND ga.app_id = ?2)`, userID, appID).Scan(&n)
	return n > 0, err
}

// userWithAssignments reads the user by id and whether it is assigned to
// each of two apps (as assigned says), in one statement: the token
// exchange checks all three, and a statement costs more than its lookups.
func (s *Server) userWithAssignments(ctx context.Context, id, appA, appB string) (*user, [2]bool, error) {
	var u user
	var in [2]bool
	err := s.stmts.QueryRow(ctx, `SELECT id, username, name, email, password_hash, active, is_admin,
		(SELECT COUNT(*) FROM assignments WHERE user_id = ?1 AND app_id = ?2) +
		(SELECT COUNT(*) FROM group_assignments ga JOIN group_members gm ON gm.group_id = ga.group_id WHERE gm.user_id = ?1 AND ga.app_id = ?2) > 0,
		(SELECT COUNT(*) FROM assignments WHERE user_id = ?1 AND app_id = ?3) +
		(SELECT COUNT(*) FROM group_assignments ga JOIN group_members gm ON gm.group_id = ga.group_id WHERE gm.user_id = ?1 AND ga.app_id = ?3) > 0
		FROM users WHERE id = ?1`, id, appA, appB).
		Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.PasswordHash, &u.Active, &u.Admin, &in[0], &in[1])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, in, errNotFound
	}
	return &u, in, err
}

func (s *Server) inGroup(ctx context.Context, userID, groupID string) (bool, error) {
	var n int
	err := s.stmts.QueryRow(ctx, `SELECT COUNT(*) FROM group_members WHERE user_id = ? AND group_id = ?`, userID, groupID).Scan(&n)
	return n > 0, err
}

// ---- clients ----

type client struct {
	ID, AppID, Name string
	SecretHash      []byte
	AuthMethods     []string
	GrantTypes      []string
	RedirectURIs    []string
	JWKSURI         string
}

func (s *Server) client(ctx context.Context, id string) (*client, error) {
	if c, ok := cacheGet(&s.policy, func() map[string]client { return s.policy.clients }, id); ok {
		return &c, nil
	}
	gen := s.policy.generation()
	var c client
	var methods, grants, redirects string
	err := s.stmts.QueryRow(ctx, `SELECT id, app_id, name, secret_hash, auth_methods, grant_types, redirect_uris, jwks_uri FROM clients WHERE id = ?`, id).
		Scan(&c.ID, &c.AppID, &c.Name, &c.SecretHash, &methods, &grants, &redirects, &c.JWKSURI)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(methods), &c.AuthMethods), json.Unmarshal([]byte(grants), &c.GrantTypes), json.Unmarshal([]byte(redirects), &c.RedirectURIs)); err != nil {
		return nil, fmt.Errorf("client %s: corrupt row: %w", id, err)
	}
	cachePut(&s.policy, gen, func() *map[string]client { return &s.policy.clients }, id, c)
	return &c, nil
}

// registry adapts the clients table to clientauth.
type registry struct{ s *Server }

func (r registry) Client(ctx context.Context, id string) (*clientauth.Client, error) {
	c, err := r.s.client(ctx, id)
	if errors.Is(err, errNotFound) {
		return nil, clientauth.ErrUnknownClient
	}
	if err != nil {
		return nil, err
	}
	ac := &clientauth.Client{ID: c.ID, SecretHash: c.SecretHash, Methods: c.AuthMethods}
	if c.JWKSURI != "" {
		ac.Keys = r.s.clientKeys(c.JWKSURI)
	}
	return ac, nil
}

// clientKeys caches one remote key set per registered jwks_uri.
func (s *Server) clientKeys(uri string) *jwks.Remote {
	v, _ := s.clientKeyCache.LoadOrStore(uri, &jwks.Remote{URL: uri})
	return v.(*jwks.Remote)
}

// ---- apps and managed connections ----

type app struct {
	ID, Name, Audience string
	Resources, Scopes  []string
}

func (s *Server) appByAudience(ctx context.Context, aud string) (*app, error) {
	if a, ok := cacheGet(&s.policy, func() map[string]app { return s.policy.apps }, aud); ok {
		return &a, nil
	}
	gen := s.policy.generation()
	var a app
	var res, sc string
	err := s.stmts.QueryRow(ctx, `SELECT id, name, audience, resources, scopes FROM apps WHERE audience = ?`, aud).Scan(&a.ID, &a.Name, &a.Audience, &res, &sc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(res), &a.Resources), json.Unmarshal([]byte(sc), &a.Scopes)); err != nil {
		return nil, err
	}
	cachePut(&s.policy, gen, func() *map[string]app { return &s.policy.apps }, aud, a)
	return &a, nil
}

type connection struct {
	ID, ClientID, ResourceAppID, ResourceClientID string
	GroupID                                       string // '' = every assigned user
	Resources, Scopes                             []string
	IncludeEmail, Enabled                         bool
	// AuthorizationDetails are the RFC 9396 details the connection allows.
	AuthorizationDetails []rar.Allowed
	// MaxAuthAge is how old the user's sign-in may be (0: any).
	MaxAuthAge int64
}

func (s *Server) connection(ctx context.Context, clientID, appID string) (*connection, error) {
	key := [2]string{clientID, appID}
	if c, ok := cacheGet(&s.policy, func() map[[2]string]connection { return s.policy.conns }, key); ok {
		return &c, nil
	}
	gen := s.policy.generation()
	var c connection
	var res, sc, ad string
	err := s.stmts.QueryRow(ctx, `SELECT id, client_id, resource_app_id, resource_client_id, resources, scopes, include_email, enabled, group_id, authorization_details, max_auth_age FROM managed_connections WHERE client_id = ? AND resource_app_id = ?`, clientID, appID).
		Scan(&c.ID, &c.ClientID, &c.ResourceAppID, &c.ResourceClientID, &res, &sc, &c.IncludeEmail, &c.Enabled, &c.GroupID, &ad, &c.MaxAuthAge)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(res), &c.Resources), json.Unmarshal([]byte(sc), &c.Scopes), json.Unmarshal([]byte(ad), &c.AuthorizationDetails)); err != nil {
		return nil, err
	}
	cachePut(&s.policy, gen, func() *map[[2]string]connection { return &s.policy.conns }, key, c)
	return &c, nil
}

// ---- audit ----

type auditRecord struct {
	Event, Outcome, ClientID, UserID, Error, Reason, Rule string
	AppID                                                 string // the resource app concerned, if any
	Detail                                                map[string]any
}

// audit writes one record. A failure to audit is logged, not hidden: the
// decision it records has already been made.
//
// Failed authentications, which anyone can cause, are aggregated beyond a
// burst per minute (audit_limit.go).
func (s *Server) audit(ctx context.Context, r auditRecord) {
	if isFailedAuth(r) {
		ok, summary := s.failures.admit(r.Event, s.now())
		if summary != nil {
			s.audit(ctx, *summary)
		}
		if !ok {
			return
		}
	}
	if err := s.writeAudit(ctx, r); err != nil {
		s.log.Error("audit write failed", "event", r.Event, "err", err)
	}
}

// writeAudit inserts one audit record and reports failure, for decisions
// that must not take effect unrecorded (a granted ID-JAG).
func (s *Server) writeAudit(ctx context.Context, r auditRecord) error {
	r = capRecord(r)
	detail, _ := json.Marshal(r.Detail)
	if r.Detail == nil {
		detail = []byte("{}")
	}
	_, err := s.stmts.Exec(ctx, `INSERT INTO audit(at, event, outcome, client_id, user_id, error, reason, rule, detail, app_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.now().Unix(), r.Event, r.Outcome, r.ClientID, r.UserID, r.Error, r.Reason, r.Rule, string(detail), r.AppID)
	return err
}

// ---- the seeded demo world ----

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// seed creates the demo world on a fresh database. It runs only when the
// users table is empty, so an admin's later changes survive restarts.
func (s *Server) seed(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return err
	}
	cfg := s.cfg
	mcpResource := cfg.Todo0MCPURL + demo.MCPPath
	if n > 0 {
		return s.seedAdditions(ctx, mcpResource)
	}
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		now := s.now().Unix()
		exec := func(q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}
		for _, u := range demo.Users {
			h, err := hashPassword(u.Password)
			if err != nil {
				return err
			}
			if err := exec(`INSERT INTO users(id, username, name, email, password_hash, active, is_admin, created_at) VALUES (?,?,?,?,?,?,?,?)`,
				u.ID, u.Username, u.Name, u.Email, h, u.Active, u.Admin, now); err != nil {
				return err
			}
		}
		if err := exec(`INSERT INTO apps(id, name, audience, resources, scopes) VALUES (?, 'Agent0', NULL, '[]', '[]')`, demo.AppAgent0); err != nil {
			return err
		}
		if err := exec(`INSERT INTO apps(id, name, audience, resources, scopes) VALUES (?, 'Todo0', ?, ?, ?)`,
			demo.AppTodo0, cfg.Todo0URL, mustJSON([]string{mcpResource}), mustJSON(demo.Todo0Scopes)); err != nil {
			return err
		}
		if err := exec(`INSERT INTO apps(id, name, audience, resources, scopes) VALUES (?, 'Wiki0', NULL, '[]', '[]')`, demo.AppWiki0); err != nil {
			return err
		}
		for _, u := range demo.Users {
			for _, a := range u.Apps {
				if err := exec(`INSERT INTO assignments(user_id, app_id) VALUES (?, ?)`, u.ID, a); err != nil {
					return err
				}
			}
		}
		codeGrants := []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
		if err := exec(`INSERT INTO clients(id, app_id, name, secret_hash, auth_methods, grant_types, redirect_uris, jwks_uri) VALUES (?,?,?,?,?,?,?,?)`,
			demo.Agent0IdPClientID, demo.AppAgent0, "Agent0", clientauth.HashSecret(demo.Agent0IdPClientSecret),
			mustJSON(clientauth.Methods), mustJSON(append(codeGrants, oauth.GrantTypeTokenExchange)),
			mustJSON([]string{cfg.Agent0URL + "/callback"}), cfg.Agent0URL+"/.well-known/jwks.json"); err != nil {
			return err
		}
		if err := exec(`INSERT INTO clients(id, app_id, name, secret_hash, auth_methods, grant_types, redirect_uris, jwks_uri) VALUES (?,?,?,?,?,?,?,'')`,
			demo.Todo0IdPClientID, demo.AppTodo0, "Todo0", clientauth.HashSecret(demo.Todo0IdPClientSecret),
			mustJSON([]string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost}), mustJSON(codeGrants),
			mustJSON([]string{cfg.Todo0URL + "/callback"})); err != nil {
			return err
		}
		if err := exec(`INSERT INTO managed_connections(id, client_id, resource_app_id, resources, scopes, resource_client_id, include_email, enabled, authorization_details) VALUES (?,?,?,?,?,?,1,1,?)`,
			"mc_agent0_todo0", demo.Agent0IdPClientID, demo.AppTodo0, mustJSON([]string{mcpResource}), mustJSON(demo.Todo0Scopes), demo.Agent0Todo0ClientID,
			mustJSON([]rar.Allowed{{Type: demo.Todo0TodosDetailType, Actions: demo.Agent0Todo0DetailActions}})); err != nil {
			return err
		}
		if err := seedWiki0(ctx, tx, mcpResource); err != nil {
			return err
		}
		return exec(`INSERT INTO seed_additions(name) VALUES (?)`, seedAdditionWiki0)
	})
}

// seedAdditionWiki0 names Wiki0, the SAML requesting app, among the
// seed additions: it joined the demo world after the first release.
const seedAdditionWiki0 = "wiki0"

// seedAdditions brings an older demo world up to date, once per addition:
// a data directory made before Wiki0 existed gets Wiki0 (its app, client,
// SAML registration, connection and the demo users' assignments), unless
// an administrator already made something with its names.
func (s *Server) seedAdditions(ctx context.Context, mcpResource string) error {
	added := false
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO seed_additions(name) VALUES (?) ON CONFLICT DO NOTHING`, seedAdditionWiki0)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // added before (and perhaps deleted since)
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM apps WHERE id = ?) + (SELECT COUNT(*) FROM clients WHERE id = ?) + (SELECT COUNT(*) FROM managed_connections WHERE id = ?)`,
			demo.AppWiki0, demo.Wiki0IdPClientID, "mc_wiki0_todo0").Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps(id, name, audience, resources, scopes) VALUES (?, 'Wiki0', NULL, '[]', '[]')`, demo.AppWiki0); err != nil {
			return err
		}
		for _, u := range demo.Users {
			if !slices.Contains(u.Apps, demo.AppWiki0) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO assignments(user_id, app_id) SELECT id, ? FROM users WHERE id = ?`, demo.AppWiki0, u.ID); err != nil {
				return err
			}
		}
		added = true
		return seedWiki0(ctx, tx, mcpResource)
	})
	if added {
		s.log.Info("the demo world of this older data directory now has Wiki0, the SAML requesting app (docs/saml.md)")
	}
	return err
}
