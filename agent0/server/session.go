package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oidcrp"
)

const sessionCookie = "agent0_session"

// sessionTTL is how long an Agent0 sign-in lasts; within it the ID token is
// renewed with the IdP refresh token as needed.
const sessionTTL = 12 * time.Hour

func randomID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// session is a signed-in Agent0 user.
type session struct {
	ID, Sub, Name, Email, CSRF string
	IDToken, RefreshToken      string
	IDTokenExp                 time.Time
}

func (s *Server) currentSession(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	var ss session
	var exp int64
	err = s.db.QueryRowContext(r.Context(), `SELECT id, sub, name, email, csrf, id_token, refresh_token, id_token_exp FROM sessions WHERE cookie_hash = ? AND expires_at > ?`,
		hash(ck.Value), s.now().Unix()).Scan(&ss.ID, &ss.Sub, &ss.Name, &ss.Email, &ss.CSRF, &ss.IDToken, &ss.RefreshToken, &exp)
	if err != nil {
		return nil
	}
	ss.IDTokenExp = time.Unix(exp, 0)
	return &ss
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	// The sign-in's own exchanges (code for tokens) open the session's
	// flow inspector record.
	rec := s.newRecorder()
	r = r.WithContext(withRecorder(r.Context(), rec))
	id, _, err := s.rp.FinishLogin(w, r)
	if err != nil {
		status := http.StatusBadRequest
		var le *oidcrp.LoginError
		if errors.As(err, &le) {
			status = http.StatusForbidden
		}
		s.render(w, status, "home.html", map[string]any{"Error": "Sign-in with Acme failed: " + err.Error(), "IdP": s.cfg.IdPIssuer})
		return
	}
	cookie := randomID()
	sessionID := randomID()
	_, err = s.db.ExecContext(r.Context(), `INSERT INTO sessions(id, cookie_hash, sub, name, email, id_token, id_token_exp, refresh_token, csrf, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		sessionID, hash(cookie), id.Subject, id.Name, id.Email, id.IDToken, id.IDTokenExpiry.Unix(), id.RefreshToken, randomID(), s.now().Unix(), s.now().Add(sessionTTL).Unix())
	if err != nil {
		s.log.Error("session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.connectionWith(sessionID, rec)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: httpx.SecureCookie(s.cfg.PublicURL, r), MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout signs the user out of Agent0 (POST with the session's CSRF token:
// a request without it ends nothing and clears nothing), and with "acme" set
// out of Acme too, through the IdP's end_session_endpoint.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !s.csrfOK(r, ss) {
		s.render(w, http.StatusForbidden, "signout.html", map[string]any{"Refused": true})
		return
	}
	_, _ = s.db.ExecContext(r.Context(), `DELETE FROM sessions WHERE id = ?`, ss.ID)
	s.forget(ss.ID)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	if r.PostFormValue("acme") == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	endpoint, params, err := s.rp.EndSession(r.Context(), ss.IDToken, s.cfg.PublicURL+"/", "")
	if err != nil {
		s.render(w, http.StatusBadGateway, "signout.html", map[string]any{"Error": "Acme's sign-out could not be reached: " + err.Error()})
		return
	}
	s.render(w, http.StatusOK, "signout.html", map[string]any{"Endpoint": endpoint, "Params": params})
}

func (s *Server) csrfOK(r *http.Request, ss *session) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) == 1
}

// idToken returns a current ID token for the session, renewing it with the
// IdP refresh token when it is about to expire.
func (s *Server) idToken(ctx context.Context, sessionID string) (string, error) {
	var idt, rt string
	var exp int64
	err := s.db.QueryRowContext(ctx, `SELECT id_token, refresh_token, id_token_exp FROM sessions WHERE id = ?`, sessionID).Scan(&idt, &rt, &exp)
	if err != nil {
		return "", errors.New("you are signed out of Agent0")
	}
	if time.Unix(exp, 0).After(s.now().Add(30 * time.Second)) {
		return idt, nil
	}
	if rt == "" {
		return "", errors.New("your Acme ID token expired and Agent0 has no refresh token; sign in again")
	}
	id, err := s.rp.Refresh(ctx, rt)
	if err != nil {
		return "", err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE sessions SET id_token = ?, id_token_exp = ?, refresh_token = ? WHERE id = ?`, id.IDToken, id.IDTokenExpiry.Unix(), id.RefreshToken, sessionID)
	return id.IDToken, err
}
