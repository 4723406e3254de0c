package server

import (
	"net/url"
	"slices"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
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

// replayID is what records the ID-JAG as redeemed (grants.replay_id): its
// issuer and jti; nil with id-jag-reuse, where an ID-JAG may come again
// until it expires.
func (s *Server) replayID(t *jwtverify.Token) any {
	if s.cfg.Quirks.IDJAGReuse {
		return nil
	}
	return t.Claims.Issuer + "\x00" + t.Claims.ID
}
