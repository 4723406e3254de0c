package server

// The admin console at /admin: server-rendered pages over the admin service
// layer (admin.go), no JavaScript. Admins sign in with the IdP's own login
// (users.is_admin) and get a console session of their own (console_session.go),
// separate from single sign-on. Every POST must be same-origin (Sec-Fetch-Site
// / Origin) and carry a CSRF token derived from the console session cookie,
// which a cross-site page can neither read nor guess.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

const adminLoginCSRFCookie = "acme_idp_admin_csrf"

// consoleCSRF is the CSRF token for a session cookie value.
func consoleCSRF(cookie string) string {
	h := sha256.Sum256([]byte("acme-admin-console-csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// consoleUser is the signed-in admin, with the CSRF token for their forms.
type consoleUser struct {
	*user
	CSRF string
}

func (s *Server) consoleAdmin(r *http.Request) (*consoleUser, *user) {
	sid, u, cookie := s.consoleSession(r.Context(), r)
	if sid == "" {
		return nil, nil
	}
	if !u.Active || !u.Admin {
		return nil, u
	}
	return &consoleUser{user: u, CSRF: consoleCSRF(cookie)}, u
}

func (s *Server) consoleRoutes(r *mux.Router) {
	r.HandleFunc("/admin", s.consolePage("users")).Methods(http.MethodGet)
	r.HandleFunc("/admin/", s.consolePage("users")).Methods(http.MethodGet)
	r.HandleFunc("/admin/login", s.consoleLogin).Methods(http.MethodPost)
	r.HandleFunc("/admin/logout", s.consoleLogout).Methods(http.MethodPost)
	for _, p := range []string{"users", "groups", "apps", "connections", "keys", "audit", "faults"} {
		r.HandleFunc("/admin/"+p, s.consolePage(p)).Methods(http.MethodGet)
	}
	r.HandleFunc("/admin/users/{id}", s.consolePage("user")).Methods(http.MethodGet)
	r.HandleFunc("/admin/groups/{id}", s.consolePage("group")).Methods(http.MethodGet)
	r.HandleFunc("/admin/apps/{id}", s.consolePage("app")).Methods(http.MethodGet)
	r.HandleFunc("/admin/audit.jsonl", s.consoleAuditExport).Methods(http.MethodGet)
	r.HandleFunc("/admin/do/{action}", s.consoleAction).Methods(http.MethodPost)
}

// consolePage renders one console page, or the admin sign-in form.
func (s *Server) consolePage(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cu, other := s.consoleAdmin(r)
		if cu == nil {
			s.renderAdminLogin(w, r, other, "", http.StatusOK)
			return
		}
		ctx := r.Context()
		q := r.URL.Query()
		data := map[string]any{"Admin": cu, "Page": page, "Msg": q.Get("msg"), "Err": q.Get("err"), "Back": r.URL.RequestURI()}
		var err error
		switch page {
		case "users":
			data["Users"], data["NextAfter"], err = s.ListUsers(ctx, q.Get("after"), 0)
			data["Paged"] = q.Get("after") != ""
		case "user":
			var u *UserView
			if u, err = s.GetUser(ctx, mux.Vars(r)["id"]); err == nil {
				data["User"] = u
				// one page of sessions and refresh tokens, newest first
				data["Grants"], data["NextAfter"], err = s.ListGrants(ctx, u.ID, q.Get("after"), 0)
				data["Paged"] = q.Get("after") != ""
				if err == nil {
					data["Audit"], err = s.QueryAudit(ctx, AuditFilter{User: u.ID, Limit: 20})
				}
			}
		case "group":
			var g *GroupView
			if g, err = s.GetGroup(ctx, mux.Vars(r)["id"]); err == nil {
				data["Group"] = g
				data["Members"], data["NextAfter"], err = s.ListGroupMembers(ctx, g.ID, q.Get("after"), 0)
				data["Paged"] = q.Get("after") != ""
			}
		case "app":
			var a *AppView
			if a, err = s.GetApp(ctx, mux.Vars(r)["id"]); err == nil {
				data["App"] = a
				data["Members"], data["NextAfter"], err = s.ListAppUsers(ctx, a.ID, q.Get("after"), 0)
				data["Paged"] = q.Get("after") != ""
			}
		case "groups":
			data["Groups"], err = s.ListGroups(ctx)
			if err == nil {
				// suggestions for the member field, which takes any username or id
				data["Users"], _, err = s.ListUsers(ctx, "", 0)
			}
		case "apps":
			data["Apps"], err = s.ListApps(ctx)
			if err == nil {
				data["Clients"], err = s.ListClients(ctx)
			}
		case "connections":
			data["SharedSignals"] = s.cfg.SharedSignals
			data["Connections"], err = s.ListConnections(ctx)
			if err == nil {
				data["Apps"], err = s.ListApps(ctx)
			}
			if err == nil {
				data["Clients"], err = s.ListClients(ctx)
			}
		case "keys":
			data["Keys"], err = s.ListKeys(ctx)
		case "audit":
			var f AuditFilter
			if f, err = AuditFilterFromQuery(q.Get); err == nil {
				data["Filter"] = f
				// Re-encoded, so it is safe to put in an href as it is (a
				// plain string there would have its = and & escaped away).
				data["ExportQuery"] = template.URL(q.Encode())
				var entries []AuditEntry
				entries, err = s.QueryAudit(ctx, f)
				data["Entries"] = entries
				if limit := cmp.Or(f.Limit, 100); len(entries) == min(limit, 10000) {
					older := r.URL.Query()
					older.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
					data["OlderQuery"] = template.URL(older.Encode())
				}
			}
		case "faults":
			data["Known"], data["Active"] = s.faults.Known(), s.faults.Active()
		}
		if err != nil {
			oe := oauth.AsError(err)
			if oe.Code == oauth.ErrServerError {
				s.log.Error("admin console", "page", page, "err", oe.Err)
			}
			data["Err"] = oe.Description
			s.render(w, oe.HTTPStatus(), "admin_error.html", data)
			return
		}
		s.render(w, http.StatusOK, "admin_"+page+".html", data)
	}
}

func (s *Server) renderAdminLogin(w http.ResponseWriter, r *http.Request, signedIn *user, msg string, status int) {
	token := ""
	if ck, err := r.Cookie(adminLoginCSRFCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	} else {
		token = randomToken()
		http.SetCookie(w, &http.Cookie{Name: adminLoginCSRFCookie, Value: token, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: httpx.SecureCookie(s.cfg.Issuer, r)})
	}
	var admins []demo.User
	for _, u := range demo.Users {
		if u.Admin {
			admins = append(admins, u)
		}
	}
	s.render(w, status, "admin_login.html", map[string]any{"CSRF": token, "Error": msg, "SignedIn": signedIn, "DemoAdmins": admins})
}

// consoleLogin is the admin sign-in: the IdP's own password check and
// session, allowed only for active users with is_admin.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.renderAdminLogin(w, r, nil, "Cross-site sign-in requests are refused.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		s.renderAdminLogin(w, r, nil, "Malformed form.", http.StatusBadRequest)
		return
	}
	ck, err := r.Cookie(adminLoginCSRFCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		s.renderAdminLogin(w, r, nil, "Your sign-in form expired. Please try again.", http.StatusForbidden)
		return
	}
	u, err := s.userBy(r.Context(), "username", strings.TrimSpace(r.PostForm.Get("username")))
	if err != nil && !errors.Is(err, errNotFound) {
		s.renderAdminLogin(w, r, nil, "Internal error; see the server log.", http.StatusInternalServerError)
		return
	}
	stored := dummyHash
	if u != nil {
		stored = u.PasswordHash
	}
	ok := checkPassword(stored, r.PostForm.Get("password"))
	rec := auditRecord{Event: "sign_in", ClientID: "admin-console", Outcome: "failed"}
	switch {
	case u == nil || !ok:
		rec.Reason = "wrong username or password"
		s.audit(r.Context(), rec)
		s.renderAdminLogin(w, r, nil, "Wrong username or password.", http.StatusUnauthorized)
		return
	case !u.Active || !u.Admin:
		rec.UserID, rec.Reason = u.ID, "not an active administrator"
		s.audit(r.Context(), rec)
		s.renderAdminLogin(w, r, nil, u.Username+" is not an administrator of Acme.", http.StatusForbidden)
		return
	}
	sid, err := s.createConsoleSession(w, r, u)
	if err != nil {
		s.renderAdminLogin(w, r, nil, "Internal error; see the server log.", http.StatusInternalServerError)
		return
	}
	rec.UserID, rec.Outcome, rec.Detail = u.ID, "ok", map[string]any{"sid": sid}
	s.audit(r.Context(), rec)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (s *Server) consoleAuditExport(w http.ResponseWriter, r *http.Request) {
	if cu, _ := s.consoleAdmin(r); cu == nil {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	s.auditExport(w, r)
}

// consoleAction performs one form's operation through the service layer,
// then redirects back (POST-redirect-GET) with a message. A new client
// secret is rendered once instead, never put in a URL.
func (s *Server) consoleAction(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.renderConsoleError(w, crossSite())
		return
	}
	cu, _ := s.consoleAdmin(r)
	if cu == nil {
		s.renderConsoleError(w, &oauth.Error{Code: oauth.ErrAccessDenied, Description: "sign in to the admin console first", Status: http.StatusUnauthorized})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		s.renderConsoleError(w, oauth.InvalidRequest("malformed form"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(cu.CSRF)) != 1 {
		s.renderConsoleError(w, &oauth.Error{Code: oauth.ErrAccessDenied, Description: "the form's CSRF token is missing or wrong; reload the page", Status: http.StatusForbidden})
		return
	}
	u := consoleBack(r.PostForm.Get("back"))
	actor := "console:" + cu.Username
	msg, secret, err := s.runAction(r.Context(), actor, mux.Vars(r)["action"], r.PostForm)
	if err == nil {
		msg += s.revocationNote(r.Context(), mux.Vars(r)["action"], r.PostForm)
	}
	if secret != nil && err == nil {
		s.render(w, http.StatusOK, "admin_secret.html", map[string]any{"Admin": cu, "Page": "apps", "Client": secret})
		return
	}
	q := u.Query()
	q.Del("msg")
	q.Del("err")
	if err != nil {
		q.Set("err", oauth.AsError(err).Description)
	} else {
		q.Set("msg", msg)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// consoleBack is where an action returns to: a console page of this IdP,
// checked (and parsed) before the action runs; anything else, malformed
// included, is /admin.
func consoleBack(back string) *url.URL {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(back, "\\\r\n") ||
		!(u.Path == "/admin" || strings.HasPrefix(u.Path, "/admin/")) || strings.HasPrefix(back, "//") {
		return &url.URL{Path: "/admin"}
	}
	return u
}

func (s *Server) renderConsoleError(w http.ResponseWriter, e *oauth.Error) {
	s.render(w, e.HTTPStatus(), "admin_error.html", map[string]any{"Err": e.Description})
}

func fields(v string) []string {
	out := strings.Fields(strings.ReplaceAll(v, ",", " "))
	if out == nil {
		out = []string{}
	}
	return out
}

func optional(form url.Values, name string) *string {
	if !form.Has(name) {
		return nil
	}
	v := form.Get(name)
	return &v
}

func optionalList(form url.Values, name string) *[]string {
	if !form.Has(name) {
		return nil
	}
	l := fields(form.Get(name))
	return &l
}

func checkbox(form url.Values, name string) *bool {
	v := form.Get(name) == "on" || form.Get(name) == "true"
	return &v
}

// runAction maps a console form to one service call.
func (s *Server) runAction(ctx context.Context, actor, action string, f url.Values) (string, *ClientWithSecret, error) {
	get := f.Get
	switch action {
	case "user.create":
		u, err := s.CreateUser(ctx, actor, UserInput{Username: optional(f, "username"), Name: optional(f, "name"), Email: optional(f, "email"), Password: optional(f, "password"), Admin: checkbox(f, "is_admin")})
		if err != nil {
			return "", nil, err
		}
		return "Created user " + u.Username + ".", nil, nil
	case "user.update":
		in := UserInput{Name: optional(f, "name"), Email: optional(f, "email"), Admin: checkbox(f, "is_admin")}
		if p := get("password"); p != "" {
			in.Password = &p
		}
		u, err := s.UpdateUser(ctx, actor, get("id"), in)
		if err != nil {
			return "", nil, err
		}
		return "Saved " + u.Username + ".", nil, nil
	case "user.deactivate", "user.reactivate":
		u, err := s.SetUserActive(ctx, actor, get("id"), action == "user.reactivate")
		if err != nil {
			return "", nil, err
		}
		if u.Active {
			return u.Username + " is active again.", nil, nil
		}
		return u.Username + " is deactivated: sign-in and token exchange are refused.", nil, nil
	case "user.revoke_all":
		ns, nr, err := s.RevokeAllGrants(ctx, actor, get("id"))
		if err != nil {
			return "", nil, err
		}
		return jsonMsg("Revoked sessions and refresh tokens", map[string]int64{"sessions": ns, "refresh_tokens": nr}), nil, nil
	case "session.revoke":
		return "Session revoked.", nil, s.RevokeSession(ctx, actor, get("sid"))
	case "refresh_token.revoke":
		return "Refresh token revoked.", nil, s.RevokeRefreshToken(ctx, actor, get("id"))
	case "group.create":
		g, err := s.CreateGroup(ctx, actor, GroupInput{Name: get("name")})
		if err != nil {
			return "", nil, err
		}
		return "Created group " + g.Name + ".", nil, nil
	case "group.add_member", "group.remove_member":
		_, err := s.SetGroupMember(ctx, actor, get("group"), s.userIDOf(ctx, get("user")), action == "group.add_member")
		return "Group membership saved.", nil, err
	case "app.create":
		in := AppInput{ID: get("id"), Name: optional(f, "name"), Resources: optionalList(f, "resources"), Scopes: optionalList(f, "scopes")}
		if a := get("audience"); a != "" {
			in.Audience = &a
		}
		a, err := s.CreateApp(ctx, actor, in)
		if err != nil {
			return "", nil, err
		}
		return "Created app " + a.Name + ".", nil, nil
	case "app.update":
		_, err := s.UpdateApp(ctx, actor, get("id"), AppInput{Name: optional(f, "name"), Audience: optional(f, "audience"), Resources: optionalList(f, "resources"), Scopes: optionalList(f, "scopes")})
		return "App saved.", nil, err
	case "app.assign", "app.unassign":
		_, err := s.SetAssignment(ctx, actor, get("app"), AssignmentInput{UserID: s.userIDOf(ctx, get("user")), GroupID: get("group")}, action == "app.assign")
		return "Assignment saved.", nil, err
	case "client.create":
		c, err := s.CreateClient(ctx, actor, ClientInput{ID: get("client_id"), AppID: get("app_id"), Name: optional(f, "name"),
			AuthMethods: optionalList(f, "auth_methods"), GrantTypes: optionalList(f, "grant_types"), RedirectURIs: optionalList(f, "redirect_uris"), JWKSURI: optional(f, "jwks_uri")})
		if err != nil {
			return "", nil, err
		}
		if c.Secret != "" {
			return "", c, nil
		}
		return "Created client " + c.ID + ".", nil, nil
	case "client.update":
		_, err := s.UpdateClient(ctx, actor, get("client_id"), ClientInput{Name: optional(f, "name"), AuthMethods: optionalList(f, "auth_methods"),
			GrantTypes: optionalList(f, "grant_types"), RedirectURIs: optionalList(f, "redirect_uris"), JWKSURI: optional(f, "jwks_uri")})
		return "Client saved.", nil, err
	case "client.rotate_secret":
		c, err := s.RotateClientSecret(ctx, actor, get("client_id"))
		return "", c, err
	case "connection.create":
		c, err := s.CreateConnection(ctx, actor, ConnectionInput{ClientID: get("client_id"), ResourceAppID: get("resource_app_id"), ResourceClientID: optional(f, "resource_client_id"),
			Resources: optionalList(f, "resources"), Scopes: optionalList(f, "scopes"), GroupID: optional(f, "group_id"), IncludeEmail: checkbox(f, "include_email"), Enabled: checkbox(f, "enabled")})
		if err != nil {
			return "", nil, err
		}
		return "Created managed connection " + c.ClientID + " -> " + c.ResourceAppID + ".", nil, nil
	case "connection.update":
		_, err := s.UpdateConnection(ctx, actor, get("id"), ConnectionInput{ResourceClientID: optional(f, "resource_client_id"), Resources: optionalList(f, "resources"),
			Scopes: optionalList(f, "scopes"), GroupID: optional(f, "group_id"), IncludeEmail: checkbox(f, "include_email"), Enabled: checkbox(f, "enabled")})
		return "Managed connection saved.", nil, err
	case "connection.delete":
		return "Managed connection deleted.", nil, s.DeleteConnection(ctx, actor, get("id"))
	case "keys.rotate":
		var ahead time.Duration
		if v := strings.TrimSpace(get("publish_ahead")); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return "", nil, oauth.InvalidRequest("publish ahead %q is not a duration like 15s", v)
			}
			ahead = d
		}
		k, err := s.RotateKeyAfter(ctx, actor, ahead)
		if err != nil {
			return "", nil, err
		}
		if k.PendingKID != "" {
			return "New signing key " + k.PendingKID + " is published and signs from " + k.PendingSignsAt.Format("15:04:05") + "; until then " + k.ActiveKID + " signs.", nil, nil
		}
		return "New signing key " + k.ActiveKID + " is active; the old one stays published for " + k.RetainFor + ".", nil, nil
	case "faults.set":
		before := strings.Join(s.faults.Active(), " ")
		if err := s.faults.Replace(f["fault"]); err != nil {
			return "", nil, oauth.InvalidRequest("%v", err)
		}
		if strings.Join(s.faults.Active(), " ") != before {
			s.adminChange(ctx, actor, "faults.set", auditRecord{}, map[string]any{"active": s.faults.Active()})
		}
		return "Active faults: " + strings.Join(append([]string{}, s.faults.Active()...), ", ") + ".", nil, nil
	}
	return "", nil, notFound("unknown console action %q", action)
}

// userIDOf lets console forms name a user by username as well as by id.
func (s *Server) userIDOf(ctx context.Context, v string) string {
	if v == "" {
		return ""
	}
	if u, err := s.userBy(ctx, "username", strings.TrimSpace(v)); err == nil {
		return u.ID
	}
	return strings.TrimSpace(v)
}

func jsonMsg(prefix string, v any) string {
	b, _ := json.Marshal(v)
	return prefix + " " + string(b) + "."
}
