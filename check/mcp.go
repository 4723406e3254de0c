package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// MCP checks an MCP server that protects its endpoint with access tokens
// from an authorization server (MCP authorization 2025-11-25, RFC 9728,
// RFC 6750, RFC 9068) and validates Origin and Host (MCP streamable HTTP
// transport). The server must trust AS as its authorization server.
type MCP struct {
	// Resource is the MCP endpoint URL, which is also its resource
	// identifier (required).
	Resource string
	// AS signs the access tokens (RFC 9068 JWTs) the checker presents (required).
	AS Signer
	// IdP, when set, signs the ID-JAG and the ID token the server must not
	// accept as bearer tokens; those rules are skipped without it.
	IdP Signer
	// Scope is the scope of the valid access token (space separated).
	Scope string
	// Tool and ToolScope, when set, are a tool and a scope it needs: the
	// checker calls it with a token lacking that scope and expects 403
	// insufficient_scope.
	Tool, ToolScope string
	// Subject is the tokens' sub ("xaa-check-user").
	Subject string
	// HTTPClient is used for every request (a client with a 15 s timeout).
	HTTPClient *http.Client
}

type mcpRun struct {
	c         *MCP
	hc        *http.Client
	as, idp   *forger
	rep       *Report
	prmURL    string // from the challenge, or the path-suffixed well-known URL
	validOK   bool   // a valid token was accepted: refusals mean something
	challenge string // WWW-Authenticate of the 401 without a token
}

// Run checks the server and reports every rule; the error is only for a
// configuration the checker cannot run with.
func (c *MCP) Run(ctx context.Context) (*Report, error) {
	u, err := url.Parse(c.Resource)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("check mcp: resource %q is not an absolute URL", c.Resource)
	}
	if err := c.AS.validate(); err != nil {
		return nil, err
	}
	r := &mcpRun{c: c, hc: c.HTTPClient, rep: &Report{Checker: "mcp", Target: c.Resource, Started: time.Now(), Setup: c.Setup()}}
	if r.hc == nil {
		r.hc = &http.Client{Timeout: 15 * time.Second}
	}
	if r.as, err = newForger(c.AS); err != nil {
		return nil, err
	}
	if c.IdP.Key != nil {
		if r.idp, err = newForger(c.IdP); err != nil {
			return nil, err
		}
	}
	r.challengeNoToken(ctx)
	r.metadata(ctx)
	r.validToken(ctx)
	r.badTokens(ctx)
	r.insufficientScope(ctx)
	r.originHost(ctx)
	r.rep.Duration = time.Since(r.rep.Started)
	return r.rep, nil
}

// Setup is what the implementer configures at their server before a run.
func (c *MCP) Setup() []string {
	iss := strings.TrimSuffix(c.AS.Issuer, "/")
	s := []string{
		"your resource identifier is " + c.Resource + " (the MCP endpoint URL)",
		"trust the authorization server " + c.AS.Issuer + " (metadata at " + iss + "/.well-known/oauth-authorization-server, JWKS at " + iss + "/oauth2/jwks); list it in authorization_servers",
		"accept its RFC 9068 access tokens (typ at+jwt) whose aud is your resource identifier",
	}
	if c.Tool != "" {
		s = append(s, "the tool "+c.Tool+" needs the scope "+c.ToolScope)
	}
	return s
}

func (c *MCP) subject() string {
	if c.Subject != "" {
		return c.Subject
	}
	return "xaa-check-user"
}

func (r *mcpRun) add(res Result) { r.rep.Results = append(r.rep.Results, res) }

// accessToken is a valid access token's claims, with a fresh jti.
func (r *mcpRun) accessToken(scope string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": r.c.AS.Issuer, "sub": r.c.subject(), "aud": r.c.Resource, "client_id": "xaa-check-client",
		"jti": randomID(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if scope != "" {
		c["scope"] = scope
	}
	return c
}

func (r *mcpRun) atHeader() map[string]any {
	return map[string]any{"typ": oauth.TypAccessToken, "kid": r.c.AS.Key.KeyID}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"xaa-check","version":"1.0"}}}`

// mcpRequest is one POST to the MCP endpoint.
type mcpRequest struct {
	token   string // Authorization: Bearer, when set
	query   string // access_token in the URL, when set
	origin  string
	host    string
	session string
	body    string
}

// post sends an MCP request. A successful answer may be an event stream that
// stays open, so only error bodies are read.
func (r *mcpRun) post(ctx context.Context, m mcpRequest) response {
	u := r.c.Resource
	if m.query != "" {
		u += "?access_token=" + url.QueryEscape(m.query)
	}
	body := m.body
	if body == "" {
		body = initializeBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return response{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	if m.origin != "" {
		req.Header.Set("Origin", m.origin)
	}
	if m.host != "" {
		req.Host = m.host
	}
	if m.session != "" {
		req.Header.Set("Mcp-Session-Id", m.session)
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return response{Err: err}
	}
	defer resp.Body.Close()
	out := response{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode >= 300 {
		out.Raw, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		out.Body = jsonObject(out.Raw)
	}
	return out
}

// challengeParams parses the Bearer challenge of WWW-Authenticate.
func challengeParams(h string) (map[string]string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	out := map[string]string{}
	for _, m := range paramRe.FindAllStringSubmatch(rest, -1) {
		v := m[2]
		if v == "" {
			v = m[3]
		}
		out[strings.ToLower(m[1])] = strings.ReplaceAll(v, `\"`, `"`)
	}
	return out, true
}

var paramRe = regexp.MustCompile(`([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))`)

// ---- 401 without a token ----

func (r *mcpRun) challengeNoToken(ctx context.Context) {
	resp := r.post(ctx, mcpRequest{})
	r.add(judge(Result{ID: "mcp.challenge.status", Title: "a request without a token gets 401", Spec: "MCP authorization 2025-11-25, RFC 6750 3", Level: Must,
		Expected: "401", Got: resp.summary()}, resp.Status == http.StatusUnauthorized))
	r.challenge = resp.Header.Get("WWW-Authenticate")
	params, bearer := challengeParams(r.challenge)
	r.prmURL = params["resource_metadata"]
	res := judge(Result{ID: "mcp.challenge.resource-metadata", Title: "the challenge names the protected resource metadata (resource_metadata)", Spec: "RFC 9728 5.1, MCP authorization 2025-11-25", Level: Must,
		Expected: `WWW-Authenticate: Bearer resource_metadata="…"`, Got: headerGot(r.challenge)}, bearer && r.prmURL != "")
	r.add(res)
	r.add(judge(Result{ID: "mcp.challenge.scope", Title: "the challenge says which scope to ask for (scope)", Spec: "MCP authorization 2025-11-25 (scope selection), RFC 6750 3", Level: Should,
		Expected: `scope="…" in the challenge`, Got: headerGot(r.challenge)}, params["scope"] != ""))
	_, hasErr := params["error"]
	r.add(judge(Result{ID: "mcp.challenge.no-error-without-token", Title: "no error code when no token was sent", Spec: "RFC 6750 3.1", Level: Should,
		Expected: "no error= in the challenge", Got: headerGot(r.challenge)}, bearer && !hasErr))
}

func headerGot(h string) string {
	if h == "" {
		return "no WWW-Authenticate header"
	}
	return "WWW-Authenticate: " + h
}

// ---- RFC 9728 metadata ----

func (r *mcpRun) metadata(ctx context.Context) {
	pathURL, _ := wellKnown(r.c.Resource, "oauth-protected-resource")
	resp := getJSON(ctx, r.hc, pathURL, nil)
	r.add(judge(Result{ID: "mcp.prm.path", Title: "protected resource metadata is served at the path-suffixed well-known URL", Spec: "RFC 9728 3.1, MCP authorization 2025-11-25", Level: Should,
		Expected: "200 with a JSON object at " + pathURL, Got: resp.summary()}, resp.Status == http.StatusOK && resp.Body != nil))
	doc, docURL := resp.Body, pathURL
	if r.prmURL != "" && r.prmURL != pathURL {
		// The challenge's URL is the one clients follow.
		resp = getJSON(ctx, r.hc, r.prmURL, nil)
		doc, docURL = resp.Body, r.prmURL
	}
	if resp.Status != http.StatusOK || doc == nil {
		for _, id := range []string{"mcp.prm.resource", "mcp.prm.authorization-servers"} {
			r.add(Result{ID: id, Title: "protected resource metadata", Spec: "RFC 9728", Level: Must, Expected: "a metadata document", Got: "none at " + docURL, Verdict: Fail})
		}
	} else {
		got, _ := doc["resource"].(string)
		r.add(judge(Result{ID: "mcp.prm.resource", Title: "resource in the metadata is exactly the resource identifier", Spec: "RFC 9728 3.3", Level: Must,
			Expected: fmt.Sprintf("%q", r.c.Resource), Got: fmt.Sprintf("%q (from %s)", got, docURL)}, got == r.c.Resource))
		servers := stringList(doc["authorization_servers"])
		r.add(judge(Result{ID: "mcp.prm.authorization-servers", Title: "authorization_servers lists the authorization server", Spec: "RFC 9728 2, MCP authorization 2025-11-25", Level: Must,
			Expected: "contains " + r.c.AS.Issuer, Got: fmt.Sprint(servers)}, slices.Contains(servers, r.c.AS.Issuer)))
		r.add(judge(Result{ID: "mcp.prm.scopes-supported", Title: "scopes_supported lists the scopes", Spec: "RFC 9728 2, MCP authorization 2025-11-25", Level: Should,
			Expected: "a non-empty list", Got: fmt.Sprint(stringList(doc["scopes_supported"]))}, len(stringList(doc["scopes_supported"])) > 0))
		bm, present := doc["bearer_methods_supported"]
		methods := stringList(bm)
		r.add(judge(Result{ID: "mcp.prm.bearer-methods", Title: "bearer_methods_supported offers the header only (never the query string)", Spec: "RFC 9728 2, MCP authorization 2025-11-25 (tokens never in URLs)", Level: Should,
			Expected: `["header"]`, Got: fmt.Sprint(methods)}, present && slices.Equal(methods, []string{"header"})))
	}
	// RFC 9728 3.3: a document at the root well-known URL describes the
	// resource without a path, so its resource is the origin.
	u, _ := url.Parse(r.c.Resource)
	origin := u.Scheme + "://" + u.Host
	if strings.Trim(u.Path, "/") == "" {
		return // the path-suffixed document is the root one
	}
	rootURL := origin + "/.well-known/oauth-protected-resource"
	root := getJSON(ctx, r.hc, rootURL, nil)
	// A SHOULD here, not the RFC's MUST: MCP clients fall back to the root
	// document, and servers serve their endpoint's document there for them.
	res := Result{ID: "mcp.prm.root", Title: "a root metadata document, if served, describes the resource identifier without a path", Spec: "RFC 9728 3.3 (MCP clients fall back to the root URL, so servers differ)", Level: Should,
		Expected: fmt.Sprintf("404, or resource %q", origin)}
	switch {
	case root.Status == http.StatusNotFound:
		res.Got, res.Verdict = "404", Pass
	case root.Status == http.StatusOK && root.Body != nil:
		got, _ := root.Body["resource"].(string)
		res.Got = fmt.Sprintf("resource %q", got)
		res = judge(res, got == origin || got == origin+"/")
		if res.Verdict == Fail && got == r.c.Resource {
			res.Detail = "the root document claims the MCP endpoint's identifier; a client validating RFC 9728 3.3 refuses it, one that only probes the root URL finds it; MCP clients try " + rootURL + strings.TrimSuffix(u.Path, "/") + " first"
		}
	default:
		res.Got, res.Verdict = root.summary(), Fail
	}
	r.add(res)
}

func stringList(v any) []string {
	raw, _ := v.([]any)
	var out []string
	for _, x := range raw {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// ---- tokens ----

func (r *mcpRun) validToken(ctx context.Context) {
	tok, err := r.as.sign(signIdP, r.atHeader(), r.accessToken(r.c.Scope))
	res := Result{ID: "mcp.token.valid", Title: "a valid access token for this resource is accepted", Spec: "MCP authorization 2025-11-25, RFC 9068 4", Level: Must, Expected: "200 for initialize"}
	if err != nil {
		res.Verdict, res.Got = Fail, err.Error()
		r.add(res)
		return
	}
	resp := r.post(ctx, mcpRequest{token: tok})
	res.Got = fmt.Sprint(resp.Status)
	if resp.Err != nil {
		res.Got = resp.summary()
	}
	r.validOK = resp.Status == http.StatusOK
	res = judge(res, r.validOK)
	if !r.validOK {
		res.Detail = "check that the server trusts " + r.c.AS.Issuer + " and uses " + r.c.Resource + " as its audience; every refusal rule below is skipped"
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			res.Detail += "; " + headerGot(h)
		}
	}
	r.add(res)
}

// badToken is a token the server must refuse with 401.
type badToken struct {
	id, title, spec string
	make            func() (string, error)
}

func (r *mcpRun) badTokens(ctx context.Context) {
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	at := func(how signing, edit func(h, c map[string]any)) func() (string, error) {
		return func() (string, error) {
			h, c := r.atHeader(), r.accessToken(r.c.Scope)
			if edit != nil {
				edit(h, c)
			}
			return r.as.sign(how, h, c)
		}
	}
	cases := []badToken{
		{"mcp.token.typ-jwt", `a token with typ "JWT" instead of "at+jwt" is refused`, "RFC 9068 4", at(signIdP, func(h, _ map[string]any) { h["typ"] = "JWT" })},
		{"mcp.token.aud-other", "a token for another resource is refused", "MCP authorization 2025-11-25 (token audience), RFC 8707 2", at(signIdP, func(_, c map[string]any) { c["aud"] = "https://another-resource.example/mcp" })},
		{"mcp.token.expired", "an expired token is refused", "RFC 9068 4, RFC 6750 3.1", at(signIdP, func(_, c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = ago(20*time.Minute), ago(20*time.Minute), ago(10*time.Minute)
		})},
		{"mcp.token.iss-other", "a token from another issuer is refused", "RFC 9068 4", at(signAttacker, func(_, c map[string]any) { c["iss"] = "https://other-as.example" })},
		{"mcp.token.signature", "a token signed by another key under the AS's kid is refused", "RFC 9068 4, RFC 7515 5.2", at(signAttackerIdPKid, nil)},
		{"mcp.token.alg-none", `an unsigned token (alg "none") is refused`, "RFC 9068 4, RFC 8725 3.1", at(signNone, nil)},
	}
	if r.idp != nil {
		idpClaims := func() map[string]any {
			now := time.Now()
			return map[string]any{"iss": r.c.IdP.Issuer, "sub": r.c.subject(), "jti": randomID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		}
		cases = append(cases,
			badToken{"mcp.token.id-jag", "an ID-JAG presented as a bearer token is refused", "EMA, checklist 4 (only the AS's access tokens)", func() (string, error) {
				c := idpClaims()
				c["aud"], c["client_id"], c["resource"] = r.c.AS.Issuer, "xaa-check-client", r.c.Resource
				if r.c.Scope != "" {
					c["scope"] = r.c.Scope
				}
				return r.idp.sign(signIdP, map[string]any{"typ": oauth.TypIDJAG, "kid": r.c.IdP.Key.KeyID}, c)
			}},
			badToken{"mcp.token.id-token", "an ID token presented as a bearer token is refused", "checklist 4, OIDC Core 2 (an ID token is for its client)", func() (string, error) {
				c := idpClaims()
				c["aud"] = "xaa-check-client"
				return r.idp.sign(signIdP, map[string]any{"typ": "JWT", "kid": r.c.IdP.Key.KeyID}, c)
			}},
		)
	}
	for _, bt := range cases {
		res := Result{ID: bt.id, Title: bt.title, Spec: bt.spec, Level: Must, Expected: `401 with WWW-Authenticate: Bearer error="invalid_token"`}
		if !r.validOK {
			res.Verdict, res.Got = Skip, "not run: no valid token was accepted (mcp.token.valid)"
			r.add(res)
			continue
		}
		tok, err := bt.make()
		if err != nil {
			res.Verdict, res.Got = Fail, "the checker could not sign: "+err.Error()
			r.add(res)
			continue
		}
		resp := r.post(ctx, mcpRequest{token: tok})
		r.add(r.judgeRefusal(res, resp))
	}
	if r.idp == nil {
		for _, id := range []string{"mcp.token.id-jag", "mcp.token.id-token"} {
			r.add(Result{ID: id, Title: "an IdP-issued token presented as a bearer token is refused", Spec: "checklist 4", Level: Must, Verdict: Skip, Got: "not run: no IdP key given"})
		}
	}
	// Tokens never travel in URLs (MCP authorization 2025-11-25, EMA 7.5.4).
	res := Result{ID: "mcp.token.query-string", Title: "a valid token in the query string (access_token=) is not accepted", Spec: "MCP authorization 2025-11-25 (MUST NOT in the query string), RFC 6750 2.3", Level: Must,
		Expected: "400 or 401, not 200"}
	if !r.validOK {
		res.Verdict, res.Got = Skip, "not run: no valid token was accepted (mcp.token.valid)"
		r.add(res)
		return
	}
	tok, _ := r.as.sign(signIdP, r.atHeader(), r.accessToken(r.c.Scope))
	resp := r.post(ctx, mcpRequest{query: tok})
	r.add(judge(withGot(res, resp), resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnauthorized))
}

func withGot(res Result, resp response) Result {
	res.Got = resp.summary()
	if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		res.Got += "; " + headerGot(h)
	}
	return res
}

// judgeRefusal: 401 is the MUST; error="invalid_token" in the challenge is
// what RFC 6750 3.1 asks for when a token was sent.
func (r *mcpRun) judgeRefusal(res Result, resp response) Result {
	res = withGot(res, resp)
	params, _ := challengeParams(resp.Header.Get("WWW-Authenticate"))
	res = judge(res, resp.Status == http.StatusUnauthorized && params["error"] == oauth.ErrInvalidToken)
	switch {
	case res.Verdict == Pass:
	case resp.Status == http.StatusOK:
		res.Detail = "the server accepted a token it must refuse"
	case resp.Status == http.StatusUnauthorized:
		res.Detail = `refused, but the challenge lacks error="invalid_token" (RFC 6750 3.1), so a client cannot tell a bad token from a missing one`
	}
	return res
}

// ---- 403 insufficient_scope ----

func (r *mcpRun) insufficientScope(ctx context.Context) {
	res := Result{ID: "mcp.scope.insufficient", Title: "a tool call with a token lacking the tool's scope gets 403 insufficient_scope, naming the scope", Spec: "RFC 6750 3.1, MCP authorization 2025-11-25 (scope challenge)", Level: Should,
		Expected: fmt.Sprintf(`403 with WWW-Authenticate: Bearer error="insufficient_scope", scope containing %q`, r.c.ToolScope)}
	switch {
	case r.c.Tool == "" || r.c.ToolScope == "":
		res.Verdict, res.Got = Skip, "not run: name a tool and the scope it needs (--tool, --tool-scope)"
		r.add(res)
		return
	case !r.validOK:
		res.Verdict, res.Got = Skip, "not run: no valid token was accepted (mcp.token.valid)"
		r.add(res)
		return
	}
	var narrowed []string
	for _, s := range oauth.SplitScope(r.c.Scope) {
		if s != r.c.ToolScope {
			narrowed = append(narrowed, s)
		}
	}
	tok, _ := r.as.sign(signIdP, r.atHeader(), r.accessToken(oauth.JoinScope(narrowed)))
	init := r.post(ctx, mcpRequest{token: tok})
	if init.Status != http.StatusOK {
		// A server may refuse the whole session for a missing scope; that is
		// a 403 too, judged the same way.
		r.add(r.judgeScope(res, init))
		return
	}
	session := init.Header.Get("Mcp-Session-Id")
	r.post(ctx, mcpRequest{token: tok, session: session, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})
	call := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, r.c.Tool)
	resp := r.post(ctx, mcpRequest{token: tok, session: session, body: call})
	r.add(r.judgeScope(res, resp))
}

func (r *mcpRun) judgeScope(res Result, resp response) Result {
	res = withGot(res, resp)
	params, _ := challengeParams(resp.Header.Get("WWW-Authenticate"))
	ok := resp.Status == http.StatusForbidden && params["error"] == oauth.ErrInsufficientScope && slices.Contains(oauth.SplitScope(params["scope"]), r.c.ToolScope)
	return judge(res, ok)
}

// ---- Origin and Host ----

func (r *mcpRun) originHost(ctx context.Context) {
	origin := Result{ID: "mcp.origin.foreign", Title: "a request from a foreign Origin gets 403", Spec: "MCP transports 2025-11-25 (streamable HTTP security: validate Origin)", Level: Must,
		Expected: "403"}
	host := Result{ID: "mcp.host.foreign", Title: "a request for a foreign Host is refused (DNS rebinding)", Spec: "MCP transports 2025-11-25 (streamable HTTP security)", Level: Should,
		Expected: "403, 400 or 421"}
	if !r.validOK {
		for _, res := range []Result{origin, host} {
			res.Verdict, res.Got = Skip, "not run: no valid token was accepted (mcp.token.valid)"
			r.add(res)
		}
		return
	}
	// A valid token each time, so only the Origin or the Host is wrong.
	tok, _ := r.as.sign(signIdP, r.atHeader(), r.accessToken(r.c.Scope))
	resp := r.post(ctx, mcpRequest{token: tok, origin: "https://attacker.example"})
	r.add(judge(withGot(origin, resp), resp.Status == http.StatusForbidden))
	tok, _ = r.as.sign(signIdP, r.atHeader(), r.accessToken(r.c.Scope))
	resp = r.post(ctx, mcpRequest{token: tok, host: "attacker.example"})
	r.add(judge(withGot(host, resp), resp.Status == http.StatusForbidden || resp.Status == http.StatusBadRequest || resp.Status == http.StatusMisdirectedRequest))
}
