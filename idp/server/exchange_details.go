package server

import (
	"context"
	"net/url"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

// What a token exchange may add to an ID-JAG besides scope and resource:
// rich authorization details (RFC 9396, ID-JAG draft 4.3.3) and an actor
// (RFC 8693 2.1 and 4.1).

// requestedDetails parses the authorization_details parameter: absent is
// nil; present, it must be one JSON array of detail objects.
func requestedDetails(form url.Values) ([]rar.Detail, error) {
	vals := form["authorization_details"]
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, oauth.InvalidRequest("send authorization_details once, as one JSON array").WithRule("IDJAG 4.3.3 authorization_details")
	}
	d, err := rar.Parse([]byte(vals[0]))
	if err != nil {
		return nil, oauth.Errorf(oauth.ErrInvalidAuthorizationDetails, "%v", err).WithRule("IDJAG 4.3.3 authorization_details is a JSON array (RFC 9396 2)")
	}
	return d, nil
}

// grantDetails narrows the requested details to what the managed
// connection allows. Nothing requested is nil; something requested but
// nothing allowed is a refusal, as for scopes.
func grantDetails(req []rar.Detail, conn *connection) ([]rar.Detail, error) {
	if req == nil {
		return nil, nil
	}
	granted := rar.Narrow(req, conn.AuthorizationDetails)
	if len(granted) == 0 {
		return nil, oauth.Errorf(oauth.ErrInvalidAuthorizationDetails, "none of the requested authorization_details is allowed by the managed connection").
			WithRule("IDJAG 4.3.3 authorization_details narrowed by policy")
	}
	return granted, nil
}

// actorRequest checks the actor parameters' shape: RFC 8693 2.1 makes
// actor_token_type required with actor_token and forbidden without it. The
// only actor token this IdP understands is a JWT the client signs.
func actorRequest(form url.Values) error {
	tok, typ := form.Get("actor_token"), form.Get("actor_token_type")
	switch {
	case tok != "" && typ == "":
		return oauth.InvalidRequest("actor_token_type is required when actor_token is present (RFC 8693 2.1)").WithRule("RFC 8693 2.1 actor_token_type required")
	case tok == "" && typ != "":
		return oauth.InvalidRequest("actor_token_type was sent without an actor_token (RFC 8693 2.1)").WithRule("RFC 8693 2.1 actor_token_type")
	case tok != "" && typ != oauth.TokenTypeJWT:
		return oauth.InvalidRequest("actor_token_type %q is not supported; send a JWT signed with your registered key (%s)", typ, oauth.TokenTypeJWT).WithRule("RFC 8693 2.1 actor_token_type")
	}
	return nil
}

// actorMaxAge bounds how old an actor token may be.
const actorMaxAge = 5 * time.Minute

// actorClaim validates an actor token and returns the act claim for the
// ID-JAG (RFC 8693 4.1), or nil when there is none. The token is a JWT the
// authenticated client signed with the key it registered for
// private_key_jwt: iss is the client, sub names the actor (an agent, a
// sub-agent), aud is this IdP, and it is short-lived.
func (s *Server) actorClaim(ctx context.Context, c *client, raw string) (map[string]any, error) {
	if raw == "" {
		return nil, nil
	}
	if c.JWKSURI == "" {
		return nil, oauth.InvalidGrant("client %q registered no keys, so it cannot sign an actor token", c.ID).WithRule("RFC 8693 2.1 actor_token validated")
	}
	v := jwtverify.Verifier{
		Issuers:  map[string]jwtverify.KeySource{c.ID: s.clientKeys(c.JWKSURI)},
		Audience: s.cfg.Issuer,
		Skew:     s.cfg.ClockSkew,
		MaxAge:   actorMaxAge,
		Required: []string{"sub", "iat", "exp"},
		Now:      s.now,
	}
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, oauth.InvalidGrant("actor_token is not a valid JWT signed by client %q for this IdP: %v", c.ID, err).WithRule("RFC 8693 2.1 actor_token validated")
	}
	return map[string]any{"sub": t.Claims.Subject, "client_id": c.ID}, nil
}
