package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

// Token exchange for an ID-JAG (RFC 8693 as profiled by the ID-JAG draft,
// checklist 1). The checks run in this order, each failing with
// the project's chosen code:
//
//	 1. requested_token_type = id-jag                     invalid_request
//	 2. audience, subject_token, subject_token_type given invalid_request
//	 3. subject_token_type is id_token, saml2 or refresh_token invalid_request
//	    authorization_details a JSON array (RFC 9396 2)      invalid_authorization_details
//	    actor_token and actor_token_type together (RFC 8693 2.1) invalid_request
//	    a DPoP proof, if sent, valid for POST to this endpoint invalid_dpop_proof
//	 4. subject token valid, ours, for this client (1.1/1.2) invalid_grant
//	    actor token, if sent, signed by this client (RFC 8693) invalid_grant
//	 5. audience is a known resource app, not the IdP (1.6) invalid_target
//	 6. resource, if sent, is an absolute URI the app serves  invalid_target
//	 7. user active (1.3)                                  access_denied
//	 8. user assigned to the requesting app and to the
//	    resource app (1.3)                                  access_denied
//	 9. managed connection client -> app, enabled (1.4)    access_denied
//	10. user in the connection's group, if it has one (1.4) access_denied
//	    sign-in recent enough for the connection (step-up) insufficient_user_authentication
//	11. resource allowed by the connection (1.4)           access_denied
//	12. scopes narrowed to the connection's (1.5)          invalid_scope if none left
//	    authorization_details narrowed likewise (IDJAG 4.3.3) invalid_authorization_details
//	13. mint the ID-JAG (section 2), bent by any active fault (faults.go),
//	    and audit the decision either way (1.7)
//
// Client authentication (confidential clients only) happened in the token
// endpoint before this runs.

// idJAGClaims are an ID-JAG's claims (ID-JAG draft section 3).
type idJAGClaims struct {
	jwt.Claims
	ClientID string   `json:"client_id"`
	Resource string   `json:"resource,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Email    string   `json:"email,omitempty"`
	// AuthorizationDetails are the granted RFC 9396 details (IDJAG 4.3.3).
	AuthorizationDetails []rar.Detail `json:"authorization_details,omitempty"`
	// Act names the actor (RFC 8693 4.1) when the request had an actor token.
	Act map[string]any `json:"act,omitempty"`
	// Cnf binds the ID-JAG to the DPoP key of the exchange (RFC 9449 6.1).
	Cnf map[string]string `json:"cnf,omitempty"`
}

type exchangeResponse struct {
	IssuedTokenType string `json:"issued_token_type"`
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
	// AuthorizationDetails are the granted details, sent whenever the
	// request had some (IDJAG 4.3.3: MUST when they differ).
	AuthorizationDetails []rar.Detail `json:"authorization_details,omitempty"`
}

// subject is who the subject token speaks for.
type subject struct {
	UserID, SID string
	AuthTime    int64
}

func (s *Server) tokenExchange(ctx context.Context, c *client, form url.Values) (any, error) {
	// The exchange does not stop when the client hangs up: its work is a few
	// statements of well under a millisecond each (and a JWKS fetch that has
	// its own timeout), and with a cancellable context database/sql and the
	// SQLite driver each start a goroutine per statement to watch it, about
	// 7% of an exchange's CPU. A client that is gone gets nothing either way.
	ctx = context.WithoutCancel(ctx)
	rec := auditRecord{Event: "token_exchange", ClientID: c.ID, Detail: map[string]any{
		"audience": form.Get("audience"), "resource": form.Get("resource"), "scope": form.Get("scope"),
		"subject_token_type": form.Get("subject_token_type"),
	}}
	resp, userID, err := s.exchange(ctx, c, form, rec.Detail)
	rec.UserID = userID
	rec.AppID, _ = rec.Detail["resource_app"].(string)
	if err != nil {
		oe := oauth.AsError(err)
		rec.Outcome, rec.Error, rec.Reason, rec.Rule = "denied", oe.Code, oe.Description, oe.Rule
		s.audit(ctx, rec)
		return nil, err
	}
	rec.Outcome = "granted"
	// checklist 1.7: a grant the audit log does not show is not handed out.
	if err := s.writeAudit(ctx, rec); err != nil {
		return nil, oauth.ServerError(fmt.Errorf("audit: %w", err))
	}
	return resp, nil
}

func (s *Server) exchange(ctx context.Context, c *client, form url.Values, detail map[string]any) (*exchangeResponse, string, error) {
	// 1-3: the request itself.
	if rtt := form.Get("requested_token_type"); rtt != oauth.TokenTypeIDJAG {
		if rtt == "" {
			return nil, "", oauth.InvalidRequest("requested_token_type is missing; this IdP issues %s", oauth.TokenTypeIDJAG).WithRule("IDJAG 4.3 requested_token_type")
		}
		return nil, "", oauth.InvalidRequest("requested_token_type %q is not supported; this IdP issues %s", rtt, oauth.TokenTypeIDJAG).WithRule("IDJAG 4.3 requested_token_type")
	}
	for _, p := range []string{"audience", "subject_token", "subject_token_type"} {
		if form.Get(p) == "" {
			return nil, "", oauth.InvalidRequest("%s is missing", p).WithRule("RFC 8693 2.1 required parameter")
		}
	}
	if len(form["audience"]) > 1 || len(form["resource"]) > 1 {
		return nil, "", oauth.InvalidRequest("send one audience and at most one resource per ID-JAG").WithRule("IDJAG 4.3 single audience")
	}
	reqDetails, derr := requestedDetails(form)
	if derr != nil {
		return nil, "", derr
	}
	if aerr := actorRequest(form); aerr != nil {
		return nil, "", aerr
	}
	jkt, perr := s.dpopBinding(ctx)
	if perr != nil {
		return nil, "", perr
	}
	// 4: who is the subject?
	var sub *subject
	var err error
	switch stt := form.Get("subject_token_type"); stt {
	case oauth.TokenTypeIDToken:
		sub, err = s.idTokenSubject(ctx, c, form.Get("subject_token"))
	case oauth.TokenTypeRefreshToken:
		sub, err = s.refreshTokenSubject(ctx, c, form.Get("subject_token"))
	case oauth.TokenTypeSAML2:
		sub, err = s.samlSubject(ctx, c, form.Get("subject_token")) // saml.go
	default:
		return nil, "", oauth.InvalidRequest("subject_token_type %q is not supported (use %s, %s or %s)", stt, oauth.TokenTypeIDToken, oauth.TokenTypeSAML2, oauth.TokenTypeRefreshToken).WithRule("IDJAG 4.3 subject_token_type")
	}
	if err != nil {
		return nil, "", err
	}
	act, err := s.actorClaim(ctx, c, form.Get("actor_token"))
	if err != nil {
		return nil, sub.UserID, err
	}
	// 5-6: where is the ID-JAG going?
	audience := s.audienceFor(ctx, form) // the parameter, unless a quirk says otherwise
	if audience == s.cfg.Issuer {
		return nil, sub.UserID, oauth.InvalidTarget("the audience is this IdP itself; an ID-JAG is for a resource authorization server").WithRule("checklist 1.6 audience is not the IdP")
	}
	app, err := s.appByAudience(ctx, audience)
	if errors.Is(err, errNotFound) {
		return nil, sub.UserID, oauth.InvalidTarget("audience %q is not a resource application known to Acme", audience).WithRule("checklist 1.4 known audience")
	}
	if err != nil {
		return nil, sub.UserID, oauth.ServerError(err)
	}
	detail["resource_app"] = app.ID
	resource := form.Get("resource")
	if resource != "" {
		u, perr := url.Parse(resource)
		if perr != nil || !u.IsAbs() || u.Fragment != "" || u.RawFragment != "" {
			return nil, sub.UserID, oauth.InvalidTarget("resource must be an absolute URI without a fragment (RFC 8707 2)").WithRule("RFC 8707 2 resource form")
		}
		if !slices.Contains(app.Resources, resource) {
			return nil, sub.UserID, oauth.InvalidTarget("resource %q is not served by %s (audience %s)", resource, app.Name, audience).WithRule("checklist 1.4 (audience, resource) pair")
		}
	}
	// 7-8: may this user reach the app?
	u, assignedTo, err := s.userWithAssignments(ctx, sub.UserID, c.AppID, app.ID)
	if errors.Is(err, errNotFound) {
		return nil, sub.UserID, oauth.InvalidGrant("the subject no longer exists").WithRule("checklist 1.3 user exists")
	}
	if err != nil {
		return nil, sub.UserID, oauth.ServerError(err)
	}
	if !u.Active {
		return nil, u.ID, oauth.AccessDenied("user %s is deactivated", u.Username).WithRule("checklist 1.3 user active")
	}
	// The requesting app too: unassigning the user from it ends its XAA at once,
	// not when the subject token runs out.
	if !assignedTo[0] {
		return nil, u.ID, oauth.AccessDenied("user %s is no longer assigned to %s, the requesting app", u.Username, c.Name).WithRule("checklist 1.3 user assigned to the requesting app")
	}
	if !assignedTo[1] {
		return nil, u.ID, oauth.AccessDenied("user %s is not assigned to %s", u.Username, app.Name).WithRule("checklist 1.3 user assigned")
	}
	// 9-12: admin policy.
	conn, err := s.connection(ctx, c.ID, app.ID)
	if errors.Is(err, errNotFound) {
		return nil, u.ID, oauth.AccessDenied("no managed connection lets %s act at %s", c.Name, app.Name).WithRule("checklist 1.4 managed connection")
	}
	if err != nil {
		return nil, u.ID, oauth.ServerError(err)
	}
	if !conn.Enabled {
		return nil, u.ID, oauth.AccessDenied("the managed connection %s -> %s is disabled by the administrator", c.Name, app.Name).WithRule("checklist 1.4 connection enabled")
	}
	if conn.GroupID != "" {
		member, err := s.inGroup(ctx, u.ID, conn.GroupID)
		if err != nil {
			return nil, u.ID, oauth.ServerError(err)
		}
		if !member {
			return nil, u.ID, oauth.AccessDenied("the managed connection %s -> %s is restricted to group %s, and %s is not a member", c.Name, app.Name, conn.GroupID, u.Username).WithRule("checklist 1.4 connection group restriction")
		}
	}
	if err := s.stepUp(conn, sub); err != nil {
		return nil, u.ID, err
	}
	if resource != "" && !slices.Contains(conn.Resources, resource) {
		return nil, u.ID, oauth.AccessDenied("the managed connection does not allow resource %q", resource).WithRule("checklist 1.4 resource allowed")
	}
	// Allowed = the connection's scopes that the resource app still knows.
	allowed := oauth.Intersect(conn.Scopes, app.Scopes)
	requested := oauth.SplitScope(form.Get("scope"))
	granted := allowed
	if len(requested) > 0 {
		granted = oauth.Intersect(requested, allowed)
	}
	if len(granted) == 0 {
		if len(requested) > 0 {
			return nil, u.ID, oauth.InvalidScope("none of the requested scopes (%s) is allowed by the managed connection (%s)", oauth.JoinScope(requested), oauth.JoinScope(allowed)).WithRule("checklist 1.5 scope narrowing")
		}
		return nil, u.ID, oauth.InvalidScope("the managed connection allows no scopes at %s", app.Name).WithRule("checklist 1.5 scope narrowing")
	}
	details, err := grantDetails(reqDetails, conn)
	if err != nil {
		return nil, u.ID, err
	}
	detail["granted_scope"] = oauth.JoinScope(granted)
	detail["connection"] = conn.ID
	if details != nil {
		detail["authorization_details"] = details
	}
	if act != nil {
		detail["actor"] = act["sub"]
	}
	// 13: mint.
	now := s.now()
	claims := idJAGClaims{
		Claims: jwt.Claims{
			Issuer: s.cfg.Issuer, Subject: u.ID, Audience: jwt.Audience{app.Audience},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(s.cfg.IDJAGTTL)), ID: randomToken(),
		},
		ClientID: conn.ResourceClientID, Resource: resource, Scope: oauth.JoinScope(granted),
		AuthTime: sub.AuthTime, AMR: []string{"pwd"},
		AuthorizationDetails: details, Act: act,
	}
	if jkt != "" {
		claims.Cnf = map[string]string{"jkt": jkt}
		detail["dpop_jkt"] = jkt
	}
	if conn.IncludeEmail {
		claims.Email = u.Email
	}
	typ := s.applyFaults(&claims, c.ID)
	if active := s.faults.Active(); len(active) > 0 {
		detail["faults"] = active
	}
	jag, err := s.signIDJAG(typ, claims, s.idJAGExtras(&claims, c.ID, u.Email))
	if err != nil {
		return nil, u.ID, oauth.ServerError(err)
	}
	detail["jti"] = claims.ID
	return &exchangeResponse{
		IssuedTokenType:      oauth.TokenTypeIDJAG,
		AccessToken:          jag,
		TokenType:            "N_A",
		ExpiresIn:            int64(s.cfg.IDJAGTTL.Seconds()),
		Scope:                oauth.JoinScope(granted),
		AuthorizationDetails: details,
	}, u.ID, nil
}

// idTokenSubject validates an ID token as a subject token (checklist 1.1):
// our signature, our issuer, unexpired, aud = the authenticated client, typ
// JWT (an ID-JAG is not an ID token), and a session that was not revoked.
func (s *Server) idTokenSubject(ctx context.Context, c *client, raw string) (*subject, error) {
	v := jwtverify.Verifier{
		Typ:      oauth.TypJWT,
		Issuers:  map[string]jwtverify.KeySource{s.cfg.Issuer: s.keys},
		Audience: c.ID,
		Skew:     s.cfg.ClockSkew,
		Required: []string{"sub", "iat"},
		Now:      s.now,
	}
	var extra struct {
		SID      string
		AuthTime int64
	}
	t, err := v.Verify(ctx, raw)
	if err == nil {
		if err = errors.Join(t.Claim("sid", &extra.SID), t.Claim("auth_time", &extra.AuthTime)); err != nil {
			err = fmt.Errorf("%w: claims: %v", jwtverify.ErrMalformed, err)
		}
	}
	if err != nil {
		rule := "checklist 1.1 subject token"
		if errors.Is(err, jwtverify.ErrAudience) {
			rule = "checklist 1.1 ID token aud = client"
		}
		return nil, oauth.InvalidGrant("subject_token is not a valid ID token from this IdP for client %q: %v", c.ID, err).WithRule(rule)
	}
	if extra.SID != "" {
		var revoked bool
		err := s.stmts.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM sessions WHERE sid = ?`, extra.SID).Scan(&revoked)
		if err != nil || revoked {
			return nil, oauth.InvalidGrant("the Acme session this ID token belongs to was revoked").WithRule("checklist 6 revoked IdP session")
		}
	}
	return &subject{UserID: t.Claims.Subject, SID: extra.SID, AuthTime: extra.AuthTime}, nil
}

// refreshTokenSubject validates a refresh token as a subject token
// (checklist 1.2): ours, issued to this client, live.
func (s *Server) refreshTokenSubject(ctx context.Context, c *client, raw string) (*subject, error) {
	rec, err := s.refreshToken(ctx, raw)
	if err != nil {
		return nil, oauth.AsError(err).WithRule("checklist 1.2 refresh token subject")
	}
	if rec.ClientID != c.ID {
		return nil, oauth.InvalidGrant("the refresh token was issued to another client").WithRule("checklist 1.2 refresh token client")
	}
	if !slices.Contains(oauth.SplitScope(rec.Scope), "openid") {
		return nil, oauth.InvalidGrant("the refresh token's grant has no openid scope, so it does not identify a user").WithRule("checklist 1.2 scopes within grant")
	}
	var authTime int64
	var revoked bool
	err = s.stmts.QueryRow(ctx, `SELECT auth_time, revoked_at IS NOT NULL FROM sessions WHERE sid = ?`, rec.SID).Scan(&authTime, &revoked)
	if err != nil || revoked {
		return nil, oauth.InvalidGrant("the Acme session behind this refresh token was revoked").WithRule("checklist 6 revoked IdP session")
	}
	// Whether the user is still active is policy, checked by the caller (access_denied).
	return &subject{UserID: rec.UserID, SID: rec.SID, AuthTime: authTime}, nil
}
