package server

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// The IdP's vendor behaviours (shared/quirks), each off unless the sandbox
// was started with it. They live here so the strict code paths read as the
// spec says and each switch is one call at its decision point.

// authenticateQuirks applies the client-authentication switches to the
// outcome of Authenticate: a restriction to one method, and the mock IdP's
// token exchange for a client that sends only its client_id.
func (s *Server) authenticateQuirks(r *http.Request, form url.Values, c *clientauth.Client, method string, err error) (*clientauth.Client, error) {
	q := s.cfg.Quirks
	if err == nil {
		return c, quirks.CheckAuthMethod(q.IdPClientAuth, method)
	}
	if !q.IdPNoClientAuth || form.Get("grant_type") != oauth.GrantTypeTokenExchange || form.Get("client_id") == "" ||
		r.Header.Get("Authorization") != "" || form.Has("client_secret") || form.Has("client_assertion") {
		return nil, err
	}
	known, lerr := s.client(r.Context(), form.Get("client_id"))
	if lerr != nil {
		return nil, err // unknown client: the original invalid_client
	}
	return &clientauth.Client{ID: known.ID}, nil
}

// appByResource finds the resource app that serves resource, for
// resource-overrides-audience.
func (s *Server) appByResource(ctx context.Context, resource string) (*app, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT audience FROM apps WHERE audience IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	var auds []string
	for rows.Next() {
		var aud sql.NullString
		if err := rows.Scan(&aud); err != nil {
			rows.Close()
			return nil, err
		}
		auds = append(auds, aud.String)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, aud := range auds {
		a, err := s.appByAudience(ctx, aud)
		if err != nil && !errors.Is(err, errNotFound) {
			return nil, err
		}
		if a != nil && slices.Contains(a.Resources, resource) {
			return a, nil
		}
	}
	return nil, errNotFound
}

// audienceFor is the audience the exchange resolves: the parameter, or with
// resource-overrides-audience the audience of the app serving resource.
func (s *Server) audienceFor(ctx context.Context, form url.Values) string {
	aud := form.Get("audience")
	if !s.cfg.Quirks.ResourceOverridesAudience || form.Get("resource") == "" {
		return aud
	}
	if a, err := s.appByResource(ctx, form.Get("resource")); err == nil {
		return a.Audience
	}
	return aud
}

// idJAGExtras are claims the switches add to an ID-JAG, merged over the
// strict claims when it is signed (nil when none is on).
func (s *Server) idJAGExtras(c *idJAGClaims, clientID, email string) map[string]any {
	q := s.cfg.Quirks
	if !q.AudArray && !q.ExtraClaims {
		return nil
	}
	extra := map[string]any{}
	if q.AudArray {
		extra["aud"] = []string(c.Audience)
	}
	if q.ExtraClaims {
		if c.Act == nil {
			extra["act"] = map[string]any{"sub": clientID}
		}
		extra["email"] = email
		extra["sub_profile"] = "user"
	}
	return extra
}
