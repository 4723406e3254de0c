package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	iss := s.cfg.Issuer
	w.Header().Set("Access-Control-Allow-Origin", "*")
	oauth.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                            iss,
		"authorization_endpoint":                            iss + "/oauth2/authorize",
		"token_endpoint":                                    iss + "/oauth2/token",
		"userinfo_endpoint":                                 iss + "/oauth2/userinfo",
		"jwks_uri":                                          iss + "/oauth2/jwks",
		"end_session_endpoint":                              iss + "/logout",
		"response_types_supported":                          []string{"code"},
		"response_modes_supported":                          []string{"query"},
		"subject_types_supported":                           []string{"public"},
		"id_token_signing_alg_values_supported":             []string{string(s.keys.Algorithm())},
		"scopes_supported":                                  []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                                  []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "name", "email", "preferred_username"},
		"grant_types_supported":                             []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken, oauth.GrantTypeTokenExchange},
		"token_endpoint_auth_methods_supported":             quirks.AuthMethods(s.cfg.Quirks.IdPClientAuth, clientauth.Methods),
		"token_endpoint_auth_signing_alg_values_supported":  []string{"RS256", "ES256", "PS256"},
		"code_challenge_methods_supported":                  []string{"S256"},
		"authorization_response_iss_parameter_supported":    true,
		"identity_chaining_requested_token_types_supported": []string{oauth.TokenTypeIDJAG},
		"request_uri_parameter_supported":                   false, // OIDC Discovery 3: omitted means true
		"dpop_signing_alg_values_supported":                 dpop.AlgorithmNames(),
	})
}

// token is the token endpoint. Steps shared by every grant (form parsing,
// client authentication, grant permission) happen here, once.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, err := oauth.ParseTokenForm(w, r)
	if err != nil {
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	ac, method, err := s.clients.Authenticate(r, form)
	ac, err = s.authenticateQuirks(r, form, ac, method, err)
	if err != nil {
		s.audit(r.Context(), auditRecord{Event: "client_auth", Outcome: "failed", ClientID: form.Get("client_id"), Error: oauth.AsError(err).Code, Reason: oauth.AsError(err).Description})
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	c, err := s.client(r.Context(), ac.ID)
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	gt := form.Get("grant_type")
	var resp any
	switch gt {
	case "":
		err = oauth.InvalidRequest("grant_type is missing")
	case oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken, oauth.GrantTypeTokenExchange:
		if !slices.Contains(c.GrantTypes, gt) {
			err = oauth.Errorf(oauth.ErrUnauthorizedClient, "client %q may not use grant type %s", c.ID, gt)
			break
		}
		switch gt {
		case oauth.GrantTypeAuthorizationCode:
			resp, err = s.codeGrant(r.Context(), c, form.Get)
		case oauth.GrantTypeRefreshToken:
			resp, err = s.refreshGrant(r.Context(), c, form.Get)
		case oauth.GrantTypeTokenExchange:
			resp, err = s.tokenExchange(withDPoPHeader(r), c, form)
		}
	default:
		err = oauth.Errorf(oauth.ErrUnsupportedGrantType, "grant_type %q is not supported here", gt)
	}
	if err != nil {
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func (s *Server) codeGrant(ctx context.Context, c *client, get func(string) string) (any, error) {
	code, verifier, redirectURI := get("code"), get("code_verifier"), get("redirect_uri")
	if code == "" || verifier == "" || redirectURI == "" {
		return nil, oauth.InvalidRequest("code, code_verifier and redirect_uri are required")
	}
	if !validVerifier(verifier) {
		return nil, oauth.InvalidRequest("code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 4.1)").WithRule("RFC 7636 4.1 code_verifier syntax")
	}
	var userID, sid, storedRedirect, scope, nonce, challenge, storedClient string
	var expires int64
	var used sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT client_id, user_id, sid, redirect_uri, scope, nonce, code_challenge, expires_at, used_at FROM auth_codes WHERE code_hash = ?`, hashToken(code)).
		Scan(&storedClient, &userID, &sid, &storedRedirect, &scope, &nonce, &challenge, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oauth.InvalidGrant("unknown authorization code")
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	// Client, redirect_uri and PKCE first: only the client the code was
	// issued to, proving the verifier, can trigger the replay response below;
	// anyone else just gets invalid_grant and revokes nothing.
	switch {
	case storedClient != c.ID:
		return nil, oauth.InvalidGrant("authorization code was issued to another client")
	case storedRedirect != redirectURI:
		return nil, oauth.InvalidGrant("redirect_uri differs from the authorization request")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return nil, oauth.InvalidGrant("code_verifier does not match the code_challenge (PKCE S256)")
	}
	switch {
	case used.Valid:
		// RFC 6749 4.1.2 / 10.5: a reused code may mean it leaked; revoke
		// everything issued with it by revoking the session it was issued
		// under (its refresh tokens, its ID tokens for token exchange, its
		// access tokens at userinfo).
		if err := s.revokeSession(ctx, sid); err != nil {
			return nil, oauth.ServerError(err)
		}
		s.audit(ctx, auditRecord{Event: "code_replay", Outcome: "denied", ClientID: c.ID, UserID: userID, Error: oauth.ErrInvalidGrant,
			Reason: "authorization code used twice; its session was revoked", Detail: map[string]any{"sid": sid}})
		return nil, oauth.InvalidGrant("authorization code was already used; tokens issued with it are revoked").WithRule("RFC 6749 4.1.2 code replay")
	case s.now().Unix() > expires:
		return nil, oauth.InvalidGrant("authorization code expired")
	}
	res, err := s.stmts.Exec(ctx, `UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL`, s.now().Unix(), hashToken(code))
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, oauth.InvalidGrant("authorization code was already used")
	}
	u, sess, err := s.liveUserSession(ctx, userID, sid)
	if err != nil {
		return nil, err
	}
	return s.issueTokens(ctx, c, u, sess, scope, nonce, true)
}

func (s *Server) refreshGrant(ctx context.Context, c *client, get func(string) string) (any, error) {
	rt := get("refresh_token")
	if rt == "" {
		return nil, oauth.InvalidRequest("refresh_token is missing")
	}
	rec, err := s.refreshToken(ctx, rt)
	if err != nil {
		return nil, err
	}
	if rec.ClientID != c.ID {
		return nil, oauth.InvalidGrant("refresh token was issued to another client")
	}
	scope := rec.Scope
	if req := get("scope"); req != "" {
		want := oauth.SplitScope(req)
		if got := oauth.Intersect(want, oauth.SplitScope(rec.Scope)); len(got) != len(want) {
			return nil, oauth.InvalidScope("requested scope exceeds the original grant (%s)", rec.Scope)
		}
		scope = oauth.JoinScope(want)
	}
	u, sess, err := s.liveUserSession(ctx, rec.UserID, rec.SID)
	if err != nil {
		return nil, err
	}
	// Sign-in checks the assignment; so does every refresh, so unassigning
	// the user from the app ends the grant.
	if ok, err := s.assigned(ctx, u.ID, c.AppID); err != nil {
		return nil, oauth.ServerError(err)
	} else if !ok {
		return nil, oauth.InvalidGrant("user %s is no longer assigned to %s", u.Username, c.Name).WithRule("checklist 1.3 user assigned to the requesting app")
	}
	resp, err := s.issueTokens(ctx, c, u, sess, scope, "", false)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// validVerifier checks RFC 7636 4.1: code-verifier = 43*128unreserved.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

type refreshRecord struct{ ClientID, UserID, SID, Scope string }

// refreshToken returns a live refresh token: unexpired, not revoked, and
// issued under a session that has not been revoked.
func (s *Server) refreshToken(ctx context.Context, rt string) (*refreshRecord, error) {
	var r refreshRecord
	var expires int64
	var revoked sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT client_id, user_id, sid, scope, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`, hashToken(rt)).
		Scan(&r.ClientID, &r.UserID, &r.SID, &r.Scope, &expires, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, oauth.InvalidGrant("unknown refresh token")
	case err != nil:
		return nil, oauth.ServerError(err)
	case revoked.Valid:
		return nil, oauth.InvalidGrant("refresh token was revoked")
	case s.now().Unix() > expires:
		return nil, oauth.InvalidGrant("refresh token expired")
	}
	return &r, nil
}

// liveUserSession loads a user and session for token issuance: the user must
// be active and the session not revoked.
func (s *Server) liveUserSession(ctx context.Context, userID, sid string) (*user, *session, error) {
	u, err := s.userBy(ctx, "id", userID)
	if errors.Is(err, errNotFound) {
		return nil, nil, oauth.InvalidGrant("user no longer exists")
	}
	if err != nil {
		return nil, nil, oauth.ServerError(err)
	}
	if !u.Active {
		return nil, nil, oauth.InvalidGrant("user %s is deactivated", u.Username)
	}
	var sess session
	var authTime int64
	var revoked sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT sid, user_id, auth_time, revoked_at FROM sessions WHERE sid = ?`, sid).Scan(&sess.SID, &sess.UserID, &authTime, &revoked)
	if errors.Is(err, sql.ErrNoRows) || revoked.Valid {
		return nil, nil, oauth.InvalidGrant("the Acme session behind this grant was revoked")
	}
	if err != nil {
		return nil, nil, oauth.ServerError(err)
	}
	sess.AuthTime = time.Unix(authTime, 0)
	return u, &sess, nil
}

// idTokenClaims are the claims of an ID token beyond the registered ones.
type idTokenClaims struct {
	jwt.Claims
	Nonce             string   `json:"nonce,omitempty"`
	AuthTime          int64    `json:"auth_time"`
	SID               string   `json:"sid"`
	AMR               []string `json:"amr"`
	AZP               string   `json:"azp"`
	Name              string   `json:"name,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     bool     `json:"email_verified,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
}

func (s *Server) issueTokens(ctx context.Context, c *client, u *user, sess *session, scope, nonce string, newRefresh bool) (*tokenResponse, error) {
	now := s.now()
	scopes := oauth.SplitScope(scope)
	claims := idTokenClaims{
		Claims: jwt.Claims{
			Issuer: s.cfg.Issuer, Subject: u.ID, Audience: jwt.Audience{c.ID},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(s.cfg.IDTokenTTL)), ID: randomToken()[:22],
		},
		Nonce: nonce, AuthTime: sess.AuthTime.Unix(), SID: sess.SID, AMR: []string{"pwd"}, AZP: c.ID,
	}
	if slices.Contains(scopes, "profile") {
		claims.Name, claims.PreferredUsername = u.Name, u.Username
	}
	if slices.Contains(scopes, "email") {
		claims.Email, claims.EmailVerified = u.Email, true
	}
	idt, err := s.keys.Sign(oauth.TypJWT, claims)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	at := randomToken()
	if _, err := s.stmts.Exec(ctx, `INSERT INTO access_tokens(token_hash, client_id, user_id, scope, expires_at, sid) VALUES (?,?,?,?,?,?)`,
		hashToken(at), c.ID, u.ID, scope, now.Add(s.cfg.AccessTokenTTL).Unix(), sess.SID); err != nil {
		return nil, oauth.ServerError(err)
	}
	resp := &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL.Seconds()), IDToken: idt, Scope: scope}
	if newRefresh && slices.Contains(scopes, "offline_access") {
		rt := randomToken()
		if _, err := s.stmts.Exec(ctx, `INSERT INTO refresh_tokens(token_hash, id, client_id, user_id, sid, scope, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)`,
			hashToken(rt), "rt_"+randomToken()[:16], c.ID, u.ID, sess.SID, scope, now.Unix(), now.Add(s.cfg.RefreshTokenTTL).Unix()); err != nil {
			return nil, oauth.ServerError(err)
		}
		resp.RefreshToken = rt
	}
	return resp, nil
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	challenge := func(code, desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
		oauth.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": code, "error_description": desc})
	}
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="acme"`)
		oauth.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": oauth.ErrInvalidRequest, "error_description": "send the access token as a Bearer Authorization header"})
		return
	}
	var userID, scope string
	var sessionLive bool
	// An access token lives no longer than the session it was issued under:
	// sign-out, an admin's revocation or a replayed code ends it (OIDC Core
	// 5.3; a token of a revoked grant must not keep answering).
	err := s.db.QueryRowContext(r.Context(), `SELECT a.user_id, a.scope, a.sid = '' OR EXISTS (SELECT 1 FROM sessions s WHERE s.sid = a.sid AND s.revoked_at IS NULL)
		FROM access_tokens a WHERE a.token_hash = ? AND a.expires_at > ?`, hashToken(strings.TrimSpace(h[7:])), s.now().Unix()).Scan(&userID, &scope, &sessionLive)
	if err != nil {
		challenge(oauth.ErrInvalidToken, "unknown or expired access token")
		return
	}
	if !sessionLive {
		challenge(oauth.ErrInvalidToken, "the Acme session this access token was issued under has ended")
		return
	}
	u, err := s.userBy(r.Context(), "id", userID)
	if err != nil || !u.Active {
		challenge(oauth.ErrInvalidToken, "the user is no longer active")
		return
	}
	out := map[string]any{"sub": u.ID}
	scopes := oauth.SplitScope(scope)
	if slices.Contains(scopes, "profile") {
		out["name"], out["preferred_username"] = u.Name, u.Username
	}
	if slices.Contains(scopes, "email") {
		out["email"], out["email_verified"] = u.Email, true
	}
	oauth.WriteJSON(w, http.StatusOK, out)
}
