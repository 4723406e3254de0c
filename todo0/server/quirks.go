package server

import (
	"context"
	"net/url"
	"slices"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
)

// Todo0's vendor behaviours (shared/quirks), each off unless the sandbox was
// started with it; one call each at its decision point in redeemIDJAG.

// quirkResource is the ID-JAG's resource as the AS reads it: "" (the
// default resource) when ignore-resource is on, our own spelling when
// trailing-slash is on and it differs only by the slash.
func (s *Server) quirkResource(resource string) string {
	q := s.cfg.Quirks
	if q.IgnoreResource {
		return ""
	}
	for _, ours := range s.cfg.Resources {
		if q.SameURL(resource, ours) {
			return ours
		}
	}
	return resource
}

// scopeIgnoringIDJAG is what ignore-scope grants: the requested scope, or
// the default scopes, whatever the ID-JAG allows.
func (s *Server) scopeIgnoringIDJAG(form url.Values) []string {
	if req := oauth.SplitScope(form.Get("scope")); len(req) > 0 {
		return req
	}
	return slices.Clone(s.cfg.DefaultScopes)
}

// withoutScope drops the request's scope (ignore-scope).
func withoutScope(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		if k != "scope" {
			out[k] = v
		}
	}
	return out
}

// useJTI records the ID-JAG's jti, refusing a replay; with id-jag-reuse an
// ID-JAG may come again until it expires.
func (s *Server) useJTI(ctx context.Context, tx replay.Execer, t *jwtverify.Token) error {
	if s.cfg.Quirks.IDJAGReuse {
		return nil
	}
	return replay.UseIn(ctx, tx, "id-jag", t.Claims.Issuer, t.Claims.ID, t.Claims.Expiry.Time())
}
