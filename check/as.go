package check

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// AS checks a resource authorization server that redeems ID-JAGs with the
// jwt-bearer grant (ID-JAG draft section 4.4, RFC 7523, RFC 8414). The server
// must trust IdP as an identity provider and have the client registered.
type AS struct {
	// Issuer is the authorization server's issuer identifier (required).
	Issuer string
	// ClientID and ClientSecret are the client registered at the server
	// (required); ClientID also goes into the ID-JAGs' client_id claim.
	ClientID, ClientSecret string
	// Resource, when set, goes into the ID-JAGs' resource claim.
	Resource string
	// Scope, when set, goes into the ID-JAGs' scope claim.
	Scope string
	// Subject is the ID-JAGs' sub ("xaa-check-user").
	Subject string
	// ClientKey, when set, is the client's private key for private_key_jwt
	// (its public key registered at the server); without it the checker
	// authenticates with the secret only.
	ClientKey *jose.JSONWebKey
	// IdP signs the ID-JAGs (required).
	IdP Signer
	// HTTPClient is used for every request (a client with a 15 s timeout).
	HTTPClient *http.Client
	// RaceSize is how many copies of one ID-JAG the replay race sends at once (8).
	RaceSize int
}

// The auth methods the checker can use with a client secret.
var secretMethods = []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost}

// asRun is the state of one run.
type asRun struct {
	c       *AS
	hc      *http.Client
	f       *forger
	rep     *Report
	meta    map[string]any
	tokenEP string
	methods []string   // auth methods the checker will use, preferred first
	auth    clientAuth // the preferred one
	ok      bool       // a correct ID-JAG was redeemed: refusals mean something
}

// Run checks the server and reports every rule. The error is only for a
// configuration the checker cannot run with; what the server does wrong is
// in the report.
func (c *AS) Run(ctx context.Context) (*Report, error) {
	if c.Issuer == "" || c.ClientID == "" {
		return nil, errors.New("check as: the issuer and the client id are required")
	}
	if err := c.IdP.validate(); err != nil {
		return nil, err
	}
	f, err := newForger(c.IdP)
	if err != nil {
		return nil, err
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	r := &asRun{c: c, hc: hc, f: f, rep: &Report{Checker: "as", Target: c.Issuer, Started: time.Now(), Setup: c.Setup()}}
	r.metadata(ctx)
	r.redeem(ctx)
	r.battery(ctx)
	r.replay(ctx)
	r.request(ctx)
	r.clientAuth(ctx)
	r.rep.Duration = time.Since(r.rep.Started)
	return r.rep, nil
}

// Setup is what the implementer configures at their server before a run.
func (c *AS) Setup() []string {
	s := []string{
		"trust the identity provider " + c.IdP.Issuer + " (OIDC discovery at " + strings.TrimSuffix(c.IdP.Issuer, "/") + "/.well-known/openid-configuration, JWKS at " + strings.TrimSuffix(c.IdP.Issuer, "/") + "/oauth2/jwks)",
		"register the client " + c.ClientID + " for the jwt-bearer grant, with its secret (client_secret_basic and/or client_secret_post)" + map[bool]string{true: " and its public key (private_key_jwt)", false: ""}[c.ClientKey != nil],
		"the ID-JAGs name that client in client_id, your issuer " + c.Issuer + " in aud, and the subject " + c.subject() + " in sub",
	}
	if c.Resource != "" {
		s = append(s, "resource "+c.Resource+" is one of your protected resources")
	}
	if c.Scope != "" {
		s = append(s, "scopes "+c.Scope+" are known to your server")
	}
	return s
}

func (c *AS) subject() string {
	if c.Subject != "" {
		return c.Subject
	}
	return "xaa-check-user"
}

func (r *asRun) add(res Result) { r.rep.Results = append(r.rep.Results, res) }

// ---- metadata (RFC 8414) ----

func (r *asRun) metadata(ctx context.Context) {
	mURL, err := wellKnown(r.c.Issuer, "oauth-authorization-server")
	res := Result{ID: "as.metadata.fetch", Title: "authorization server metadata is served at the RFC 8414 well-known URL", Spec: "RFC 8414 3", Level: Must,
		Expected: "200 with a JSON object at " + mURL}
	if err != nil {
		res.Got, res.Verdict = err.Error(), Fail
		r.add(res)
		return
	}
	resp := getJSON(ctx, r.hc, mURL, nil)
	res.Got = fmt.Sprint(resp.Status)
	if resp.Err != nil {
		res.Got = resp.summary()
	}
	if resp.Status != http.StatusOK || resp.Body == nil {
		res.Verdict = Fail
		r.add(res)
		r.fallbackEndpoint()
		return
	}
	res.Verdict = Pass
	r.add(res)
	r.meta = resp.Body
	str := func(k string) string { s, _ := r.meta[k].(string); return s }
	list := func(k string) ([]string, bool) {
		raw, ok := r.meta[k].([]any)
		var out []string
		for _, v := range raw {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out, ok
	}
	r.add(judge(Result{ID: "as.metadata.issuer", Title: "issuer in the metadata is exactly the issuer it was fetched for", Spec: "RFC 8414 3.3", Level: Must,
		Expected: fmt.Sprintf("%q", r.c.Issuer), Got: fmt.Sprintf("%q", str("issuer"))}, str("issuer") == r.c.Issuer))
	r.tokenEP = str("token_endpoint")
	u, perr := url.Parse(r.tokenEP)
	r.add(judge(Result{ID: "as.metadata.token-endpoint", Title: "the metadata names the token endpoint", Spec: "RFC 8414 2", Level: Must,
		Expected: "an absolute https or http URL", Got: fmt.Sprintf("%q", r.tokenEP)}, perr == nil && u.IsAbs() && u.Host != ""))
	if perr != nil || r.tokenEP == "" {
		r.fallbackEndpoint()
	}
	gts, _ := list("grant_types_supported")
	r.add(judge(Result{ID: "as.metadata.jwt-bearer", Title: "grant_types_supported lists the jwt-bearer grant", Spec: "IDJAG 7.2, RFC 7523 2.1", Level: Must,
		Expected: oauth.GrantTypeJWTBearer, Got: fmt.Sprint(gts)}, slices.Contains(gts, oauth.GrantTypeJWTBearer)))
	profiles, _ := list("authorization_grant_profiles_supported")
	r.add(judge(Result{ID: "as.metadata.id-jag-profile", Title: "authorization_grant_profiles_supported lists the ID-JAG profile (clients discover XAA by it)", Spec: "IDJAG 7.2, EMA", Level: Must,
		Expected: oauth.GrantProfileIDJAG, Got: fmt.Sprint(profiles)}, slices.Contains(profiles, oauth.GrantProfileIDJAG)))
	methods, listed := list("token_endpoint_auth_methods_supported")
	if !listed {
		// RFC 8414 2: absent means client_secret_basic.
		methods = []string{oauth.AuthMethodClientSecretBasic}
	}
	res = judge(Result{ID: "as.metadata.auth-methods", Title: "token_endpoint_auth_methods_supported lists how clients authenticate", Spec: "RFC 8414 2", Level: Should,
		Expected: "a list (absent means client_secret_basic only)", Got: fmt.Sprint(methods)}, listed)
	r.add(res)
	for _, m := range secretMethods {
		if slices.Contains(methods, m) && r.c.ClientSecret != "" {
			r.methods = append(r.methods, m)
		}
	}
	if slices.Contains(methods, oauth.AuthMethodPrivateKeyJWT) && r.c.ClientKey != nil {
		r.methods = append(r.methods, oauth.AuthMethodPrivateKeyJWT)
	}
	if len(r.methods) > 0 {
		r.auth = r.authWith(r.methods[0])
	}
}

func (r *asRun) authWith(method string) clientAuth {
	return clientAuth{Method: method, ID: r.c.ClientID, Secret: r.c.ClientSecret, Key: r.c.ClientKey}
}

// fallbackEndpoint guesses the token endpoint when the metadata is unusable,
// so the battery still says something; the metadata failure is reported.
func (r *asRun) fallbackEndpoint() {
	if r.tokenEP == "" {
		r.tokenEP = strings.TrimSuffix(r.c.Issuer, "/") + "/token"
	}
	if len(r.methods) == 0 {
		r.methods = []string{oauth.AuthMethodClientSecretBasic}
		r.auth = r.authWith(r.methods[0])
	}
}

func judge(res Result, ok bool) Result {
	res.Verdict = Fail
	if ok {
		res.Verdict = Pass
	}
	return res
}

// ---- the correct ID-JAG ----

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// claims is a correct ID-JAG's claim set, with a fresh jti.
func (r *asRun) claims() map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": r.c.IdP.Issuer, "sub": r.c.subject(), "aud": r.c.Issuer, "client_id": r.c.ClientID,
		"jti": randomID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if r.c.Resource != "" {
		c["resource"] = r.c.Resource
	}
	if r.c.Scope != "" {
		c["scope"] = r.c.Scope
	}
	return c
}

func (r *asRun) header() map[string]any {
	return map[string]any{"typ": oauth.TypIDJAG, "kid": r.c.IdP.Key.KeyID}
}

func (r *asRun) goodIDJAG() (string, error) {
	return r.f.sign(signIdP, r.header(), r.claims())
}

func (r *asRun) redeemForm(assertion string) url.Values {
	return url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {assertion}}
}

func (r *asRun) redeem(ctx context.Context) {
	if len(r.methods) == 0 {
		r.add(Result{ID: "as.redeem.ok", Title: "a correct ID-JAG is redeemed for an access token", Spec: "IDJAG 4.4, RFC 7523 2.1", Level: Must,
			Expected: "an auth method the checker can use: client_secret_basic or client_secret_post (with a secret), private_key_jwt (with a client key)", Got: "none usable", Verdict: Skip,
			Detail: "the rest of the battery is skipped"})
		return
	}
	tok, err := r.goodIDJAG()
	if err != nil {
		r.add(Result{ID: "as.redeem.ok", Title: "a correct ID-JAG is redeemed for an access token", Spec: "IDJAG 4.4", Level: Must, Verdict: Fail, Got: err.Error()})
		return
	}
	resp := postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.auth)
	r.ok = resp.Status == http.StatusOK && resp.str("access_token") != ""
	res := judge(Result{ID: "as.redeem.ok", Title: "a correct ID-JAG is redeemed for an access token", Spec: "IDJAG 4.4, RFC 7523 2.1", Level: Must,
		Expected: "200 with access_token (client authenticated with " + r.auth.Method + ")", Got: resp.summary()}, r.ok)
	if !r.ok {
		res.Detail = describe(resp) + "; every rule below that needs a redeemable ID-JAG is skipped"
	}
	r.add(res)
	if !r.ok {
		return
	}
	tt := resp.str("token_type")
	r.add(judge(Result{ID: "as.redeem.token-type", Title: "token_type is Bearer", Spec: "IDJAG 4.4.2, RFC 6749 5.1", Level: Must,
		Expected: `"Bearer" (case-insensitive)`, Got: fmt.Sprintf("%q", tt)}, strings.EqualFold(tt, "Bearer")))
	_, hasRT := resp.Body["refresh_token"]
	r.add(judge(Result{ID: "as.redeem.no-refresh-token", Title: "no refresh token: the client must go back to the IdP, where revocation takes effect", Spec: "IDJAG 4.4.2", Level: Should,
		Expected: "no refresh_token", Got: map[bool]string{true: "a refresh_token", false: "no refresh_token"}[hasRT]}, !hasRT))
	cc := resp.Header.Get("Cache-Control")
	r.add(judge(Result{ID: "as.redeem.no-store", Title: "the token response is not cacheable", Spec: "RFC 6749 5.1", Level: Must,
		Expected: "Cache-Control: no-store", Got: fmt.Sprintf("Cache-Control: %q", cc)}, strings.Contains(strings.ToLower(cc), "no-store")))
	_, hasExp := resp.Body["expires_in"]
	r.add(judge(Result{ID: "as.redeem.expires-in", Title: "expires_in says how long the access token lives", Spec: "RFC 6749 5.1", Level: Should,
		Expected: "expires_in present", Got: map[bool]string{true: "present", false: "absent"}[hasExp]}, hasExp))
	if r.c.Resource != "" {
		r.add(r.audienceRestricted(resp.str("access_token")))
	}
	// Every listed method works, not only the first.
	for _, m := range r.methods[1:] {
		tok, _ := r.goodIDJAG()
		resp := postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.authWith(m))
		res := judge(Result{ID: "as.redeem.auth-" + m, Title: "a correct ID-JAG is redeemed with " + m + ", which the metadata lists", Spec: "RFC 8414 2, RFC 6749 2.3", Level: Must,
			Expected: "200 with access_token", Got: resp.summary()}, resp.Status == http.StatusOK && resp.str("access_token") != "")
		if res.Verdict == Fail {
			res.Detail = describe(resp)
		}
		r.add(res)
	}
}

// audienceRestricted looks into a JWT access token; an opaque one cannot be judged.
func (r *asRun) audienceRestricted(at string) Result {
	res := Result{ID: "as.redeem.resource-audience", Title: "the access token is audience-restricted to the ID-JAG's resource", Spec: "RFC 8707 2.2, checklist 3.8", Level: Should,
		Expected: "aud contains " + r.c.Resource}
	_, claims, err := jwtverify.Peek(at)
	if err != nil {
		res.Verdict, res.Got = Skip, "an opaque access token (cannot be inspected)"
		return res
	}
	var auds []string
	switch a := claims["aud"].(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	res.Got = fmt.Sprintf("aud %v", auds)
	return judge(res, slices.Contains(auds, r.c.Resource))
}

func describe(resp response) string {
	if d := resp.description(); d != "" {
		return "error_description: " + d
	}
	return ""
}

// ---- the single-fault battery ----

// fault is one ID-JAG with exactly one thing wrong.
type fault struct {
	id, title, spec string
	level           Level
	sign            signing
	edit            func(h, c map[string]any)
	// accept: the rule says the server must accept this one (200).
	accept bool
	// judge, when set, replaces the default verdict (400 invalid_grant).
	judge func(resp response) (ok bool, expected string)
}

func (r *asRun) faults() []fault {
	iss, idpIss := r.c.Issuer, r.c.IdP.Issuer
	slash := func(s string) string {
		if strings.HasSuffix(s, "/") {
			return strings.TrimSuffix(s, "/")
		}
		return s + "/"
	}
	set := func(k string, v any) func(h, c map[string]any) {
		return func(_, c map[string]any) { c[k] = v }
	}
	del := func(k string) func(h, c map[string]any) {
		return func(_, c map[string]any) { delete(c, k) }
	}
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	fs := []fault{
		{id: "as.idjag.typ-jwt", title: `an assertion with typ "JWT" (an ID token, say) is refused`, spec: "IDJAG 3, 4.4.1; RFC 8725 3.11", level: Must,
			edit: func(h, _ map[string]any) { h["typ"] = "JWT" }},
		{id: "as.idjag.typ-missing", title: "an assertion without a typ header is refused", spec: "IDJAG 3, 4.4.1", level: Must,
			edit: func(h, _ map[string]any) { delete(h, "typ") }},
		{id: "as.idjag.typ-at-jwt", title: `an access token (typ "at+jwt") presented as an ID-JAG is refused`, spec: "IDJAG 4.4.1, RFC 9068 4", level: Must,
			edit: func(h, _ map[string]any) { h["typ"] = "at+jwt" }},
		{id: "as.idjag.alg-none", title: `an unsigned assertion (alg "none") is refused`, spec: "RFC 7523 3 item 9, RFC 8725 3.1", level: Must, sign: signNone},
		{id: "as.idjag.alg-hs256", title: "HS256 keyed with the IdP's public key (algorithm confusion) is refused", spec: "RFC 8725 2.1, 3.1", level: Must, sign: signHS256Public},
		{id: "as.idjag.kid-unknown", title: "an assertion signed under a kid not in the IdP's JWKS is refused", spec: "RFC 7523 3 item 9, checklist 3.3", level: Must, sign: signAttacker},
		{id: "as.idjag.signature-wrong-key", title: "an assertion signed by another key under the IdP's kid is refused", spec: "RFC 7523 3 item 9", level: Must, sign: signAttackerIdPKid},
		{id: "as.idjag.signature-tampered", title: "an assertion whose payload changed after signing is refused", spec: "RFC 7523 3 item 9, RFC 7515 5.2", level: Must, sign: signTampered},
		{id: "as.idjag.iss-untrusted", title: "an assertion from an issuer the server does not trust is refused", spec: "RFC 7523 3 item 1, checklist 3.3", level: Must,
			edit: set("iss", "https://untrusted-idp.example")},
		{id: "as.idjag.iss-trailing-slash", title: "iss is compared exactly (a trailing slash makes another issuer)", spec: "RFC 7523 3 item 1, OIDC Discovery 3", level: Must,
			edit: set("iss", slash(idpIss))},
		{id: "as.idjag.iss-missing", title: "an assertion without iss is refused", spec: "RFC 7523 3 item 1", level: Must, edit: del("iss")},
		{id: "as.idjag.sub-missing", title: "an assertion without sub is refused", spec: "RFC 7523 3 item 2, IDJAG 3", level: Must, edit: del("sub")},
		{id: "as.idjag.aud-other", title: "an ID-JAG for another authorization server is refused", spec: "IDJAG 4.4.1, RFC 7523 3 item 3", level: Must,
			edit: set("aud", "https://other-as.example")},
		{id: "as.idjag.aud-token-endpoint", title: "aud must be the issuer, not the token endpoint URL", spec: "IDJAG 3 (aud is the issuer; RFC 7523 alone would allow the token endpoint)", level: Must,
			edit: set("aud", r.tokenEP)},
		{id: "as.idjag.aud-prefix", title: "aud is compared exactly, not by prefix", spec: "IDJAG 4.4.1, RFC 7519 4.1.3", level: Must,
			edit: set("aud", strings.TrimSuffix(iss, "/")+"/other-tenant")},
		{id: "as.idjag.aud-trailing-slash", title: "aud is compared exactly (no trailing-slash normalisation)", spec: "IDJAG 4.4.1, RFC 8414 2 (issuer is compared as a string)", level: Must,
			edit: set("aud", slash(iss))},
		{id: "as.idjag.aud-two-values", title: "aud with this server and another audience is refused (an ID-JAG has one audience)", spec: "IDJAG 3, checklist 3.4", level: Should,
			edit: set("aud", []string{iss, "https://other-as.example"})},
		{id: "as.idjag.aud-missing", title: "an assertion without aud is refused", spec: "RFC 7523 3 item 3", level: Must, edit: del("aud")},
		{id: "as.idjag.aud-one-element-array", title: "aud as a one-element array holding the issuer is accepted", spec: "RFC 7519 4.1.3", level: Should, accept: true,
			edit: set("aud", []string{iss})},
		{id: "as.idjag.client-id-other", title: "an ID-JAG issued to another client is refused", spec: "IDJAG 4.4.1 (client_id = the authenticated client)", level: Must,
			edit: set("client_id", "xaa-check-another-client")},
		{id: "as.idjag.client-id-missing", title: "an ID-JAG without client_id is refused", spec: "IDJAG 3, 4.4.1", level: Must, edit: del("client_id")},
		{id: "as.idjag.exp-past", title: "an expired ID-JAG is refused", spec: "RFC 7523 3 item 4", level: Must,
			edit: func(_, c map[string]any) { c["iat"], c["exp"] = ago(15*time.Minute), ago(10*time.Minute) }},
		{id: "as.idjag.exp-missing", title: "an ID-JAG without exp is refused", spec: "RFC 7523 3 item 4", level: Must, edit: del("exp")},
		{id: "as.idjag.nbf-future", title: "an ID-JAG not valid before a time in the future is refused", spec: "RFC 7523 3 item 5", level: Must,
			edit: set("nbf", time.Now().Add(10*time.Minute).Unix())},
		{id: "as.idjag.iat-future", title: "an ID-JAG issued in the future is refused", spec: "RFC 7519 4.1.6, checklist 3.6", level: Must,
			edit: func(_, c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(10*time.Minute).Unix(), time.Now().Add(15*time.Minute).Unix()
			}},
		{id: "as.idjag.iat-old", title: "an ID-JAG issued an hour ago (but unexpired) is refused", spec: "RFC 7523 3 item 6 (MAY), IDJAG 3 (short-lived)", level: Should,
			edit: set("iat", ago(time.Hour))},
		{id: "as.idjag.iat-missing", title: "an ID-JAG without iat is refused", spec: "IDJAG 3 (iat REQUIRED)", level: Must, edit: del("iat")},
		{id: "as.idjag.jti-missing", title: "an ID-JAG without jti is refused (replay cannot be detected)", spec: "IDJAG 3 (jti REQUIRED), EMA", level: Must, edit: del("jti")},
		{id: "as.idjag.resource-foreign", title: "an ID-JAG for a resource this server does not protect is refused", spec: "EMA 7.6.2, RFC 8707 2, checklist 3.8", level: Must,
			edit: set("resource", "https://not-a-resource-of-yours.example/mcp")},
	}
	if r.c.Scope != "" {
		fs = append(fs, fault{id: "as.idjag.scope-unknown", title: "a scope the server does not know is refused or dropped, never granted", spec: "EMA 7.6.2, checklist 3.9", level: Must,
			edit: set("scope", r.c.Scope+" xaa-check.unknown"),
			judge: func(resp response) (bool, string) {
				return refusedOrWithout(resp, "xaa-check.unknown"), "400 invalid_grant, or a token whose scope leaves out xaa-check.unknown"
			}})
	}
	return fs
}

// refusedOrWithout: the request was refused, or the granted scope (which
// RFC 6749 5.1 requires in the response when it differs) leaves out extra.
func refusedOrWithout(resp response, extra string) bool {
	if resp.Status != http.StatusOK {
		return resp.Status == http.StatusBadRequest && (resp.str("error") == oauth.ErrInvalidGrant || resp.str("error") == oauth.ErrInvalidScope)
	}
	granted, present := resp.Body["scope"].(string)
	return present && !slices.Contains(oauth.SplitScope(granted), extra)
}

func (r *asRun) battery(ctx context.Context) {
	for _, f := range r.faults() {
		res := Result{ID: f.id, Title: f.title, Spec: f.spec, Level: f.level, Expected: "400 invalid_grant"}
		if f.accept {
			res.Expected = "200 with access_token"
		}
		if !r.ok {
			res.Verdict, res.Got = Skip, "not run: no correct ID-JAG was redeemed (as.redeem.ok)"
			r.add(res)
			continue
		}
		h, c := r.header(), r.claims()
		if f.edit != nil {
			f.edit(h, c)
		}
		tok, err := r.f.sign(f.sign, h, c)
		if err != nil {
			res.Verdict, res.Got = Fail, "the checker could not sign: "+err.Error()
			r.add(res)
			continue
		}
		resp := postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.auth)
		res.Got = resp.summary()
		switch {
		case f.judge != nil:
			var ok bool
			ok, res.Expected = f.judge(resp)
			res = judge(res, ok)
		case f.accept:
			res = judge(res, resp.Status == http.StatusOK && resp.str("access_token") != "")
		default:
			res = judge(res, refusedInvalidGrant(resp))
		}
		if res.Verdict == Fail {
			res.Detail = failHint(resp, "400 invalid_grant (RFC 7523 3.1)")
		}
		r.add(res)
	}
}

func refusedInvalidGrant(resp response) bool {
	return resp.Status == http.StatusBadRequest && resp.str("error") == oauth.ErrInvalidGrant
}

// failHint says what is wrong with a response in a way that helps fixing it.
func failHint(resp response, want string) string {
	switch {
	case resp.Err != nil:
		return ""
	case resp.Status == http.StatusOK:
		return "the server issued a token for an assertion it must refuse"
	case resp.Status >= 400 && resp.str("error") != "":
		return "refused, but not with " + want + "; " + describe(resp)
	case resp.Status >= 400:
		return "refused, but the body is not an RFC 6749 5.2 error object"
	}
	return describe(resp)
}

// ---- jti replay ----

func (r *asRun) replay(ctx context.Context) {
	once := Result{ID: "as.idjag.jti-replay", Title: "an ID-JAG redeemed once is refused the second time", Spec: "EMA 7.4.2, RFC 7523 3 item 7", Level: Must,
		Expected: "first 200, then 400 invalid_grant"}
	race := Result{ID: "as.idjag.jti-replay-race", Title: fmt.Sprintf("the same ID-JAG sent %d times at once is redeemed exactly once", r.raceSize()), Spec: "EMA 7.4.2", Level: Must,
		Expected: fmt.Sprintf("1 token and %d refusals (400 invalid_grant)", r.raceSize()-1)}
	if !r.ok {
		for _, res := range []Result{once, race} {
			res.Verdict, res.Got = Skip, "not run: no correct ID-JAG was redeemed (as.redeem.ok)"
			r.add(res)
		}
		return
	}
	tok, _ := r.goodIDJAG()
	first := postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.auth)
	second := postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.auth)
	once.Got = "first " + first.summary() + ", then " + second.summary()
	once = judge(once, first.Status == http.StatusOK && refusedInvalidGrant(second))
	if once.Verdict == Fail && second.Status == http.StatusOK {
		once.Detail = "the server accepts re-presentation of an ID-JAG until it expires; the ID-JAG draft (4.4.3) allows it, the MCP extension requires single use"
	}
	r.add(once)

	tok, _ = r.goodIDJAG()
	n := r.raceSize()
	resps := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i] = postForm(ctx, r.hc, r.tokenEP, r.redeemForm(tok), r.auth)
		}()
	}
	close(start)
	wg.Wait()
	var issued, refused, other int
	for _, resp := range resps {
		switch {
		case resp.Status == http.StatusOK:
			issued++
		case refusedInvalidGrant(resp):
			refused++
		default:
			other++
		}
	}
	race.Got = fmt.Sprintf("%d tokens, %d refusals", issued, refused)
	if other > 0 {
		race.Got += fmt.Sprintf(", %d other answers", other)
	}
	race = judge(race, issued == 1 && refused == n-1)
	if issued > 1 {
		race.Detail = "the replay check and the record of the jti are not one atomic step (check-then-insert race)"
	}
	r.add(race)
}

func (r *asRun) raceSize() int {
	if r.c.RaceSize > 1 {
		return r.c.RaceSize
	}
	return 8
}

// ---- the request itself ----

func (r *asRun) request(ctx context.Context) {
	if len(r.methods) == 0 {
		return
	}
	resp := postForm(ctx, r.hc, r.tokenEP, url.Values{"grant_type": {oauth.GrantTypeJWTBearer}}, r.auth)
	res := judge(Result{ID: "as.request.assertion-missing", Title: "a jwt-bearer request without an assertion is invalid_request", Spec: "RFC 6749 5.2, RFC 7523 2.1", Level: Must,
		Expected: "400 invalid_request", Got: resp.summary()}, resp.Status == http.StatusBadRequest && resp.str("error") == oauth.ErrInvalidRequest)
	r.add(res)
	tok, _ := r.goodIDJAG()
	resp = postForm(ctx, r.hc, r.tokenEP, url.Values{"grant_type": {"urn:xaa-check:unknown-grant"}, "assertion": {tok}}, r.auth)
	r.add(judge(Result{ID: "as.request.grant-type-unsupported", Title: "an unknown grant_type is unsupported_grant_type", Spec: "RFC 6749 5.2", Level: Must,
		Expected: "400 unsupported_grant_type", Got: resp.summary()}, resp.Status == http.StatusBadRequest && resp.str("error") == oauth.ErrUnsupportedGrantType))
	if r.c.Scope != "" {
		res := Result{ID: "as.request.scope-escalation", Title: "a requested scope beyond the ID-JAG's is refused or dropped, never granted", Spec: "IDJAG 4.4.1, EMA 7.6.2, checklist 3.9", Level: Must,
			Expected: "400 invalid_scope / invalid_grant, or a token whose scope leaves out xaa-check.more"}
		if !r.ok {
			res.Verdict, res.Got = Skip, "not run: no correct ID-JAG was redeemed (as.redeem.ok)"
			r.add(res)
			return
		}
		tok, _ := r.goodIDJAG()
		form := r.redeemForm(tok)
		form.Set("scope", r.c.Scope+" xaa-check.more")
		resp := postForm(ctx, r.hc, r.tokenEP, form, r.auth)
		res.Got = resp.summary()
		if g, ok := resp.Body["scope"].(string); ok {
			res.Got += fmt.Sprintf(", scope %q", g)
		}
		r.add(judge(res, refusedOrWithout(resp, "xaa-check.more")))
	}
}

// ---- client authentication ----

func (r *asRun) clientAuth(ctx context.Context) {
	if len(r.methods) == 0 {
		return
	}
	type tc struct {
		id, title string
		auth      clientAuth
		basic     bool
	}
	var cases []tc
	cases = append(cases, tc{id: "as.client.none", title: "a redemption without client authentication is invalid_client", auth: clientAuth{}})
	for _, m := range r.methods {
		if m == oauth.AuthMethodPrivateKeyJWT {
			wrongKey := &jose.JSONWebKey{Key: r.f.attacker, KeyID: r.c.ClientKey.KeyID}
			cases = append(cases,
				tc{id: "as.client.wrong-key-private_key_jwt", title: "a client assertion signed by another key is invalid_client",
					auth: clientAuth{Method: m, ID: r.c.ClientID, Key: wrongKey}},
				tc{id: "as.client.unknown-private_key_jwt", title: "a client assertion for an unknown client is invalid_client",
					auth: clientAuth{Method: m, ID: "xaa-check-unknown-client", Key: r.c.ClientKey}})
			continue
		}
		cases = append(cases,
			tc{id: "as.client.wrong-secret-" + m, title: "a wrong client secret (" + m + ") is invalid_client",
				auth: clientAuth{Method: m, ID: r.c.ClientID, Secret: r.c.ClientSecret + "-wrong"}, basic: m == oauth.AuthMethodClientSecretBasic},
			tc{id: "as.client.unknown-" + m, title: "an unknown client (" + m + ") is invalid_client",
				auth: clientAuth{Method: m, ID: "xaa-check-unknown-client", Secret: r.c.ClientSecret}, basic: m == oauth.AuthMethodClientSecretBasic})
	}
	for _, c := range cases {
		tok, _ := r.goodIDJAG()
		form := r.redeemForm(tok)
		resp := postForm(ctx, r.hc, r.tokenEP, form, c.auth)
		res := Result{ID: c.id, Title: c.title, Spec: "RFC 6749 5.2", Level: Must, Got: resp.summary()}
		ok := resp.str("error") == oauth.ErrInvalidClient
		if c.basic {
			// RFC 6749 5.2: a client that used the Authorization header gets 401 and a challenge.
			res.Expected = "401 invalid_client with WWW-Authenticate"
			ok = ok && resp.Status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != ""
			if resp.Status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				res.Got += " without WWW-Authenticate"
			}
		} else {
			res.Expected = "400 or 401 invalid_client"
			ok = ok && (resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnauthorized)
		}
		res = judge(res, ok)
		if res.Verdict == Fail {
			res.Detail = failHint(resp, res.Expected)
			if resp.Status == http.StatusOK {
				res.Detail = "the server issued a token to a client that did not authenticate"
			}
		}
		r.add(res)
	}
}
