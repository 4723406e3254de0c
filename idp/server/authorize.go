package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

const (
	sessionCookie = "acme_idp_session"
	csrfCookie    = "acme_idp_csrf"
)

// authzRequest is an OIDC authorization request (OIDC Core 3.1.2.1).
type authzRequest struct {
	ClientID, RedirectURI, ResponseType, Scope, State, Nonce string
	CodeChallenge, CodeChallengeMethod, Prompt               string
}

func parseAuthz(v url.Values) authzRequest {
	return authzRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), ResponseType: v.Get("response_type"),
		Scope: v.Get("scope"), State: v.Get("state"), Nonce: v.Get("nonce"),
		CodeChallenge: v.Get("code_challenge"), CodeChallengeMethod: v.Get("code_challenge_method"), Prompt: v.Get("prompt"),
	}
}

// hidden is the request as hidden form fields for the login page.
func (a authzRequest) hidden() map[string]string {
	return map[string]string{
		"client_id": a.ClientID, "redirect_uri": a.RedirectURI, "response_type": a.ResponseType,
		"scope": a.Scope, "state": a.State, "nonce": a.Nonce,
		"code_challenge": a.CodeChallenge, "code_challenge_method": a.CodeChallengeMethod,
	}
}

// validate checks the request. A nil client means the error must be shown
// to the user, never redirected: the redirect URI is not trusted yet.
func (s *Server) validateAuthz(ctx context.Context, a authzRequest) (*client, *oauth.Error) {
	if a.ClientID == "" {
		return nil, oauth.InvalidRequest("client_id is missing")
	}
	c, err := s.client(ctx, a.ClientID)
	if errors.Is(err, errNotFound) {
		return nil, oauth.InvalidRequest("unknown client_id %q", a.ClientID)
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if a.RedirectURI == "" || !slices.Contains(c.RedirectURIs, a.RedirectURI) {
		return nil, oauth.InvalidRequest("redirect_uri %q is not registered for client %q (exact match required)", a.RedirectURI, a.ClientID)
	}
	switch {
	case a.ResponseType != "code":
		return c, oauth.Errorf(oauth.ErrUnsupportedRespType, "response_type must be code")
	case !slices.Contains(oauth.SplitScope(a.Scope), "openid"):
		return c, oauth.InvalidScope("scope must include openid")
	case a.CodeChallenge == "" || a.CodeChallengeMethod != "S256":
		return c, oauth.InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
	case len(a.CodeChallenge) < 43 || len(a.CodeChallenge) > 128:
		return c, oauth.InvalidRequest("code_challenge must be 43 to 128 characters (RFC 7636 4.2)")
	case !slices.Contains(c.GrantTypes, oauth.GrantTypeAuthorizationCode):
		return c, oauth.Errorf(oauth.ErrUnauthorizedClient, "client %q may not use the authorization code flow", c.ID)
	case a.Prompt != "" && a.Prompt != "none" && a.Prompt != "login":
		return c, oauth.InvalidRequest("prompt %q is not supported (none, login)", a.Prompt)
	}
	return c, nil
}

// redirectError sends an error to the client's redirect URI (RFC 6749 4.1.2.1).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a authzRequest, e *oauth.Error) {
	q := url.Values{"error": {e.Code}, "error_description": {e.Description}, "iss": {s.cfg.Issuer}}
	if a.State != "" {
		q.Set("state", a.State)
	}
	http.Redirect(w, r, withQuery(a.RedirectURI, q), http.StatusFound)
}

func withQuery(base string, q url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	existing := u.Query()
	for k, vs := range q {
		for _, v := range vs {
			existing.Add(k, v)
		}
	}
	u.RawQuery = existing.Encode()
	return u.String()
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	a := parseAuthz(r.URL.Query())
	c, oe := s.validateAuthz(r.Context(), a)
	if oe != nil {
		if c == nil {
			s.renderError(w, oe)
		} else {
			s.redirectError(w, r, a, oe)
		}
		return
	}
	sess, u, err := s.currentSession(r)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	if sess == nil || a.Prompt == "login" {
		if a.Prompt == "none" {
			s.redirectError(w, r, a, oauth.Errorf(oauth.ErrLoginRequired, "no Acme session and prompt=none"))
			return
		}
		s.renderLogin(w, r, a, c, "", http.StatusOK)
		return
	}
	s.finishAuthz(w, r, a, c, sess, u)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, oauth.InvalidRequest("malformed form"))
		return
	}
	a := parseAuthz(r.PostForm)
	c, oe := s.validateAuthz(r.Context(), a)
	if oe != nil {
		if c == nil {
			s.renderError(w, oe)
		} else {
			s.redirectError(w, r, a, oe)
		}
		return
	}
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		s.renderLogin(w, r, a, c, "Your sign-in form expired. Please try again.", http.StatusForbidden)
		return
	}
	u, err := s.userBy(r.Context(), "username", strings.TrimSpace(r.PostForm.Get("username")))
	if err != nil && !errors.Is(err, errNotFound) {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	stored := dummyHash
	if u != nil {
		stored = u.PasswordHash
	}
	ok := checkPassword(stored, r.PostForm.Get("password"))
	if u == nil || !ok {
		s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "failed", ClientID: c.ID, Reason: "wrong username or password"})
		s.renderLogin(w, r, a, c, "Wrong username or password.", http.StatusUnauthorized)
		return
	}
	if !u.Active {
		s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "failed", ClientID: c.ID, UserID: u.ID, Reason: "user deactivated"})
		s.renderLogin(w, r, a, c, "This account has been deactivated by your administrator.", http.StatusForbidden)
		return
	}
	sess, err := s.createSession(w, r, u)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	s.audit(r.Context(), auditRecord{Event: "sign_in", Outcome: "ok", ClientID: c.ID, UserID: u.ID, Detail: map[string]any{"sid": sess.SID}})
	s.finishAuthz(w, r, a, c, sess, u)
}

// finishAuthz issues the code once the user is known.
func (s *Server) finishAuthz(w http.ResponseWriter, r *http.Request, a authzRequest, c *client, sess *session, u *user) {
	ctx := r.Context()
	if !u.Active {
		s.redirectError(w, r, a, oauth.AccessDenied("user %s is deactivated", u.Username))
		return
	}
	ok, err := s.assigned(ctx, u.ID, c.AppID)
	if err != nil {
		s.redirectError(w, r, a, oauth.ServerError(err))
		return
	}
	if !ok {
		s.audit(ctx, auditRecord{Event: "authorize", Outcome: "denied", ClientID: c.ID, UserID: u.ID, Error: oauth.ErrAccessDenied, Reason: "user not assigned to the app"})
		s.redirectError(w, r, a, oauth.AccessDenied("%s is not assigned to %s; ask your administrator", u.Username, c.Name))
		return
	}
	code := randomToken()
	_, err = s.stmts.Exec(ctx, `INSERT INTO auth_codes(code_hash, client_id, user_id, sid, redirect_uri, scope, nonce, code_challenge, expires_at) VALUES (?,?,?,?,?,?,?,?,?)`,
		hashToken(code), c.ID, u.ID, sess.SID, a.RedirectURI, oauth.JoinScope(oauth.SplitScope(a.Scope)), a.Nonce, a.CodeChallenge, s.now().Add(time.Minute).Unix())
	if err != nil {
		s.redirectError(w, r, a, oauth.ServerError(err))
		return
	}
	q := url.Values{"code": {code}, "iss": {s.cfg.Issuer}}
	if a.State != "" {
		q.Set("state", a.State)
	}
	http.Redirect(w, r, withQuery(a.RedirectURI, q), http.StatusFound)
}

// ---- sessions ----

type session struct {
	SID      string
	UserID   string
	AuthTime time.Time
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, u *user) (*session, error) {
	cookie := randomToken()
	sess := &session{SID: "sid_" + randomToken()[:22], UserID: u.ID, AuthTime: s.now()}
	_, err := s.stmts.Exec(r.Context(), `INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sess.SID, hashToken(cookie), u.ID, sess.AuthTime.Unix(), s.now().Add(s.cfg.SessionTTL).Unix())
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: httpx.SecureCookie(s.cfg.Issuer, r), MaxAge: int(s.cfg.SessionTTL.Seconds())})
	return sess, nil
}

// currentSession returns the browser's live session and its user, or nils.
func (s *Server) currentSession(r *http.Request) (*session, *user, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil, nil
	}
	var sess session
	var authTime int64
	err = s.db.QueryRowContext(r.Context(), `SELECT sid, user_id, auth_time FROM sessions WHERE cookie_hash = ? AND revoked_at IS NULL AND expires_at > ?`,
		hashToken(ck.Value), s.now().Unix()).Scan(&sess.SID, &sess.UserID, &authTime)
	if err != nil {
		return nil, nil, nil // no such live session: sign in again
	}
	sess.AuthTime = time.Unix(authTime, 0)
	u, err := s.userBy(r.Context(), "id", sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	return &sess, u, nil
}

// ---- pages ----

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, a authzRequest, c *client, msg string, status int) {
	token := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	} else {
		token = randomToken()
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: httpx.SecureCookie(s.cfg.Issuer, r)})
	}
	s.render(w, status, "login.html", map[string]any{
		"Client": c.Name, "Hidden": a.hidden(), "CSRF": token, "Error": msg,
		"Username": r.PostFormValue("username"), "DemoUsers": demo.Users,
	})
}

func (s *Server) renderError(w http.ResponseWriter, e *oauth.Error) {
	if e.Code == oauth.ErrServerError {
		s.log.Error("authorize failed", "err", e.Err)
	}
	s.render(w, e.HTTPStatus(), "error.html", map[string]any{"Code": e.Code, "Description": e.Description})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	_, u, _ := s.currentSession(r)
	s.render(w, http.StatusOK, "home.html", map[string]any{"User": u, "Issuer": s.cfg.Issuer, "DemoUsers": demo.Users})
}

// loginCSP lets the login form's redirect reach the client's registered
// redirect URI (browsers apply form-action to redirects after a POST).
const loginCSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'"

func (s *Server) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	httpx.RenderHTML(w, s.tmpl, status, name, data, loginCSP, s.log)
}
