package server

// The admin service layer: every operation an enterprise admin can perform,
// used by both the JSON admin API (admin_api.go) and the server-rendered
// console (console.go), so the two cannot drift apart. Every change is
// written to the audit log with the actor that made it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// notFound is a 404 in the one error shape.
func notFound(format string, args ...any) *oauth.Error {
	return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: fmt.Sprintf(format, args...), Status: http.StatusNotFound}
}

// conflict is a 409 in the one error shape.
func conflict(format string, args ...any) *oauth.Error {
	return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: fmt.Sprintf(format, args...), Status: http.StatusConflict}
}

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	idRe   = nameRe
)

// adminChange records an admin change in the audit log.
func (s *Server) adminChange(ctx context.Context, actor, op string, rec auditRecord, detail map[string]any) {
	s.policy.invalidate() // the change is written; token requests read it from now on
	if detail == nil {
		detail = map[string]any{}
	}
	detail["actor"] = actor
	rec.Event, rec.Outcome, rec.Detail = "admin."+op, "ok", detail
	s.audit(ctx, rec)
}

func decodeList(raw string) []string {
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	if out == nil {
		out = []string{}
	}
	return out
}

func absoluteURI(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.IsAbs() && u.Host != "" && u.Fragment == "" && (u.Scheme == "http" || u.Scheme == "https")
}

// ---- users ----

// UserView is a user as the admin sees it (never the password hash).
type UserView struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	Name      string   `json:"name"`
	Email     string   `json:"email"`
	Active    bool     `json:"active"`
	Admin     bool     `json:"is_admin"`
	CreatedAt int64    `json:"created_at"`
	Groups    []string `json:"groups"`
	Apps      []string `json:"apps"` // directly assigned apps
}

// UserInput creates a user (all but is_admin required) or edits one (only
// the fields sent change).
type UserInput struct {
	Username *string `json:"username,omitempty"`
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	Password *string `json:"password,omitempty"`
	Admin    *bool   `json:"is_admin,omitempty"`
}

// ListUsers returns up to limit users whose username sorts after the given
// one, by username, and the username to continue after ("" on the last
// page). One query per page, read from the username index, whatever the
// number of users.
func (s *Server) ListUsers(ctx context.Context, after string, limit int) ([]UserView, string, error) {
	limit, err := pageLimit(limit)
	if err == nil {
		err = checkAfter(after)
	}
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT u.id, u.username, u.name, u.email, u.active, u.is_admin, u.created_at,
		(SELECT json_group_array(group_id) FROM (SELECT group_id FROM group_members WHERE user_id = u.id ORDER BY group_id)),
		(SELECT json_group_array(app_id) FROM (SELECT app_id FROM assignments WHERE user_id = u.id ORDER BY app_id))
		FROM users u WHERE u.username > ? ORDER BY u.username LIMIT ?`, after, limit+1)
	if err != nil {
		return nil, "", oauth.ServerError(err)
	}
	defer rows.Close()
	out := []UserView{}
	for rows.Next() {
		var u UserView
		var groups, apps string
		if err := rows.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.Active, &u.Admin, &u.CreatedAt, &groups, &apps); err != nil {
			return nil, "", oauth.ServerError(err)
		}
		if err := errors.Join(json.Unmarshal([]byte(groups), &u.Groups), json.Unmarshal([]byte(apps), &u.Apps)); err != nil {
			return nil, "", oauth.ServerError(err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", oauth.ServerError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Username
	}
	return out, next, nil
}

func (s *Server) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Server) GetUser(ctx context.Context, id string) (*UserView, error) {
	var u UserView
	err := s.db.QueryRowContext(ctx, `SELECT id, username, name, email, active, is_admin, created_at FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.Active, &u.Admin, &u.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no user %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if u.Groups, err = s.strings(ctx, `SELECT group_id FROM group_members WHERE user_id = ? ORDER BY group_id`, id); err != nil {
		return nil, oauth.ServerError(err)
	}
	if u.Apps, err = s.strings(ctx, `SELECT app_id FROM assignments WHERE user_id = ? ORDER BY app_id`, id); err != nil {
		return nil, oauth.ServerError(err)
	}
	return &u, nil
}

func validateUser(in UserInput, create bool) error {
	if create && (in.Username == nil || in.Name == nil || in.Email == nil || in.Password == nil) {
		return oauth.InvalidRequest("username, name, email and password are required")
	}
	if in.Username != nil && !nameRe.MatchString(*in.Username) {
		return oauth.InvalidRequest("username must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
	}
	if in.Name != nil && (strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 200) {
		return oauth.InvalidRequest("name must be 1-200 characters")
	}
	if in.Email != nil {
		local, domain, ok := strings.Cut(*in.Email, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(*in.Email, " <>\"") || len(*in.Email) > 254 {
			return oauth.InvalidRequest("email %q is not an email address", *in.Email)
		}
	}
	if in.Password != nil && (len(*in.Password) < 8 || len(*in.Password) > 256) {
		return oauth.InvalidRequest("password must be 8-256 characters")
	}
	return nil
}

func (s *Server) CreateUser(ctx context.Context, actor string, in UserInput) (*UserView, error) {
	if err := validateUser(in, true); err != nil {
		return nil, err
	}
	h, err := hashPassword(*in.Password)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	id := "00u_" + randomToken()[:16]
	admin := in.Admin != nil && *in.Admin
	_, err = s.stmts.Exec(ctx, `INSERT INTO users(id, username, name, email, password_hash, active, is_admin, created_at) VALUES (?,?,?,?,?,1,?,?)`,
		id, *in.Username, strings.TrimSpace(*in.Name), *in.Email, h, admin, s.now().Unix())
	if err != nil {
		if isUnique(err) {
			return nil, conflict("username %q is taken", *in.Username)
		}
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "user.create", auditRecord{UserID: id}, map[string]any{"username": *in.Username, "is_admin": admin})
	return s.GetUser(ctx, id)
}

func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint") || strings.Contains(err.Error(), "PRIMARY KEY"))
}

func (s *Server) UpdateUser(ctx context.Context, actor, id string, in UserInput) (*UserView, error) {
	if err := validateUser(in, false); err != nil {
		return nil, err
	}
	if _, err := s.GetUser(ctx, id); err != nil {
		return nil, err
	}
	changed := []string{}
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		set := func(col string, v any) error {
			changed = append(changed, col)
			_, err := tx.ExecContext(ctx, `UPDATE users SET `+col+` = ? WHERE id = ?`, v, id)
			return err
		}
		var err error
		if in.Username != nil {
			err = errors.Join(err, set("username", *in.Username))
		}
		if in.Name != nil {
			err = errors.Join(err, set("name", strings.TrimSpace(*in.Name)))
		}
		if in.Email != nil {
			err = errors.Join(err, set("email", *in.Email))
		}
		if in.Admin != nil {
			err = errors.Join(err, set("is_admin", *in.Admin))
		}
		if in.Password != nil {
			h, herr := hashPassword(*in.Password)
			err = errors.Join(err, herr, set("password_hash", h))
		}
		return err
	})
	if isUnique(err) {
		return nil, conflict("username %q is taken", *in.Username)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "user.update", auditRecord{UserID: id}, map[string]any{"fields": changed})
	return s.GetUser(ctx, id)
}

// SetUserActive deactivates or reactivates a user. Deactivation does not end
// sessions: the user is refused at every sign-in, refresh and exchange
// (access_denied), and reactivation restores access without the apps doing
// anything. Revoke sessions separately to force a new sign-in.
func (s *Server) SetUserActive(ctx context.Context, actor, id string, active bool) (*UserView, error) {
	res, err := s.stmts.Exec(ctx, `UPDATE users SET active = ? WHERE id = ?`, active, id)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, notFound("no user %q", id)
	}
	op := "user.deactivate"
	if active {
		op = "user.reactivate"
	}
	s.adminChange(ctx, actor, op, auditRecord{UserID: id}, nil)
	if !active {
		s.signalUser(ctx, EventAccountDisabled, id, "admin", "deactivated by the administrator")
	}
	return s.GetUser(ctx, id)
}

// ---- groups ----

// GroupView is a group. Members is the first page of its members' user ids;
// MembersNext, when set, is the admin API path of the next page
// (GET /groups/{id}/members?after=...), so a large group is never cut short
// without saying so.
type GroupView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Members     []string `json:"members"` // user ids, the first page
	MembersNext string   `json:"members_next,omitempty"`
	Apps        []string `json:"apps"` // apps the group is assigned to
}

func (s *Server) ListGroups(ctx context.Context) ([]GroupView, error) {
	ids, err := s.strings(ctx, `SELECT id FROM groups ORDER BY name`)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	out := []GroupView{}
	for _, id := range ids {
		g, err := s.GetGroup(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, nil
}

func (s *Server) GetGroup(ctx context.Context, id string) (*GroupView, error) {
	var g GroupView
	err := s.db.QueryRowContext(ctx, `SELECT id, name FROM groups WHERE id = ?`, id).Scan(&g.ID, &g.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no group %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if g.Members, g.MembersNext, err = s.firstIDs(ctx, groupMemberIDs, id, "/admin/api/groups/"+url.PathEscape(id)+"/members"); err != nil {
		return nil, oauth.ServerError(err)
	}
	if g.Apps, err = s.strings(ctx, `SELECT app_id FROM group_assignments WHERE group_id = ? ORDER BY app_id`, id); err != nil {
		return nil, oauth.ServerError(err)
	}
	return &g, nil
}

// GroupInput creates a group; the id is the name.
type GroupInput struct {
	Name string `json:"name"`
}

func (s *Server) CreateGroup(ctx context.Context, actor string, in GroupInput) (*GroupView, error) {
	if !nameRe.MatchString(in.Name) {
		return nil, oauth.InvalidRequest("group name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
	}
	_, err := s.stmts.Exec(ctx, `INSERT INTO groups(id, name, created_at) VALUES (?, ?, ?)`, in.Name, in.Name, s.now().Unix())
	if isUnique(err) {
		return nil, conflict("group %q exists", in.Name)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "group.create", auditRecord{}, map[string]any{"group": in.Name})
	return s.GetGroup(ctx, in.Name)
}

func (s *Server) SetGroupMember(ctx context.Context, actor, groupID, userID string, member bool) (*GroupView, error) {
	if _, err := s.GetGroup(ctx, groupID); err != nil {
		return nil, err
	}
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	q, op := `INSERT INTO group_members(group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, "group.add_member"
	if !member {
		q, op = `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, "group.remove_member"
	}
	if _, err := s.stmts.Exec(ctx, q, groupID, userID); err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, op, auditRecord{UserID: userID}, map[string]any{"group": groupID})
	return s.GetGroup(ctx, groupID)
}

// ---- apps and assignments ----

// AppView is an application: a requesting app (no audience), a resource app
// (audience = its authorization server's issuer, with the resources it
// serves and the scopes it knows), or both.
type AppView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Audience  string   `json:"audience,omitempty"`
	Resources []string `json:"resources"`
	Scopes    []string `json:"scopes"`
	Users     []string `json:"assigned_users"` // user ids, the first page
	// UsersNext, when set, is the admin API path of the next page of
	// assigned users (GET /apps/{id}/assignments/users?after=...).
	UsersNext string   `json:"assigned_users_next,omitempty"`
	Groups    []string `json:"assigned_groups"`
	Clients   []string `json:"clients"`
}

// Kind is "resource" for an app with an audience, else "requesting".
func (a AppView) Kind() string {
	if a.Audience != "" {
		return "resource"
	}
	return "requesting"
}

type AppInput struct {
	ID        string    `json:"id,omitempty"` // create only; generated when empty
	Name      *string   `json:"name,omitempty"`
	Audience  *string   `json:"audience,omitempty"`
	Resources *[]string `json:"resources,omitempty"`
	Scopes    *[]string `json:"scopes,omitempty"`
}

func (s *Server) ListApps(ctx context.Context) ([]AppView, error) {
	ids, err := s.strings(ctx, `SELECT id FROM apps ORDER BY name`)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	out := []AppView{}
	for _, id := range ids {
		a, err := s.GetApp(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, nil
}

func (s *Server) GetApp(ctx context.Context, id string) (*AppView, error) {
	var a AppView
	var aud sql.NullString
	var res, sc string
	err := s.db.QueryRowContext(ctx, `SELECT id, name, audience, resources, scopes FROM apps WHERE id = ?`, id).Scan(&a.ID, &a.Name, &aud, &res, &sc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no app %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	a.Audience, a.Resources, a.Scopes = aud.String, decodeList(res), decodeList(sc)
	var e1, e2, e3 error
	a.Users, a.UsersNext, e1 = s.firstIDs(ctx, appUserIDs, id, "/admin/api/apps/"+url.PathEscape(id)+"/assignments/users")
	a.Groups, e2 = s.strings(ctx, `SELECT group_id FROM group_assignments WHERE app_id = ? ORDER BY group_id`, id)
	a.Clients, e3 = s.strings(ctx, `SELECT id FROM clients WHERE app_id = ? ORDER BY id`, id)
	if err := errors.Join(e1, e2, e3); err != nil {
		return nil, oauth.ServerError(err)
	}
	return &a, nil
}

func (s *Server) validateApp(in AppInput, create bool) error {
	if create {
		if in.ID != "" && !idRe.MatchString(in.ID) {
			return oauth.InvalidRequest("app id must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
		}
		if in.Name == nil {
			return oauth.InvalidRequest("name is required")
		}
	}
	if in.Name != nil && (strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 200) {
		return oauth.InvalidRequest("name must be 1-200 characters")
	}
	if in.Audience != nil && *in.Audience != "" {
		if !absoluteURI(*in.Audience) {
			return oauth.InvalidRequest("audience must be the resource authorization server's issuer URL")
		}
		// Checklist 1.6: the IdP never mints an ID-JAG for itself.
		if *in.Audience == s.cfg.Issuer {
			return oauth.InvalidRequest("audience cannot be this IdP's own issuer")
		}
	}
	if in.Resources != nil {
		for _, r := range *in.Resources {
			if !absoluteURI(r) {
				return oauth.InvalidRequest("resource %q must be an absolute http(s) URI without a fragment", r)
			}
		}
	}
	if in.Scopes != nil {
		for _, sc := range *in.Scopes {
			if sc == "" || strings.ContainsAny(sc, " \"\\") {
				return oauth.InvalidRequest("scope %q is not a scope token", sc)
			}
		}
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) CreateApp(ctx context.Context, actor string, in AppInput) (*AppView, error) {
	if err := s.validateApp(in, true); err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = "app-" + strings.ToLower(randomToken()[:10])
	}
	aud, res, sc := "", []string{}, []string{}
	if in.Audience != nil {
		aud = *in.Audience
	}
	if in.Resources != nil {
		res = *in.Resources
	}
	if in.Scopes != nil {
		sc = *in.Scopes
	}
	_, err := s.stmts.Exec(ctx, `INSERT INTO apps(id, name, audience, resources, scopes) VALUES (?,?,?,?,?)`, in.ID, strings.TrimSpace(*in.Name), nullable(aud), mustJSON(res), mustJSON(sc))
	if isUnique(err) {
		return nil, conflict("an app with id %q or audience %q exists", in.ID, aud)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "app.create", auditRecord{AppID: in.ID}, map[string]any{"audience": aud, "resources": res, "scopes": sc})
	return s.GetApp(ctx, in.ID)
}

func (s *Server) UpdateApp(ctx context.Context, actor, id string, in AppInput) (*AppView, error) {
	if in.ID != "" && in.ID != id {
		return nil, oauth.InvalidRequest("an app's id cannot change")
	}
	if err := s.validateApp(in, false); err != nil {
		return nil, err
	}
	cur, err := s.GetApp(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		cur.Name = strings.TrimSpace(*in.Name)
	}
	if in.Audience != nil {
		cur.Audience = *in.Audience
	}
	if in.Resources != nil {
		cur.Resources = *in.Resources
	}
	if in.Scopes != nil {
		cur.Scopes = *in.Scopes
	}
	_, err = s.stmts.Exec(ctx, `UPDATE apps SET name = ?, audience = ?, resources = ?, scopes = ? WHERE id = ?`, cur.Name, nullable(cur.Audience), mustJSON(cur.Resources), mustJSON(cur.Scopes), id)
	if isUnique(err) {
		return nil, conflict("another app has audience %q", cur.Audience)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "app.update", auditRecord{AppID: id}, map[string]any{"audience": cur.Audience, "resources": cur.Resources, "scopes": cur.Scopes})
	return s.GetApp(ctx, id)
}

// AssignmentInput names a user or a group (exactly one).
type AssignmentInput struct {
	UserID  string `json:"user_id,omitempty"`
	GroupID string `json:"group_id,omitempty"`
}

// SetAssignment assigns (or unassigns) a user or group to an app.
func (s *Server) SetAssignment(ctx context.Context, actor, appID string, in AssignmentInput, assign bool) (*AppView, error) {
	if (in.UserID == "") == (in.GroupID == "") {
		return nil, oauth.InvalidRequest("name exactly one of user_id or group_id")
	}
	if _, err := s.GetApp(ctx, appID); err != nil {
		return nil, err
	}
	var q string
	var who string
	rec := auditRecord{AppID: appID}
	if in.UserID != "" {
		if _, err := s.GetUser(ctx, in.UserID); err != nil {
			return nil, err
		}
		who, rec.UserID = in.UserID, in.UserID
		q = `INSERT INTO assignments(app_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
		if !assign {
			q = `DELETE FROM assignments WHERE app_id = ? AND user_id = ?`
		}
	} else {
		if _, err := s.GetGroup(ctx, in.GroupID); err != nil {
			return nil, err
		}
		who = in.GroupID
		q = `INSERT INTO group_assignments(app_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
		if !assign {
			q = `DELETE FROM group_assignments WHERE app_id = ? AND group_id = ?`
		}
	}
	if _, err := s.stmts.Exec(ctx, q, appID, who); err != nil {
		return nil, oauth.ServerError(err)
	}
	op := "app.assign"
	if !assign {
		op = "app.unassign"
	}
	s.adminChange(ctx, actor, op, rec, map[string]any{"user_id": in.UserID, "group_id": in.GroupID})
	return s.GetApp(ctx, appID)
}

// ---- clients ----

// ClientView is an OAuth client at this IdP (never its secret).
type ClientView struct {
	ID           string   `json:"client_id"`
	AppID        string   `json:"app_id"`
	Name         string   `json:"name"`
	AuthMethods  []string `json:"token_endpoint_auth_methods"`
	GrantTypes   []string `json:"grant_types"`
	RedirectURIs []string `json:"redirect_uris"`
	JWKSURI      string   `json:"jwks_uri,omitempty"`
	HasSecret    bool     `json:"has_secret"`
}

type ClientInput struct {
	ID           string    `json:"client_id,omitempty"` // create only; generated when empty
	AppID        string    `json:"app_id,omitempty"`    // create only
	Name         *string   `json:"name,omitempty"`
	AuthMethods  *[]string `json:"token_endpoint_auth_methods,omitempty"`
	GrantTypes   *[]string `json:"grant_types,omitempty"`
	RedirectURIs *[]string `json:"redirect_uris,omitempty"`
	JWKSURI      *string   `json:"jwks_uri,omitempty"`
}

// ClientWithSecret is returned once, when a secret is created or rotated.
type ClientWithSecret struct {
	ClientView
	Secret string `json:"client_secret,omitempty"`
}

var allowedGrants = []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken, oauth.GrantTypeTokenExchange}

func toView(c *client) ClientView {
	return ClientView{ID: c.ID, AppID: c.AppID, Name: c.Name, AuthMethods: c.AuthMethods, GrantTypes: c.GrantTypes,
		RedirectURIs: c.RedirectURIs, JWKSURI: c.JWKSURI, HasSecret: len(c.SecretHash) > 0}
}

func (s *Server) ListClients(ctx context.Context) ([]ClientView, error) {
	ids, err := s.strings(ctx, `SELECT id FROM clients ORDER BY id`)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	out := []ClientView{}
	for _, id := range ids {
		c, err := s.GetClient(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

func (s *Server) GetClient(ctx context.Context, id string) (*ClientView, error) {
	c, err := s.client(ctx, id)
	if errors.Is(err, errNotFound) {
		return nil, notFound("no client %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	v := toView(c)
	return &v, nil
}

func validateClient(c *ClientView) error {
	if strings.TrimSpace(c.Name) == "" {
		return oauth.InvalidRequest("name is required")
	}
	if len(c.AuthMethods) == 0 {
		return oauth.InvalidRequest("token_endpoint_auth_methods must name at least one of %s (confidential clients only)", strings.Join(clientauth.Methods, ", "))
	}
	for _, m := range c.AuthMethods {
		if !slices.Contains(clientauth.Methods, m) {
			return oauth.InvalidRequest("token_endpoint_auth_method %q is not supported (%s)", m, strings.Join(clientauth.Methods, ", "))
		}
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(allowedGrants, g) {
			return oauth.InvalidRequest("grant type %q is not supported here", g)
		}
	}
	for _, r := range c.RedirectURIs {
		if !absoluteURI(r) {
			return oauth.InvalidRequest("redirect URI %q must be an absolute http(s) URI without a fragment", r)
		}
	}
	if c.JWKSURI != "" && !absoluteURI(c.JWKSURI) {
		return oauth.InvalidRequest("jwks_uri must be an absolute http(s) URI")
	}
	if slices.Contains(c.AuthMethods, oauth.AuthMethodPrivateKeyJWT) && c.JWKSURI == "" {
		return oauth.InvalidRequest("private_key_jwt needs a jwks_uri")
	}
	return nil
}

func usesSecret(methods []string) bool {
	return slices.Contains(methods, oauth.AuthMethodClientSecretBasic) || slices.Contains(methods, oauth.AuthMethodClientSecretPost)
}

// CreateClient registers a client. A client that authenticates with a
// secret gets one, returned only in this response.
func (s *Server) CreateClient(ctx context.Context, actor string, in ClientInput) (*ClientWithSecret, error) {
	if in.ID == "" {
		in.ID = "c-" + strings.ToLower(randomToken()[:12])
	}
	if !idRe.MatchString(in.ID) {
		return nil, oauth.InvalidRequest("client_id must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
	}
	if _, err := s.GetApp(ctx, in.AppID); err != nil {
		return nil, oauth.InvalidRequest("app_id %q: no such app", in.AppID)
	}
	v := ClientView{ID: in.ID, AppID: in.AppID, AuthMethods: []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost},
		GrantTypes: []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}, RedirectURIs: []string{}}
	applyClient(&v, in)
	if err := validateClient(&v); err != nil {
		return nil, err
	}
	var secret string
	var hash []byte
	if usesSecret(v.AuthMethods) {
		secret = randomToken()
		hash = clientauth.HashSecret(secret)
	}
	_, err := s.stmts.Exec(ctx, `INSERT INTO clients(id, app_id, name, secret_hash, auth_methods, grant_types, redirect_uris, jwks_uri) VALUES (?,?,?,?,?,?,?,?)`,
		v.ID, v.AppID, v.Name, hash, mustJSON(v.AuthMethods), mustJSON(v.GrantTypes), mustJSON(v.RedirectURIs), v.JWKSURI)
	if isUnique(err) {
		return nil, conflict("client %q exists", v.ID)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "client.create", auditRecord{ClientID: v.ID, AppID: v.AppID}, map[string]any{"methods": v.AuthMethods, "grant_types": v.GrantTypes})
	got, err := s.GetClient(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	return &ClientWithSecret{ClientView: *got, Secret: secret}, nil
}

func applyClient(v *ClientView, in ClientInput) {
	if in.Name != nil {
		v.Name = strings.TrimSpace(*in.Name)
	}
	if in.AuthMethods != nil {
		v.AuthMethods = *in.AuthMethods
	}
	if in.GrantTypes != nil {
		v.GrantTypes = *in.GrantTypes
	}
	if in.RedirectURIs != nil {
		v.RedirectURIs = *in.RedirectURIs
	}
	if in.JWKSURI != nil {
		v.JWKSURI = *in.JWKSURI
	}
}

func (s *Server) UpdateClient(ctx context.Context, actor, id string, in ClientInput) (*ClientView, error) {
	if (in.ID != "" && in.ID != id) || in.AppID != "" {
		return nil, oauth.InvalidRequest("a client's id and app cannot change")
	}
	v, err := s.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	applyClient(v, in)
	if err := validateClient(v); err != nil {
		return nil, err
	}
	if _, err := s.stmts.Exec(ctx, `UPDATE clients SET name = ?, auth_methods = ?, grant_types = ?, redirect_uris = ?, jwks_uri = ? WHERE id = ?`,
		v.Name, mustJSON(v.AuthMethods), mustJSON(v.GrantTypes), mustJSON(v.RedirectURIs), v.JWKSURI, id); err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "client.update", auditRecord{ClientID: id, AppID: v.AppID}, map[string]any{"methods": v.AuthMethods, "grant_types": v.GrantTypes, "redirect_uris": v.RedirectURIs, "jwks_uri": v.JWKSURI})
	return s.GetClient(ctx, id)
}

// RotateClientSecret replaces the client's secret; the old one stops working
// at once. The new secret is shown only in this response.
func (s *Server) RotateClientSecret(ctx context.Context, actor, id string) (*ClientWithSecret, error) {
	v, err := s.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if !usesSecret(v.AuthMethods) {
		return nil, oauth.InvalidRequest("client %q does not authenticate with a secret", id)
	}
	secret := randomToken()
	if _, err := s.stmts.Exec(ctx, `UPDATE clients SET secret_hash = ? WHERE id = ?`, clientauth.HashSecret(secret), id); err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "client.rotate_secret", auditRecord{ClientID: id, AppID: v.AppID}, nil)
	v.HasSecret = true
	return &ClientWithSecret{ClientView: *v, Secret: secret}, nil
}

// ---- managed connections ----

// ConnectionView is a managed connection: the admin's consent that a
// requesting client may get ID-JAGs for a resource app.
type ConnectionView struct {
	ID               string   `json:"id"`
	ClientID         string   `json:"client_id"`          // the requesting client at this IdP
	ResourceAppID    string   `json:"resource_app_id"`    // the resource app
	Audience         string   `json:"audience"`           // the resource app's audience (read-only)
	ResourceClientID string   `json:"resource_client_id"` // the client's id AT the resource AS (ID-JAG client_id)
	Resources        []string `json:"resources"`
	Scopes           []string `json:"scopes"`
	GroupID          string   `json:"group_id,omitempty"` // only members of this group, when set
	IncludeEmail     bool     `json:"include_email"`
	Enabled          bool     `json:"enabled"`
	// AuthorizationDetails are the RFC 9396 types (and actions) the
	// connection allows; a request's details are narrowed to them.
	AuthorizationDetails []rar.Allowed `json:"authorization_details"`
	// MaxAuthAge (seconds) asks for a recent sign-in: an older one gets
	// insufficient_user_authentication with max_age (step-up). 0: any.
	MaxAuthAge int64 `json:"max_auth_age"`
}

type ConnectionInput struct {
	ClientID         string    `json:"client_id,omitempty"`       // create only
	ResourceAppID    string    `json:"resource_app_id,omitempty"` // create only
	ResourceClientID *string   `json:"resource_client_id,omitempty"`
	Resources        *[]string `json:"resources,omitempty"`
	Scopes           *[]string `json:"scopes,omitempty"`
	GroupID          *string   `json:"group_id,omitempty"`
	IncludeEmail     *bool     `json:"include_email,omitempty"`
	Enabled          *bool     `json:"enabled,omitempty"`
	// AuthorizationDetails replaces the allowed RFC 9396 details.
	AuthorizationDetails *[]rar.Allowed `json:"authorization_details,omitempty"`
	// MaxAuthAge replaces the step-up requirement (seconds; 0: none).
	MaxAuthAge *int64 `json:"max_auth_age,omitempty"`
}

func (s *Server) ListConnections(ctx context.Context) ([]ConnectionView, error) {
	ids, err := s.strings(ctx, `SELECT id FROM managed_connections ORDER BY client_id, resource_app_id`)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	out := []ConnectionView{}
	for _, id := range ids {
		c, err := s.GetConnection(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

func (s *Server) GetConnection(ctx context.Context, id string) (*ConnectionView, error) {
	var c ConnectionView
	var res, sc, ad string
	var aud sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT mc.id, mc.client_id, mc.resource_app_id, a.audience, mc.resource_client_id, mc.resources, mc.scopes, mc.group_id, mc.include_email, mc.enabled, mc.authorization_details, mc.max_auth_age
		FROM managed_connections mc JOIN apps a ON a.id = mc.resource_app_id WHERE mc.id = ?`, id).
		Scan(&c.ID, &c.ClientID, &c.ResourceAppID, &aud, &c.ResourceClientID, &res, &sc, &c.GroupID, &c.IncludeEmail, &c.Enabled, &ad, &c.MaxAuthAge)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no managed connection %q", id)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	c.Audience, c.Resources, c.Scopes = aud.String, decodeList(res), decodeList(sc)
	c.AuthorizationDetails = []rar.Allowed{}
	_ = json.Unmarshal([]byte(ad), &c.AuthorizationDetails)
	return &c, nil
}

func (s *Server) validateConnection(ctx context.Context, c *ConnectionView) error {
	app, err := s.GetApp(ctx, c.ResourceAppID)
	if err != nil {
		return oauth.InvalidRequest("resource_app_id %q: no such app", c.ResourceAppID)
	}
	if app.Audience == "" {
		return oauth.InvalidRequest("app %q has no audience, so it is not a resource app", app.ID)
	}
	if _, err := s.GetClient(ctx, c.ClientID); err != nil {
		return oauth.InvalidRequest("client_id %q: no such client", c.ClientID)
	}
	if c.ResourceClientID == "" {
		return oauth.InvalidRequest("resource_client_id (the client's id at %s) is required", app.Audience)
	}
	// Checklist 1.4: only (audience, resource) pairs the app serves.
	for _, r := range c.Resources {
		if !slices.Contains(app.Resources, r) {
			return oauth.InvalidRequest("resource %q is not served by %s (%s)", r, app.Name, strings.Join(app.Resources, ", "))
		}
	}
	for _, sc := range c.Scopes {
		if !slices.Contains(app.Scopes, sc) {
			return oauth.InvalidRequest("scope %q is not known to %s (%s)", sc, app.Name, strings.Join(app.Scopes, ", "))
		}
	}
	if c.GroupID != "" {
		if _, err := s.GetGroup(ctx, c.GroupID); err != nil {
			return oauth.InvalidRequest("group_id %q: no such group", c.GroupID)
		}
	}
	if c.AuthorizationDetails == nil {
		c.AuthorizationDetails = []rar.Allowed{}
	}
	if c.MaxAuthAge < 0 {
		return oauth.InvalidRequest("max_auth_age is seconds, 0 or more")
	}
	for _, a := range c.AuthorizationDetails {
		if a.Type == "" {
			return oauth.InvalidRequest("every authorization_details entry needs a type (RFC 9396 2)")
		}
	}
	c.Audience = app.Audience
	return nil
}

func applyConnection(c *ConnectionView, in ConnectionInput) {
	if in.ResourceClientID != nil {
		c.ResourceClientID = strings.TrimSpace(*in.ResourceClientID)
	}
	if in.Resources != nil {
		c.Resources = *in.Resources
	}
	if in.Scopes != nil {
		c.Scopes = *in.Scopes
	}
	if in.GroupID != nil {
		c.GroupID = *in.GroupID
	}
	if in.IncludeEmail != nil {
		c.IncludeEmail = *in.IncludeEmail
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if in.AuthorizationDetails != nil {
		c.AuthorizationDetails = *in.AuthorizationDetails
	}
	if in.MaxAuthAge != nil {
		c.MaxAuthAge = *in.MaxAuthAge
	}
}

func (s *Server) CreateConnection(ctx context.Context, actor string, in ConnectionInput) (*ConnectionView, error) {
	c := ConnectionView{ID: "mc_" + randomToken()[:12], ClientID: in.ClientID, ResourceAppID: in.ResourceAppID,
		Resources: []string{}, Scopes: []string{}, Enabled: true, AuthorizationDetails: []rar.Allowed{}}
	applyConnection(&c, in)
	if err := s.validateConnection(ctx, &c); err != nil {
		return nil, err
	}
	_, err := s.stmts.Exec(ctx, `INSERT INTO managed_connections(id, client_id, resource_app_id, resources, scopes, resource_client_id, include_email, enabled, group_id, authorization_details, max_auth_age) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.ClientID, c.ResourceAppID, mustJSON(c.Resources), mustJSON(c.Scopes), c.ResourceClientID, c.IncludeEmail, c.Enabled, c.GroupID, mustJSON(c.AuthorizationDetails), c.MaxAuthAge)
	if isUnique(err) {
		return nil, conflict("a managed connection %s -> %s exists; edit it instead", c.ClientID, c.ResourceAppID)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "connection.create", auditRecord{ClientID: c.ClientID, AppID: c.ResourceAppID}, connDetail(&c))
	return s.GetConnection(ctx, c.ID)
}

func connDetail(c *ConnectionView) map[string]any {
	return map[string]any{"connection": c.ID, "resources": c.Resources, "scopes": c.Scopes, "group_id": c.GroupID,
		"include_email": c.IncludeEmail, "enabled": c.Enabled, "resource_client_id": c.ResourceClientID, "authorization_details": c.AuthorizationDetails, "max_auth_age": c.MaxAuthAge}
}

func (s *Server) UpdateConnection(ctx context.Context, actor, id string, in ConnectionInput) (*ConnectionView, error) {
	c, err := s.GetConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	if (in.ClientID != "" && in.ClientID != c.ClientID) || (in.ResourceAppID != "" && in.ResourceAppID != c.ResourceAppID) {
		return nil, oauth.InvalidRequest("a connection's client and resource app cannot change; create another")
	}
	applyConnection(c, in)
	if err := s.validateConnection(ctx, c); err != nil {
		return nil, err
	}
	if _, err := s.stmts.Exec(ctx, `UPDATE managed_connections SET resources = ?, scopes = ?, resource_client_id = ?, include_email = ?, enabled = ?, group_id = ?, authorization_details = ?, max_auth_age = ? WHERE id = ?`,
		mustJSON(c.Resources), mustJSON(c.Scopes), c.ResourceClientID, c.IncludeEmail, c.Enabled, c.GroupID, mustJSON(c.AuthorizationDetails), c.MaxAuthAge, id); err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "connection.update", auditRecord{ClientID: c.ClientID, AppID: c.ResourceAppID}, connDetail(c))
	return s.GetConnection(ctx, id)
}

func (s *Server) DeleteConnection(ctx context.Context, actor, id string) error {
	c, err := s.GetConnection(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.stmts.Exec(ctx, `DELETE FROM managed_connections WHERE id = ?`, id); err != nil {
		return oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "connection.delete", auditRecord{ClientID: c.ClientID, AppID: c.ResourceAppID}, map[string]any{"connection": id})
	return nil
}

// ---- sessions and refresh tokens ----

type SessionView struct {
	SID       string `json:"sid"`
	UserID    string `json:"user_id"`
	AuthTime  int64  `json:"auth_time"`
	ExpiresAt int64  `json:"expires_at"`
	RevokedAt *int64 `json:"revoked_at,omitempty"`
}

type RefreshTokenView struct {
	ID        string `json:"id"`
	ClientID  string `json:"client_id"`
	UserID    string `json:"user_id"`
	SID       string `json:"sid"`
	Scope     string `json:"scope"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt int64  `json:"expires_at"`
	RevokedAt *int64 `json:"revoked_at,omitempty"`
}

// UserGrants is a page of a user's live IdP sessions and refresh tokens
// (ListGrants).
type UserGrants struct {
	Sessions      []SessionView      `json:"sessions"`
	RefreshTokens []RefreshTokenView `json:"refresh_tokens"`
}

// revokeSession revokes a session and every refresh token issued under it;
// ID tokens and access tokens of the session stop working because the token
// exchange and userinfo check the session.
func (s *Server) revokeSession(ctx context.Context, sid string) error {
	now := s.now().Unix()
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		_, e1 := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL`, now, sid)
		_, e2 := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL`, now, sid)
		return errors.Join(e1, e2)
	})
}

// RevokeSession revokes one session and every refresh token issued under it.
func (s *Server) RevokeSession(ctx context.Context, actor, sid string) error {
	var userID string
	if err := s.db.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE sid = ?`, sid).Scan(&userID); errors.Is(err, sql.ErrNoRows) {
		return notFound("no session %q", sid)
	} else if err != nil {
		return oauth.ServerError(err)
	}
	if err := s.revokeSession(ctx, sid); err != nil {
		return oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "session.revoke", auditRecord{UserID: userID}, map[string]any{"sid": sid})
	return nil
}

func (s *Server) RevokeRefreshToken(ctx context.Context, actor, id string) error {
	var userID, clientID string
	if err := s.db.QueryRowContext(ctx, `SELECT user_id, client_id FROM refresh_tokens WHERE id = ?`, id).Scan(&userID, &clientID); errors.Is(err, sql.ErrNoRows) {
		return notFound("no refresh token %q", id)
	} else if err != nil {
		return oauth.ServerError(err)
	}
	if _, err := s.stmts.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.now().Unix(), id); err != nil {
		return oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "refresh_token.revoke", auditRecord{UserID: userID, ClientID: clientID}, map[string]any{"refresh_token": id})
	return nil
}

// RevokeAllGrants revokes every session and refresh token of the user: the
// next exchange with any of them fails with invalid_grant.
func (s *Server) RevokeAllGrants(ctx context.Context, actor, userID string) (sessions, refreshTokens int64, err error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return 0, 0, err
	}
	now := s.now().Unix()
	err = sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		r1, e1 := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		if e1 != nil {
			return e1
		}
		r2, e2 := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		if e2 != nil {
			return e2
		}
		sessions, _ = r1.RowsAffected()
		refreshTokens, _ = r2.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, 0, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "user.revoke_all", auditRecord{UserID: userID}, map[string]any{"sessions": sessions, "refresh_tokens": refreshTokens})
	s.signalUser(ctx, EventSessionRevoked, userID, "admin", "all sessions revoked by the administrator")
	return sessions, refreshTokens, nil
}
