package scenarios

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func password(user, given string) string {
	if given != "" {
		return given
	}
	for _, u := range demo.Users {
		if u.Username == user {
			return u.Password
		}
	}
	return ""
}

// signIn plays Agent0's SSO as a plain OIDC client: authorization code with
// PKCE at Acme, the login form filled headlessly, then the code exchanged
// for an ID token and refresh token.
func (r *run) signIn(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	if st.SignIn.Client == "wiki0" {
		return r.samlSignIn(ctx, st, sr) // saml.go
	}
	user := st.SignIn.User
	b := r.browser(user)
	verifier := randomString() + randomString() // 64 characters; RFC 7636 4.1 wants 43 to 128
	sum := sha256.Sum256([]byte(verifier))
	redirect := r.t.Agent0 + "/callback"
	clientID, secret := demo.Agent0IdPClientID, demo.Agent0IdPClientSecret
	if st.SignIn.Client == "todo0" {
		redirect = r.t.Todo0 + "/callback"
		clientID, secret = demo.Todo0IdPClientID, demo.Todo0IdPClientSecret
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid profile email offline_access"}, "state": {randomString()}, "nonce": {randomString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if st.SignIn.Prompt != "" {
		q.Set("prompt", st.SignIn.Prompt)
	}
	authURL := r.t.IdP + "/oauth2/authorize?" + q.Encode()
	shownQ, _ := url.QueryUnescape(httpx.RedactQuery(q))
	call := &Call{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/oauth2/authorize?" + shownQ}
	sr.Calls = append(sr.Calls, call)
	start := time.Now()
	got, err := b.AuthorizationCode(ctx, authURL, redirect, user, password(user, st.SignIn.Password))
	call.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		call.Err = err.Error()
		return Outcome{RefusedBy: "idp", Error: "sign_in_failed", Description: err.Error()}, nil
	}
	call.Status = http.StatusFound
	shownGot, _ := url.QueryUnescape(httpx.RedactQuery(got))
	call.Body = fmt.Sprintf("(the Acme login form, filled in as %s) -> 302 to %s?%s", user, redirect, shownGot)
	if e := got.Get("error"); e != "" {
		return Outcome{RefusedBy: "idp", Status: http.StatusFound, Error: e, Description: got.Get("error_description")}, nil
	}
	resp, tcall, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/oauth2/token",
		Basic: &[2]string{clientID, secret},
		Form:  url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}})
	sr.Calls = append(sr.Calls, tcall)
	if err != nil {
		return Outcome{}, err
	}
	out := httpOutcome("idp", resp)
	if out.RefusedBy == "" {
		r.saveTokens(resp, st.Save)
		out.token = r.vars["id_token"]
	}
	return out, nil
}

func (r *run) saveTokens(resp *response, save string) {
	if v, _ := resp.JSON["id_token"].(string); v != "" {
		r.vars["id_token"] = v
		if save != "" {
			r.vars[save] = v
		}
	}
	if v, _ := resp.JSON["refresh_token"].(string); v != "" {
		r.vars["refresh_token"] = v
	}
}

// refresh uses the IdP refresh token for a fresh ID token (checklist 5:
// "when the ID token expired use the IdP refresh token").
func (r *run) refresh(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	rt := "${refresh_token}"
	if st.Refresh.RefreshToken != nil {
		rt = *st.Refresh.RefreshToken
	}
	rt, err := r.expand(rt)
	if err != nil {
		return Outcome{}, err
	}
	resp, call, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/oauth2/token",
		Basic: &[2]string{demo.Agent0IdPClientID, demo.Agent0IdPClientSecret},
		Form:  url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	out := httpOutcome("idp", resp)
	if out.RefusedBy == "" {
		r.saveTokens(resp, st.Save)
		out.token = r.vars["id_token"]
	}
	return out, nil
}

// form builds a token request: defaults, then overrides (nil pointer = keep
// the default, "" = send empty), then omissions and extras.
func (r *run) form(defaults [][2]string, overrides map[string]*string, omit []string, extra map[string]string) (url.Values, error) {
	f := url.Values{}
	for _, kv := range defaults {
		v := kv[1]
		if o, ok := overrides[kv[0]]; ok && o != nil {
			v = *o
		}
		v, err := r.expand(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv[0], err)
		}
		if v != "" || (overrides[kv[0]] != nil) {
			f.Set(kv[0], v)
		}
	}
	for k, v := range extra {
		v, err := r.expand(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		f.Set(k, v)
	}
	for _, k := range omit {
		f.Del(k)
	}
	return f, nil
}

// authenticate applies a step's client credentials to a request.
func (r *run) authenticate(req *request, c *Client, defID, defSecret string) error {
	id, secret, method := defID, defSecret, "basic"
	if c != nil {
		if c.ID != "" {
			id = c.ID
		}
		if c.Secret != "" {
			secret = c.Secret
		}
		if c.Auth != "" {
			method = c.Auth
		}
	}
	var err error
	if id, err = r.expand(id); err != nil {
		return err
	}
	if secret, err = r.expand(secret); err != nil {
		return err
	}
	switch method {
	case "basic":
		req.Basic = &[2]string{id, secret}
	case "post":
		req.Form.Set("client_id", id)
		req.Form.Set("client_secret", secret)
	case "none":
	}
	return nil
}

// exchange is the token exchange for an ID-JAG (checklist 1).
func (r *run) exchange(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	x := st.Exchange
	f, err := r.form([][2]string{
		{"grant_type", oauth.GrantTypeTokenExchange},
		{"requested_token_type", oauth.TokenTypeIDJAG},
		{"audience", "${todo0}"},
		{"resource", "${mcp}"},
		{"scope", "todos.read todos.write"},
		{"subject_token", "${id_token}"},
		{"subject_token_type", oauth.TokenTypeIDToken},
	}, map[string]*string{"audience": x.Audience, "resource": x.Resource, "scope": x.Scope, "subject_token": x.SubjectToken,
		"subject_token_type": x.SubjectTokenType, "requested_token_type": x.RequestedTokenType}, x.Omit, x.Extra)
	if err != nil {
		return Outcome{}, err
	}
	req := request{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/oauth2/token", Form: f}
	if err := r.authenticate(&req, x.Client, demo.Agent0IdPClientID, demo.Agent0IdPClientSecret); err != nil {
		return Outcome{}, err
	}
	if x.DPoP != nil {
		p, err := r.dpopProof(x.DPoP, http.MethodPost, req.URL, "")
		if err != nil {
			return Outcome{}, err
		}
		req.Headers = map[string]string{dpop.Header: p}
	}
	resp, call, err := do(ctx, r.hc, req)
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	out := httpOutcome("idp", resp)
	out.response = resp.JSON
	if out.RefusedBy != "" {
		return out, nil
	}
	// A strict client checks what it got (RFC 8693 2.2.1, IDJAG 4.3).
	jag, _ := resp.JSON["access_token"].(string)
	itt, _ := resp.JSON["issued_token_type"].(string)
	tt, _ := resp.JSON["token_type"].(string)
	switch {
	case jag == "":
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "no_access_token", Description: "the exchange response has no access_token"}, nil
	case itt != oauth.TokenTypeIDJAG:
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "wrong_issued_token_type", Description: fmt.Sprintf("issued_token_type is %q, want %s", itt, oauth.TokenTypeIDJAG)}, nil
	case !strings.EqualFold(tt, "N_A"):
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "wrong_token_type", Description: fmt.Sprintf("token_type is %q, want N_A (the ID-JAG is not an access token)", tt)}, nil
	}
	if x.DPoP != nil {
		// The ID-JAG draft: the client SHOULD check the IdP bound the ID-JAG
		// to the proof's key rather than silently ignoring the proof.
		key := x.DPoP.Key
		if key == "" {
			key = "a"
		}
		var jkt string
		if d := decode("", jag); d != nil {
			cnf, _ := d.Claims["cnf"].(map[string]any)
			jkt, _ = cnf["jkt"].(string)
		}
		if jkt != r.vars["dpop_jkt_"+key] {
			return Outcome{RefusedBy: "client", Status: resp.Status, Error: "unbound_id_jag", Description: "the exchange carried a DPoP proof but the ID-JAG is not bound to its key (cnf.jkt)"}, nil
		}
	}
	name := "id_jag"
	if st.Save != "" {
		name = st.Save
	}
	r.vars[name] = jag
	out.token = jag
	return out, nil
}

// redeem is the jwt-bearer grant at the Todo0 AS (checklist 3),
// with the strict client's checks on the answer.
func (r *run) redeem(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	x := st.Redeem
	f, err := r.form([][2]string{
		{"grant_type", oauth.GrantTypeJWTBearer},
		{"assertion", "${id_jag}"},
		{"scope", ""},
	}, map[string]*string{"grant_type": x.GrantType, "assertion": x.Assertion, "scope": x.Scope}, x.Omit, x.Extra)
	if err != nil {
		return Outcome{}, err
	}
	timeout := 10 * time.Second
	if x.Timeout != 0 {
		timeout = time.Duration(x.Timeout)
	}
	req := request{Party: "todo0", Method: http.MethodPost, URL: r.t.Todo0 + "/oauth2/token", Form: f, Timeout: timeout}
	if err := r.authenticate(&req, x.Client, demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret); err != nil {
		return Outcome{}, err
	}
	wantType := "Bearer"
	if x.DPoP != nil {
		p, err := r.dpopProof(x.DPoP, http.MethodPost, req.URL, "")
		if err != nil {
			return Outcome{}, err
		}
		req.Headers, wantType = map[string]string{dpop.Header: p}, dpop.Scheme
	}
	resp, call, err := do(ctx, r.hc, req)
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Outcome{RefusedBy: "client", Error: "timeout", Description: fmt.Sprintf("Todo0 did not answer within %s; the client gave up and cancelled the request", timeout)}, nil
		}
		return Outcome{}, err
	}
	out := httpOutcome("todo0", resp)
	out.response = resp.JSON
	if out.RefusedBy != "" {
		return out, nil
	}
	at, _ := resp.JSON["access_token"].(string)
	tt, _ := resp.JSON["token_type"].(string)
	switch {
	case at == "":
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "no_access_token", Description: "the response has no access_token"}, nil
	case !strings.EqualFold(tt, wantType):
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "wrong_token_type", Description: fmt.Sprintf("token_type is %q; a client must not use a token whose type it does not understand (RFC 6749 7.1)", tt)}, nil
	case resp.JSON["refresh_token"] != nil:
		return Outcome{RefusedBy: "client", Status: resp.Status, Error: "unexpected_refresh_token", Description: "the jwt-bearer response carries a refresh_token; an ID-JAG client goes back to the IdP instead, which is where revocation works (checklist 3)"}, nil
	}
	name := "access_token"
	if st.Save != "" {
		name = st.Save
	}
	r.vars[name] = at
	out.token = at
	return out, nil
}

// discover is the strict client's discovery (checklist 5): a request with
// no token, the challenge's resource_metadata, the PRM and the AS metadata.
func (r *run) discover(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	refuse := func(code, format string, args ...any) (Outcome, error) {
		return Outcome{RefusedBy: "client", Error: code, Description: fmt.Sprintf(format, args...)}, nil
	}
	resp, call, err := do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, JSON: initializeRequest(),
		Headers: map[string]string{"Accept": "application/json, text/event-stream"}})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if resp.Status != http.StatusUnauthorized {
		return refuse("no_challenge", "MCP answered %d without a token; a protected resource answers 401", resp.Status)
	}
	www := resp.Header.Get("WWW-Authenticate")
	prmURL := challengeParam(www, "resource_metadata")
	if prmURL == "" {
		u, _ := url.Parse(r.t.MCP)
		prmURL = u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource" + u.Path
		sr.Notes = append(sr.Notes, "the challenge names no resource_metadata; trying the well-known URL "+prmURL)
	}
	resp, call, err = do(ctx, r.hc, request{Party: "mcp", Method: http.MethodGet, URL: prmURL})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if resp.Status != http.StatusOK || resp.JSON == nil {
		return refuse("prm_missing", "no protected resource metadata at %s (HTTP %d): the client cannot learn which AS to use", prmURL, resp.Status)
	}
	if res, _ := resp.JSON["resource"].(string); res != r.t.MCP {
		return refuse("prm_wrong_resource", "PRM resource is %q but the client asked %s; RFC 9728 3.3 says to stop", res, r.t.MCP)
	}
	var ases []string
	if l, ok := resp.JSON["authorization_servers"].([]any); ok {
		for _, a := range l {
			if s, ok := a.(string); ok {
				ases = append(ases, s)
			}
		}
	}
	if !slices.Contains(ases, r.t.Todo0) {
		return refuse("prm_wrong_authorization_server", "PRM names authorization servers %v, not Todo0's %s, the audience the managed connection is for; an ID-JAG must only go to that AS", ases, r.t.Todo0)
	}
	as := r.t.Todo0
	resp, call, err = do(ctx, r.hc, request{Party: "todo0", Method: http.MethodGet, URL: as + "/.well-known/oauth-authorization-server"})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if resp.Status != http.StatusOK || resp.JSON == nil {
		return refuse("as_metadata_missing", "no AS metadata at %s (HTTP %d)", as, resp.Status)
	}
	if iss, _ := resp.JSON["issuer"].(string); iss != as {
		return refuse("as_issuer_mismatch", "AS metadata issuer %q differs from %s (RFC 8414 3.3)", iss, as)
	}
	profiles, _ := json.Marshal(resp.JSON["authorization_grant_profiles_supported"])
	if !strings.Contains(string(profiles), oauth.GrantProfileIDJAG) {
		return refuse("no_id_jag_profile", "the AS does not offer the id-jag grant profile")
	}
	r.vars["as_issuer"] = as
	return Outcome{Status: resp.Status}, nil
}

func initializeRequest() map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{"extensions": map[string]any{oauth.ExtensionEnterpriseManagedAuthorization: map[string]any{}}},
		"clientInfo":      map[string]any{"name": "xaa-play", "version": "1"},
	}}
}

// callTool opens an MCP session with a bearer token and calls one tool.
func (r *run) callTool(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	tok := "${access_token}"
	if st.CallTool.Token != nil {
		tok = *st.CallTool.Token
	}
	tok, err := r.expand(tok)
	if err != nil {
		return Outcome{}, err
	}
	scheme := ""
	// proved adds a fresh DPoP proof for one MCP request when the step asks.
	proved := func(method string, h map[string]string) (map[string]string, error) {
		spec := st.CallTool.DPoP
		if spec == nil || spec.Omit {
			return h, nil
		}
		p, err := r.dpopProof(spec, method, r.t.MCP, tok)
		out := map[string]string{dpop.Header: p}
		for k, v := range h {
			out[k] = v
		}
		return out, err
	}
	if st.CallTool.DPoP != nil {
		scheme = dpop.Scheme
	}
	hdr, err := proved(http.MethodPost, map[string]string{"Accept": "application/json, text/event-stream"})
	if err != nil {
		return Outcome{}, err
	}
	resp, call, err := do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, JSON: initializeRequest(), Bearer: tok, Scheme: scheme, Headers: hdr})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if resp.Status != http.StatusOK {
		return httpOutcome("mcp", resp), nil
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	hdr2 := map[string]string{"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-11-25"}
	if sid != "" {
		hdr2["Mcp-Session-Id"] = sid
	}
	// The initialized notification is part of the handshake; not narrated.
	h, err := proved(http.MethodPost, hdr2)
	if err != nil {
		return Outcome{}, err
	}
	if _, _, err := do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, Bearer: tok, Scheme: scheme, Headers: h,
		JSON: map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}}); err != nil {
		return Outcome{}, err
	}
	args, err := r.expandAny(st.CallTool.Arguments)
	if err != nil {
		return Outcome{}, err
	}
	if args == nil {
		args = map[string]any{}
	}
	if h, err = proved(http.MethodPost, hdr2); err != nil {
		return Outcome{}, err
	}
	resp, call, err = do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, Bearer: tok, Scheme: scheme, Headers: h,
		JSON: map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": map[string]any{"name": st.CallTool.Tool, "arguments": args}}})
	call.Tokens = nil // already shown with initialize
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if sid != "" {
		if h, err := proved(http.MethodDelete, hdr2); err == nil {
			_, _, _ = do(ctx, r.hc, request{Party: "mcp", Method: http.MethodDelete, URL: r.t.MCP, Bearer: tok, Scheme: scheme, Headers: h})
		}
	}
	if resp.Status != http.StatusOK {
		return httpOutcome("mcp", resp), nil
	}
	out := Outcome{Status: resp.Status}
	if e, ok := resp.JSON["error"].(map[string]any); ok {
		msg, _ := e["message"].(string)
		return Outcome{RefusedBy: "mcp", Status: resp.Status, Error: "jsonrpc_error", Description: msg}, nil
	}
	res, _ := resp.JSON["result"].(map[string]any)
	var texts []string
	if content, ok := res["content"].([]any); ok {
		for _, c := range content {
			if m, ok := c.(map[string]any); ok {
				if t, ok := m["text"].(string); ok {
					texts = append(texts, t)
				}
			}
		}
	}
	if sc, ok := res["structuredContent"]; ok {
		b, _ := json.Marshal(sc)
		texts = append(texts, string(b))
	}
	out.Text = strings.Join(texts, "\n")
	if isErr, _ := res["isError"].(bool); isErr {
		out.RefusedBy, out.Error, out.Description = "mcp", "tool_error", out.Text
	} else if st.CallTool.Tool == "create_todo" {
		r.noteCreated(tok, res)
	}
	return out, nil
}

// wait sleeps, or waits until a saved token's exp (plus the parties' clock
// tolerance) has passed.
func (r *run) wait(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	d := time.Duration(st.Wait.For)
	if name := st.Wait.UntilExpired; name != "" {
		raw, ok := r.vars[name]
		if !ok {
			return Outcome{}, fmt.Errorf("until_expired: %s is not set", name)
		}
		dec := decode(name, raw)
		exp, ok := dec.claimFloat("exp")
		if dec == nil || !ok {
			return Outcome{}, fmt.Errorf("until_expired: %s is not a JWT with exp", name)
		}
		d = time.Until(time.Unix(int64(exp), 0).Add(r.t.clockSkew + 1100*time.Millisecond))
		if d > 20*time.Second {
			return Outcome{}, fmt.Errorf("%s expires in %s (with %s of clock skew); set short lifetimes in setup", name, d.Round(time.Second), r.t.clockSkew)
		}
		if d < 0 {
			d = 0
		}
		sr.Notes = append(sr.Notes, fmt.Sprintf("%s expires at %s; waiting %s", name, time.Unix(int64(exp), 0).UTC().Format(time.TimeOnly), d.Round(100*time.Millisecond)))
	} else {
		sr.Notes = append(sr.Notes, "waiting "+d.String())
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
	return Outcome{}, nil
}

func (d *Decoded) claimFloat(name string) (float64, bool) {
	if d == nil {
		return 0, false
	}
	f, ok := d.Claims[name].(float64)
	return f, ok
}

// idpLogout signs the user out of Acme in their browser (revokes the
// session): Acme's "Sign out of Acme" opens the logout confirmation page,
// whose form (with its CSRF token) ends the session.
func (r *run) idpLogout(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	b := r.browser(st.IdPLogout.User)
	ask := &Call{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/logout"}
	sr.Calls = append(sr.Calls, ask)
	p, err := b.Get(ctx, r.t.IdP+"/logout")
	if err != nil {
		ask.Err = err.Error()
		return Outcome{}, err
	}
	ask.Status, ask.Body = p.Status, "(the confirmation page: no id_token_hint, so Acme asks)"
	call := &Call{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/logout"}
	sr.Calls = append(sr.Calls, call)
	p, err = b.SubmitForm(ctx, p, "/logout", nil)
	if err != nil {
		call.Err = err.Error()
		return Outcome{}, err
	}
	call.Status = p.Status
	call.Body = pageText(p.Body)
	return Outcome{Status: p.Status}, nil
}

var (
	dropRe  = regexp.MustCompile(`(?is)<style.*?</style>|<script.*?</script>|<head.*?</head>|<header.*?</header>|<form[^>]*action="/logout".*?</form>`)
	dtddRe  = regexp.MustCompile(`(?s)</dt>\s*<dd[^>]*>`)
	blockRe = regexp.MustCompile(`(?i)<(?:br|/?p|/?div|/?li|/?ul|/?h[1-6]|/?tr|/?dt|/?dd|/?dl|/?section|/?aside|/?main|/?pre|/?summary|/?details|/?table)\b[^>]*>`)
	tagRe   = regexp.MustCompile(`(?s)<[^>]+>`)
	alertRe = regexp.MustCompile(`(?s)role="alert"[^>]*>(.*?)</`)
	// Agent0's page: the connections panel is what a step changes, besides the chat's answer.
	panelRe = regexp.MustCompile(`(?s)<aside class="card" id="connections".*?</aside>`)
)

// chatItems are the lines of Agent0's chat list, oldest first: "me" for the
// user's own messages, "bot" for Agent0's answers (and its greeting).
type chatItem struct{ who, html string }

func chatItems(body string) []chatItem {
	i := strings.Index(body, `id="chat"`)
	if i < 0 {
		return nil
	}
	body = body[i:]
	if j := strings.Index(body, `<span id="last">`); j >= 0 {
		body = body[:j]
	}
	var out []chatItem
	for _, part := range strings.Split(body, `<li class="`)[1:] {
		who, rest, _ := strings.Cut(part, `"`)
		if who == "me" || who == "bot" {
			out = append(out, chatItem{who, rest})
		} else if len(out) > 0 {
			out[len(out)-1].html += part // a nested list item (a todo in an answer)
		}
	}
	return out
}

// userLines counts the user's own messages in the chat.
func userLines(body string) int {
	n := 0
	for _, it := range chatItems(body) {
		if it.who == "me" {
			n++
		}
	}
	return n
}

// newReply is Agent0's answer to the newest user message: the line right
// after it, when the page has more user messages than before (so the newest
// is the step's own).
func newReply(body string, before int) (string, bool) {
	if userLines(body) <= before {
		return "", false
	}
	items := chatItems(body)
	for k := len(items) - 1; k > 0; k-- {
		if items[k-1].who == "me" {
			if items[k].who != "bot" {
				return "", false
			}
			return pageText(`<li class="` + items[k].html), true
		}
	}
	return "", false
}

// pageText is the visible text of an HTML page as a person reads it: block
// elements start lines, inline ones (code, b, a) stay inside their sentence,
// the page header and sign-out form are left out.
func pageText(body string) string {
	t := dropRe.ReplaceAllString(body, "")
	t = dtddRe.ReplaceAllString(t, ": ") // "Error code: access_denied" on one line
	t = blockRe.ReplaceAllString(t, "\n")
	t = html.UnescapeString(tagRe.ReplaceAllString(t, ""))
	var lines []string
	for _, l := range strings.Split(t, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// agent0Summary is what an Agent0 step shows: the chat's latest answer and
// the connections panel, rather than the whole page.
func agent0Summary(body string) string {
	var parts []string
	items := chatItems(body)
	for k := len(items) - 1; k >= 0; k-- {
		if items[k].who == "bot" {
			parts = append(parts, "Agent0 says:\n  "+strings.ReplaceAll(pageText(`<li class="`+items[k].html), "\n", "\n  "))
			break
		}
	}
	if m := panelRe.FindString(body); m != "" {
		parts = append(parts, pageText(m))
	}
	if len(parts) == 0 {
		return pageText(body)
	}
	return strings.Join(parts, "\n")
}

// agent0 drives Agent0's web page in the user's browser.
func (r *run) agent0(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	a := st.Agent0
	b := r.browser(a.User)
	call := &Call{Party: "agent0"}
	sr.Calls = append(sr.Calls, call)
	start := time.Now()
	var p *webclient.Page
	var err error
	before := -1 // the user's messages in the chat before this step's
	switch a.Action {
	case "sign_in":
		call.Method, call.URL = http.MethodGet, r.t.Agent0+"/login"
		p, err = b.SignIn(ctx, r.t.Agent0+"/login", a.User, password(a.User, ""))
	case "reload":
		call.Method, call.URL = http.MethodGet, r.t.Agent0+"/"
		p, err = b.Get(ctx, r.t.Agent0+"/")
	case "add_todo", "reconnect":
		action := "/todos"
		fields := url.Values{"title": {a.Title}}
		if a.Action == "reconnect" {
			action, fields = "/reconnect", url.Values{}
		}
		call.Method, call.URL = http.MethodPost, r.t.Agent0+action
		call.Params = [][]string{}
		for k, v := range fields {
			call.Params = append(call.Params, []string{k, v[0]})
		}
		p, err = b.Get(ctx, r.t.Agent0+"/")
		if err == nil {
			before = userLines(p.Body)
			p, err = b.SubmitForm(ctx, p, action, fields)
		}
	}
	call.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		call.Err = err.Error()
		return Outcome{RefusedBy: "agent0", Error: "page_failed", Description: err.Error()}, nil
	}
	call.Status = p.Status
	text := pageText(p.Body)
	shown := agent0Summary(p.Body)
	if r := []rune(shown); len(r) > 1200 {
		shown = string(r[:1200]) + "…"
	}
	call.Body = "(page " + p.URL.String() + ")\n" + shown
	out := Outcome{Status: p.Status, Text: text}
	if before >= 0 {
		out.reply, out.hasReply = newReply(p.Body, before)
	}
	if m := alertRe.FindStringSubmatch(p.Body); m != nil {
		out.RefusedBy, out.Error, out.Description = "agent0", "shown_to_user", strings.TrimSpace(html.UnescapeString(tagRe.ReplaceAllString(m[1], "")))
	} else if p.Status >= 400 {
		out.RefusedBy, out.Error = "agent0", http.StatusText(p.Status)
	}
	return out, nil
}
