package server

// /logout is Acme's end_session_endpoint (OpenID Connect RP-Initiated Logout
// 1.0). The specification lets relying parties send the browser here with GET
// or POST, so a cross-site page can send it too; what keeps such a request
// from signing a user out behind their back:
//
//   - It ends the session at once only with an id_token_hint that Acme
//     issued for the session the browser holds right now (a page that can
//     forge a sign-out would need the victim's own ID token).
//   - Otherwise it asks: a confirmation page whose form is a same-origin POST
//     with a CSRF token (double-submit cookie scoped to /logout). A POST that
//     fails either check ends nothing and clears nothing.
//   - post_logout_redirect_uri is followed only when it is registered for the
//     client the hint (or client_id) names, compared exactly, so /logout is
//     never an open redirector. state goes back with it.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

const logoutCSRFCookie = "acme_idp_logout_csrf"

// logoutRequest is an RP-initiated logout request.
type logoutRequest struct {
	IDTokenHint, ClientID, RedirectURI, State string
}

// idTokenHint is what a verified id_token_hint says.
type idTokenHint struct {
	Sub, SID, ClientID string
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		s.refuseLogout(w, oauth.InvalidRequest("malformed logout request"))
		return
	}
	req := logoutRequest{IDTokenHint: r.Form.Get("id_token_hint"), ClientID: r.Form.Get("client_id"),
		RedirectURI: r.Form.Get("post_logout_redirect_uri"), State: r.Form.Get("state")}
	var hint *idTokenHint
	if req.IDTokenHint != "" {
		var err error
		if hint, err = s.verifyIDTokenHint(ctx, req.IDTokenHint); err != nil {
			s.refuseLogout(w, oauth.InvalidRequest("id_token_hint is not an ID token Acme issued: %v", err).WithRule("checklist 8.2 id_token_hint"))
			return
		}
		if req.ClientID != "" && req.ClientID != hint.ClientID {
			s.refuseLogout(w, oauth.InvalidRequest("client_id %q is not the audience of id_token_hint", req.ClientID).WithRule("checklist 8.2 id_token_hint"))
			return
		}
		req.ClientID = hint.ClientID
	}
	clientName := ""
	if req.ClientID != "" {
		c, err := s.client(ctx, req.ClientID)
		if err != nil {
			s.refuseLogout(w, oauth.InvalidRequest("unknown client_id %q", req.ClientID))
			return
		}
		clientName = c.Name
	}
	if req.RedirectURI != "" {
		if req.ClientID == "" {
			s.refuseLogout(w, oauth.InvalidRequest("post_logout_redirect_uri needs an id_token_hint or a client_id naming the client it is registered for").WithRule("checklist 8.3 registered post-logout redirect"))
			return
		}
		if !slices.Contains(s.postLogoutRedirects(ctx, req.ClientID), req.RedirectURI) {
			s.refuseLogout(w, oauth.InvalidRequest("post_logout_redirect_uri %q is not registered for client %s", req.RedirectURI, req.ClientID).WithRule("checklist 8.3 registered post-logout redirect"))
			return
		}
	}

	sess, u, err := s.currentSession(r)
	if err != nil {
		s.renderError(w, oauth.ServerError(err))
		return
	}
	switch {
	case sess == nil:
		// Nothing to end (already signed out, or another browser).
	case hint != nil && hint.Sub == sess.UserID && (hint.SID == "" || hint.SID == sess.SID):
		s.revokeSSOSession(ctx, w, sess, req.ClientID)
	case r.Method == http.MethodPost && r.PostForm.Get("confirm") != "":
		if !s.sameOrigin(r) || !logoutCSRFOK(r) {
			s.renderLogoutConfirm(w, r, req, clientName, u, "That sign-out form was not sent from this page; nothing was signed out. Confirm again to sign out.", http.StatusForbidden)
			return
		}
		s.revokeSSOSession(ctx, w, sess, req.ClientID)
	default:
		s.renderLogoutConfirm(w, r, req, clientName, u, "", http.StatusOK)
		return
	}
	if req.RedirectURI != "" {
		q := url.Values{}
		if req.State != "" {
			q.Set("state", req.State)
		}
		http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "logged_out.html", map[string]any{"Client": clientName})
}

// verifyIDTokenHint accepts an ID token Acme signed for one of its clients.
// An expired one is still a good hint (RP-Initiated Logout 1.0 section 2),
// within the lifetime of the session it could belong to.
func (s *Server) verifyIDTokenHint(ctx context.Context, raw string) (*idTokenHint, error) {
	_, claims, err := jwtverify.Peek(raw)
	if err != nil {
		return nil, err
	}
	aud, _ := claims["aud"].(string)
	v := jwtverify.Verifier{
		Typ:      oauth.TypJWT,
		Issuers:  map[string]jwtverify.KeySource{s.cfg.Issuer: s.keys},
		Audience: aud,
		Skew:     s.cfg.SessionTTL,
		Required: []string{"sub", "aud"},
		Now:      s.now,
	}
	var extra struct {
		SID string `json:"sid"`
	}
	t, err := v.Verify(ctx, raw, &extra)
	if err != nil {
		return nil, err
	}
	return &idTokenHint{Sub: t.Claims.Subject, SID: extra.SID, ClientID: aud}, nil
}

// postLogoutRedirects are the client's registered post-logout redirect URIs.
func (s *Server) postLogoutRedirects(ctx context.Context, clientID string) []string {
	var raw string
	if err := s.db.QueryRowContext(ctx, `SELECT post_logout_redirect_uris FROM clients WHERE id = ?`, clientID).Scan(&raw); err != nil {
		return nil
	}
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

// revokeSSOSession ends the browser's Acme session: the cookie goes, and the
// ID tokens and refresh tokens of the session stop working as subject tokens
// for token exchange (checklist 6, revoked Acme session).
func (s *Server) revokeSSOSession(ctx context.Context, w http.ResponseWriter, sess *session, clientID string) {
	_, _ = s.stmts.Exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL`, s.now().Unix(), sess.SID)
	s.audit(ctx, auditRecord{Event: "sign_out", Outcome: "ok", ClientID: clientID, UserID: sess.UserID, Detail: map[string]any{"sid": sess.SID}})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	s.signalUser(ctx, EventSessionRevoked, sess.UserID, "user", "signed out of Acme")
}

func logoutCSRFOK(r *http.Request) bool {
	ck, err := r.Cookie(logoutCSRFCookie)
	return err == nil && len(ck.Value) >= 32 && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) == 1
}

func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, req logoutRequest, clientName string, u *user, msg string, status int) {
	token := ""
	if ck, err := r.Cookie(logoutCSRFCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	} else {
		token = randomToken()
		http.SetCookie(w, &http.Cookie{Name: logoutCSRFCookie, Value: token, Path: "/logout", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	s.render(w, status, "logout.html", map[string]any{
		"User": u, "Client": clientName, "CSRF": token, "Error": msg,
		"ClientID": req.ClientID, "RedirectURI": req.RedirectURI, "State": req.State,
	})
}

// refuseLogout explains a logout request Acme will not act on; nothing is
// signed out and the browser is not redirected anywhere.
func (s *Server) refuseLogout(w http.ResponseWriter, e *oauth.Error) {
	s.render(w, e.HTTPStatus(), "logout.html", map[string]any{"Refused": e})
}
