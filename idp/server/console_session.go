package server

// The admin console's own session. An administrator signing in to the
// console must not replace the single sign-on session of whoever uses
// Agent0 or Todo0 in the same browser (the workshop's admin steps would
// otherwise sign alice out of Acme, and Agent0's next sign-in would loop on
// "admin is not assigned to Agent0"). So the console has its own cookie,
// scoped to /admin, backed by a row of the sessions table whose sid marks it
// as a console session: it never signs anyone in to an application, and the
// SSO cookie never opens the console.

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

const (
	consoleSessionCookie = "acme_idp_console_session"
	consoleSIDPrefix     = "console_"
	// consoleSessionTTL is shorter than an SSO session: it is an admin's.
	consoleSessionTTL = 8 * time.Hour
)

// createConsoleSession records a console session for an administrator and
// sets its cookie. The SSO cookie is left as it is.
func (s *Server) createConsoleSession(w http.ResponseWriter, r *http.Request, u *user) (string, error) {
	cookie := randomToken()
	sid := consoleSIDPrefix + randomToken()[:22]
	_, err := s.stmts.Exec(r.Context(), `INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sid, hashToken(cookie), u.ID, s.now().Unix(), s.now().Add(consoleSessionTTL).Unix())
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: consoleSessionCookie, Value: cookie, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(consoleSessionTTL.Seconds())})
	return sid, nil
}

// consoleSession returns the browser's live console session (sid, user and
// cookie value), or an empty sid.
func (s *Server) consoleSession(ctx context.Context, r *http.Request) (string, *user, string) {
	ck, err := r.Cookie(consoleSessionCookie)
	if err != nil || ck.Value == "" {
		return "", nil, ""
	}
	var sid, userID string
	err = s.db.QueryRowContext(ctx, `SELECT sid, user_id FROM sessions WHERE cookie_hash = ? AND revoked_at IS NULL AND expires_at > ?`,
		hashToken(ck.Value), s.now().Unix()).Scan(&sid, &userID)
	if err != nil || !strings.HasPrefix(sid, consoleSIDPrefix) {
		return "", nil, ""
	}
	u, err := s.userBy(ctx, "id", userID)
	if err != nil {
		return "", nil, ""
	}
	return sid, u, ck.Value
}

// consoleLogout ends the console session only (POST, same-origin, with the
// console's CSRF token); the SSO session in the same browser stays.
func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.renderConsoleError(w, crossSite())
		return
	}
	sid, u, cookie := s.consoleSession(r.Context(), r)
	if sid == "" {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(consoleCSRF(cookie))) != 1 {
		// Nothing is cleared: a forged sign-out must not end the session.
		s.renderConsoleError(w, &oauth.Error{Code: oauth.ErrAccessDenied, Description: "the sign-out form's CSRF token is missing or wrong; reload the page", Status: http.StatusForbidden})
		return
	}
	_, _ = s.stmts.Exec(r.Context(), `UPDATE sessions SET revoked_at = ? WHERE sid = ?`, s.now().Unix(), sid)
	s.audit(r.Context(), auditRecord{Event: "sign_out", Outcome: "ok", ClientID: "admin-console", UserID: u.ID, Detail: map[string]any{"sid": sid}})
	http.SetCookie(w, &http.Cookie{Name: consoleSessionCookie, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}
