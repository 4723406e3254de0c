package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func randomID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// knownScopes are the scopes Todo0 understands.
var knownScopes = demo.Todo0Scopes

// idJAGAlgorithms are the only algorithms accepted on an ID-JAG: asymmetric,
// so the IdP's public key can never double as an HMAC secret.
var idJAGAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256}

// metadata is RFC 8414 metadata. It deliberately does not list the IdPs
// Todo0 trusts (checklist 3): that would tell an attacker whom to phish.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	iss := s.cfg.PublicURL
	w.Header().Set("Access-Control-Allow-Origin", "*")
	oauth.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                 iss,
		"token_endpoint":                         iss + "/oauth2/token",
		"jwks_uri":                               iss + "/oauth2/jwks",
		"grant_types_supported":                  []string{oauth.GrantTypeJWTBearer},
		"authorization_grant_profiles_supported": []string{oauth.GrantProfileIDJAG},
		"token_endpoint_auth_methods_supported":  quirks.AuthMethods(s.cfg.Quirks.ASClientAuth, clientauth.Methods),
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256", "PS256"},
		"scopes_supported": knownScopes,
		// RFC 9449 5.1: proofs Todo0 accepts at its token endpoint.
		"dpop_signing_alg_values_supported": dpop.AlgorithmNames(),
		// Todo0 issues tokens only for ID-JAGs, so its authorization endpoint
		// grants nothing (authorizeEndpoint). It is listed because the
		// TypeScript MCP SDK's metadata schema requires the field, and PKCE is
		// listed because the Go MCP SDK refuses metadata without it.
		"authorization_endpoint":           iss + "/oauth2/authorize",
		"response_types_supported":         []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
		// RFC 7662 for Todo0's service clients (Todo0 MCP learns of
		// revocations this way); RFC 8414 2 names where it is and how a
		// client authenticates there.
		"introspection_endpoint":                        iss + "/oauth2/introspect",
		"introspection_endpoint_auth_methods_supported": clientauth.Methods,
	})
}

// authorizeEndpoint answers every authorization request with an error: a
// user reaches Todo0 through their enterprise IdP (Cross App Access), never
// through an interactive grant here. The error is shown, not redirected,
// because no client has a redirect URI registered at Todo0.
func (s *Server) authorizeEndpoint(w http.ResponseWriter, r *http.Request) {
	oauth.WriteError(w, r, oauth.Errorf(oauth.ErrUnsupportedRespType,
		"Todo0's authorization server has no interactive authorization: obtain an ID-JAG from your enterprise IdP and redeem it at %s/oauth2/token (%s)",
		s.cfg.PublicURL, oauth.GrantTypeJWTBearer))
}

// token is the token endpoint. Order: request shape (POST, form, size,
// no repeated parameter), client authentication, grant_type, then the grant's
// own checks (redeemIDJAG). Faults, when switched on, act first
// (server_error), once the body is read (slow), or on the success response
// (refresh_token, wrong_token_type).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.faults.On(FaultServerError) {
		oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrServerError, Status: http.StatusInternalServerError,
			Description: "simulated failure: the sandbox fault token.server_error is on", Err: errors.New("fault token.server_error")})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost) // RFC 9110 15.5.6 with the 405 below
	}
	form, err := oauth.ParseTokenForm(w, r)
	if err != nil {
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	// The slow fault waits only once the body is read: net/http notices a
	// client that gave up (and cancels the context) only after that.
	if s.faults.On(FaultSlow) {
		t := time.NewTimer(slowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up; nobody is left to answer
		}
	}
	c, method, err := s.clients.Authenticate(r, form)
	if err == nil {
		err = quirks.CheckAuthMethod(s.cfg.Quirks.ASClientAuth, method)
	}
	if err != nil {
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	var resp any
	switch gt := form.Get("grant_type"); gt {
	case "":
		err = oauth.InvalidRequest("grant_type is missing")
	case oauth.GrantTypeJWTBearer:
		// The redemption runs to its end when the client hangs up, as the
		// IdP's exchange does: its statements are short, and a cancellable
		// context costs a watching goroutine per statement in database/sql
		// and the SQLite driver. A client that is gone gets nothing either way.
		resp, err = s.redeemIDJAG(withDPoPHeader(r.WithContext(context.WithoutCancel(r.Context()))), c, form)
	default:
		err = oauth.Errorf(oauth.ErrUnsupportedGrantType, "grant_type %q is not supported; Todo0 accepts %s with an ID-JAG", gt, oauth.GrantTypeJWTBearer)
	}
	if err != nil {
		oe := oauth.AsError(err)
		s.log.Info("token request refused", "client", c.ID, "error", oe.Code, "rule", oe.Rule, "description", oe.Description)
		oauth.WriteError(w, r, s.cfg.Quirks.Describe(err))
		return
	}
	if tr, ok := resp.(tokenResponse); ok {
		if s.faults.On(FaultWrongTokenType) {
			tr.TokenType = "N_A"
		}
		if s.faults.On(FaultRefreshToken) {
			tr.RefreshToken = "fault-" + randomID()
		}
		resp = tr
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

// idJAG is the part of an ID-JAG's claims Todo0 reads.
type idJAG struct {
	ClientID string `json:"client_id"`
	// Resource is a URI or an array of URIs (grantedResource reads it).
	Resource json.RawMessage `json:"resource"`
	// AuthorizationDetails are RFC 9396 details (grantedDetails reads them).
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
	// Act names an actor (RFC 8693 4.1); it is carried into the access token.
	Act   map[string]any `json:"act"`
	Scope string         `json:"scope"`
	// Cnf binds the ID-JAG to a DPoP key (redemptionBinding).
	Cnf   *jagCnf `json:"cnf"`
	Email string  `json:"email"`
	Name  string  `json:"name"`
}

type accessTokenClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	AuthTime int64  `json:"auth_time,omitempty"`
	// AuthorizationDetails (RFC 9396 9.1) and act (RFC 8693 4.1), as granted.
	AuthorizationDetails []rar.Detail   `json:"authorization_details,omitempty"`
	Act                  map[string]any `json:"act,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 6.1).
	Cnf map[string]string `json:"cnf,omitempty"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	// Resource and AuthorizationDetails are what was granted (IDJAG 4.4.1).
	Resource             string       `json:"resource,omitempty"`
	AuthorizationDetails []rar.Detail `json:"authorization_details,omitempty"`
	// RefreshToken is only ever set by the token.refresh_token fault.
	RefreshToken string `json:"refresh_token,omitempty"`
}

// redeemIDJAG is the jwt-bearer grant with an ID-JAG (RFC 7523 as profiled by
// the ID-JAG draft; checklist 3). Checks, cheapest first:
//
//  0. the client is authenticated (token endpoint) and may redeem ID-JAGs
//  1. typ = oauth-id-jag+jwt                  2. alg on the allow-list
//  3. iss trusted; kid in its JWKS; signature 4. aud = this issuer, exactly
//  6. exp, nbf, iat (with skew, iat not too old); required claims present,
//     and sub, client_id, jti non-empty strings (jwtverify refuses "" and null)
//  5. client_id = the authenticated client
//  8. resource is one of ours                 9. scopes known, narrowed to the request
//     (no scope claim: Config.DefaultScopes)
//  7. jti not seen before: recorded last, with the grant, so a refused
//     assertion leaves no trace
//  10. the subject maps to a Todo0 user (provisioned just in time by (iss, sub))
//
// Every assertion failure is invalid_grant. Not assertion failures: a
// missing assertion (invalid_request, checked after 0) and a requested scope
// sharing nothing with the ID-JAG's (invalid_scope, at 9).
func (s *Server) redeemIDJAG(ctx context.Context, ac *clientauth.Client, form url.Values) (any, error) {
	c, err := s.client(ctx, ac.ID)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	if c.Kind != "requesting_app" {
		return nil, oauth.Errorf(oauth.ErrUnauthorizedClient, "client %q may not redeem ID-JAGs", c.ID)
	}
	raw := form.Get("assertion")
	if raw == "" {
		return nil, oauth.InvalidRequest("assertion is missing: send the ID-JAG as assertion")
	}
	v := jwtverify.Verifier{
		Typ:        oauth.TypIDJAG,
		Algorithms: idJAGAlgorithms,
		Issuers:    map[string]jwtverify.KeySource{s.cfg.IdPIssuer: s.idpKeys},
		Audience:   s.cfg.PublicURL,
		Skew:       s.cfg.Quirks.Skew(s.cfg.ClockSkew),
		MaxAge:     s.cfg.Quirks.MaxAge(s.cfg.MaxIDJAGAge),
		Required:   []string{"sub", "client_id", "jti", "iat"},
		Now:        s.now,
	}
	if s.cfg.Quirks.TrailingSlash {
		v.Audience = "" // compared below, trailing slash ignored
	}
	var jag idJAG
	t, err := v.Verify(ctx, raw, &jag)
	if err != nil {
		return nil, oauth.InvalidGrant("ID-JAG rejected: %v", err).WithRule(ruleFor(err))
	}
	if v.Audience == "" && !s.cfg.Quirks.AudienceMatches(t.Raw["aud"], s.cfg.PublicURL) {
		return nil, oauth.InvalidGrant("ID-JAG rejected: aud is not %s (trailing slash aside)", s.cfg.PublicURL).WithRule("checklist 3.4 aud = issuer")
	}
	if jag.ClientID != c.ID {
		return nil, oauth.InvalidGrant("ID-JAG rejected: its client_id %q is not the authenticated client %q", jag.ClientID, c.ID).WithRule("IDJAG client_id = authenticated client")
	}
	resource, err := s.grantedResource(jag.Resource)
	if err != nil {
		return nil, err
	}
	details, err := grantedDetails(jag.AuthorizationDetails)
	if err != nil {
		return nil, err
	}
	jkt, err := s.redemptionBinding(ctx, jag.Cnf)
	if err != nil {
		return nil, err
	}
	granted := oauth.SplitScope(jag.Scope)
	if _, has := t.Raw["scope"]; !has {
		// IDJAG 3: scope is optional. Without it the IdP set no limit, and
		// Todo0 grants its default scopes for requesting apps (Config.DefaultScopes).
		granted = slices.Clone(s.cfg.DefaultScopes)
	}
	if s.cfg.Quirks.IgnoreScope {
		granted, form = s.scopeIgnoringIDJAG(form), withoutScope(form)
	}
	for _, sc := range granted {
		if !slices.Contains(knownScopes, sc) {
			return nil, oauth.InvalidGrant("ID-JAG rejected: scope %q is unknown at Todo0", sc).WithRule("checklist 3.9 known scopes")
		}
	}
	if req := oauth.SplitScope(form.Get("scope")); len(req) > 0 {
		granted = oauth.Intersect(req, granted)
		if len(granted) == 0 {
			return nil, oauth.InvalidScope("none of the requested scopes is in the ID-JAG (%s)", jag.Scope).WithRule("checklist 3.9 scope intersection")
		}
	}
	if len(granted) == 0 {
		return nil, oauth.InvalidGrant("ID-JAG rejected: it grants no scope").WithRule("checklist 3.9 scope")
	}
	// One commit: the user (when it is new or its profile changed) and the
	// grant, which is also the ID-JAG's replay record, are written together
	// or not at all, so a failure leaves the ID-JAG unredeemed and nothing
	// half done. For a known user with an unchanged profile the grant is
	// the only write: one statement, no explicit transaction.
	var (
		claims    accessTokenClaims
		at        string
		tokenType = "Bearer"
		user      provisioned
	)
	issue := func(exec func(q string, args ...any) (sql.Result, error), userID string) error {
		now := s.now()
		claims = accessTokenClaims{
			Claims: jwt.Claims{
				Issuer: s.cfg.PublicURL, Subject: userID, Audience: jwt.Audience{resource},
				IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
				Expiry: jwt.NewNumericDate(now.Add(s.cfg.AccessTokenTTL)), ID: randomID(),
			},
			ClientID: c.ID, Scope: oauth.JoinScope(granted),
			AuthorizationDetails: details, Act: jag.Act,
		}
		if jkt != "" {
			claims.Cnf, tokenType = map[string]string{"jkt": jkt}, dpop.Scheme
		}
		var err error
		if at, err = s.keys.Sign(oauth.TypAccessToken, claims); err != nil {
			return err
		}
		// The unique replay_id makes the insert atomic: of two redemptions
		// of one ID-JAG, concurrent or not, one inserts and one does nothing.
		res, err := exec(`INSERT INTO grants(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at, replay_id, id_jag_exp)
			VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(replay_id) DO NOTHING`,
			claims.ID, now.Unix(), c.ID, userID, resource, claims.Scope, t.Claims.ID, claims.Expiry.Time().Unix(), s.replayID(t), t.Claims.Expiry.Time().Unix())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, replay.ErrReplayed)
		}
		return nil
	}
	if id, ok := s.knownUser(t.Claims.Issuer, t.Claims.Subject, jag.Email, jag.Name); ok {
		err = issue(func(q string, args ...any) (sql.Result, error) { return s.stmts.Exec(ctx, q, args...) }, id)
	} else {
		err = s.stmts.InTx(ctx, func(tx sqlitedb.Tx) error {
			var err error
			if user, err = s.provision(ctx, tx, t.Claims.Issuer, t.Claims.Subject, jag.Email, jag.Name); err != nil {
				return err
			}
			return issue(func(q string, args ...any) (sql.Result, error) { return tx.ExecContext(ctx, q, args...) }, user.id)
		})
	}
	s.settle(user, err)
	if errors.Is(err, replay.ErrReplayed) {
		return nil, oauth.InvalidGrant("ID-JAG rejected: jti %q was already redeemed (replay)", t.Claims.ID).WithRule("EMA jti replay")
	}
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	// No refresh token: to get another access token the client goes back to
	// the IdP, which is where revocation takes effect.
	// IDJAG 4.4.1: the response names what was granted: scope, resource
	// and authorization details.
	return tokenResponse{AccessToken: at, TokenType: tokenType, ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second), Scope: claims.Scope,
		Resource: resource, AuthorizationDetails: details}, nil
}

// ruleFor names the checklist rule a verification error broke.
func ruleFor(err error) string {
	for _, r := range []struct {
		err  error
		rule string
	}{
		{jwtverify.ErrTyp, "checklist 3.1 typ"},
		{jwtverify.ErrAlg, "checklist 3.2 alg allow-list"},
		{jwtverify.ErrIssuer, "checklist 3.3 trusted iss"},
		{jwtverify.ErrKey, "checklist 3.3 kid in JWKS"},
		{jwtverify.ErrSignature, "checklist 3.3 signature"},
		{jwtverify.ErrAudience, "checklist 3.4 aud = issuer"},
		{jwtverify.ErrExpired, "checklist 3.6 exp"},
		{jwtverify.ErrNotYetValid, "checklist 3.6 nbf"},
		{jwtverify.ErrIssuedInFuture, "checklist 3.6 iat"},
		{jwtverify.ErrTooOld, "checklist 3.6 iat age"},
		{jwtverify.ErrMissingClaim, "IDJAG required claims"},
	} {
		if errors.Is(err, r.err) {
			return r.rule
		}
	}
	return "checklist 3 well-formed JWT"
}
