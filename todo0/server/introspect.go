package server

import (
	"net/http"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// introspect is token introspection (RFC 7662) for Todo0's service clients:
// Todo0 MCP asks it whether an access token is still active, which is how
// it learns of a revocation Todo0 heard about through Shared Signals
// (checklist 9.2) without sharing Todo0's database. An access token Todo0
// did not issue, an expired one and a revoked one are all {"active": false}.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "introspection is a POST (RFC 7662 2.1)", Status: http.StatusMethodNotAllowed})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauth.WriteError(w, r, oauth.InvalidRequest("malformed form"))
		return
	}
	c, _, err := s.clients.Authenticate(r, r.PostForm)
	if err != nil {
		oauth.WriteError(w, r, err)
		return
	}
	if full, err := s.client(r.Context(), c.ID); err != nil || full.Kind != "service" {
		oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrAccessDenied, Description: "only Todo0's service clients may introspect tokens", Status: http.StatusForbidden})
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		oauth.WriteError(w, r, oauth.InvalidRequest("token is required"))
		return
	}
	v := jwtverify.Verifier{
		Typ:      oauth.TypAccessToken,
		Issuers:  map[string]jwtverify.KeySource{s.cfg.PublicURL: s.keys},
		Skew:     s.cfg.ClockSkew,
		Required: []string{"sub", "jti", "client_id"},
		Now:      s.now,
	}
	var extra struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	t, err := v.Verify(r.Context(), tok, &extra)
	if err != nil {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	revoked, err := s.tokenRevoked(r.Context(), t.Claims.ID)
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	if revoked {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	oauth.WriteJSON(w, http.StatusOK, map[string]any{
		"active": true, "iss": s.cfg.PublicURL, "sub": t.Claims.Subject, "client_id": extra.ClientID, "scope": extra.Scope,
		"aud": t.Claims.Audience, "exp": t.Claims.Expiry.Time().Unix(), "jti": t.Claims.ID, "token_type": "Bearer",
	})
}
