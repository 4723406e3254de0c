package check

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// maxAttempts is how many times a client may ask again after a refusal
// before the checker calls it a loop.
const maxAttempts = 3

// ClientScenarios are the situations check client puts a client in, in order.
var ClientScenarios = []ClientScenario{
	{Name: "happy-path", Title: "the whole flow: token exchange, jwt-bearer, MCP call", judge: judgeHappy},
	{Name: "access-token-expiry", Title: "the MCP server answers the first call as if the access token had expired", inject: expireFirstToken, judge: judgeExpiry},
	{Name: "idp-refusal", Title: "the IdP refuses the exchange (the user was deactivated)", setup: func(ctx context.Context, a *sandboxclient.Admin, _ *sandbox.Sandbox) error {
		return a.DeactivateUser(ctx, "alice")
	}, judge: judgeRefused("idp-refusal", "exchange")},
	{Name: "narrowed-scope", Title: "the IdP grants less scope than asked (todos.read only)", setup: func(ctx context.Context, a *sandboxclient.Admin, _ *sandbox.Sandbox) error {
		return a.IdP(ctx, http.MethodPatch, "/connections/mc_agent0_todo0", map[string]any{"scopes": []string{demo.ScopeRead}}, nil)
	}, judge: judgeNarrowed},
	{Name: "rejected-id-jag", Title: "the authorization server rejects the ID-JAG (the IdP mints it for the wrong audience)", setup: func(ctx context.Context, a *sandboxclient.Admin, _ *sandbox.Sandbox) error {
		return a.SetFaults(ctx, sandboxclient.IdP, "id_jag.wrong_aud")
	}, judge: judgeRefused("rejected-id-jag", "redeem")},
	{Name: "failing-idp", Title: "the IdP's token endpoint fails (503 temporarily_unavailable)", inject: failIdP, judge: judgeRefused("failing-idp", "exchange")},
	{Name: "slow-idp", Title: "the IdP's token endpoint answers after 2 s", inject: slowIdP, judge: judgeSlow},
}

// ---- what the client did ----

func (r *clientRun) exchanges() []request {
	return r.filter(func(q request) bool {
		return q.Party == "idp" && q.Method == http.MethodPost && q.Path == "/oauth2/token" && q.Form.Get("grant_type") == oauth.GrantTypeTokenExchange
	})
}

func (r *clientRun) redemptions() []request {
	return r.filter(func(q request) bool {
		return q.Party == "todo0" && q.Method == http.MethodPost && q.Path == "/oauth2/token" && q.Form.Get("grant_type") == oauth.GrantTypeJWTBearer
	})
}

func (r *clientRun) mcpCalls() []request {
	return r.filter(func(q request) bool {
		return q.Party == "todo0-mcp" && q.Path == demo.MCPPath && q.Method == http.MethodPost
	})
}

// interactive are requests that start an interactive OAuth flow or
// register a client on the fly: what a client must not fall back to.
func (r *clientRun) interactive() []request {
	return r.filter(func(q request) bool {
		return strings.HasSuffix(q.Path, "/authorize") || q.Path == "/register" || strings.HasSuffix(q.Path, "/oauth2/register")
	})
}

func (r *clientRun) filter(f func(request) bool) []request {
	var out []request
	for _, q := range r.reqs {
		if f(q) {
			out = append(out, q)
		}
	}
	return out
}

func countStatus(reqs []request, status int) int {
	n := 0
	for _, q := range reqs {
		if q.Status == status {
			n++
		}
	}
	return n
}

func describeReqs(reqs []request) string {
	if len(reqs) == 0 {
		return "none"
	}
	var parts []string
	for _, q := range reqs {
		parts = append(parts, fmt.Sprint(q.Status))
	}
	return fmt.Sprintf("%d (answered %s)", len(reqs), strings.Join(parts, ", "))
}

func exitGot(r *clientRun) string {
	if r.timedOut {
		return "still running at the timeout (killed)"
	}
	return fmt.Sprintf("exit status %d", r.exitCode)
}

func res(id, title, spec string, level Level, expected, got string, ok bool) Result {
	return judge(Result{ID: id, Title: title, Spec: spec, Level: level, Expected: expected, Got: got}, ok)
}

func noInteractive(name string, r *clientRun) Result {
	got := r.interactive()
	var paths []string
	for _, q := range got {
		paths = append(paths, q.Party+" "+q.Method+" "+q.Path)
	}
	return res("client."+name+".no-interactive", "no fallback to interactive OAuth (authorization endpoint, dynamic registration)", "EMA (no user interaction), checklist 5", Must,
		"no request to an authorization or registration endpoint", strings.Join(append([]string{fmt.Sprint(len(got), " such requests")}, paths...), "; "), len(got) == 0)
}

// noTokenInURL: tokens travel in headers and bodies, never in URLs.
func noTokenInURL(sc ClientScenario, r *clientRun) Result {
	var bad []string
	for _, q := range r.reqs {
		for _, k := range []string{"access_token", "assertion", "subject_token", "id_token"} {
			if q.Query.Has(k) {
				bad = append(bad, q.Party+" "+q.Path+"?"+k+"=…")
			}
		}
		if strings.Contains(q.RawQuery, "eyJ") && !slices.Contains(bad, q.Party+" "+q.Path) {
			bad = append(bad, q.Party+" "+q.Path+" (a JWT in the query)")
		}
	}
	return res("client."+sc.Name+".no-token-in-url", "no token in any URL", "EMA 7.5.4, MCP authorization 2025-11-25 (tokens never in the query string)", Must,
		"no access_token, assertion, subject_token or JWT in a query string", fmt.Sprintf("%d: %s", len(bad), strings.Join(bad, ", ")), len(bad) == 0)
}

// ---- happy path ----

func judgeHappy(r *clientRun) []Result {
	ex := r.exchanges()
	var first request
	if len(ex) > 0 {
		first = ex[0]
	}
	f := first.Form
	want := map[string]string{
		"requested_token_type": oauth.TokenTypeIDJAG, "subject_token_type": oauth.TokenTypeIDToken,
		"audience": r.sb.Todo0URL, "resource": r.sb.MCPResource,
	}
	var wrong []string
	for _, k := range []string{"requested_token_type", "subject_token_type", "audience", "resource"} {
		if f.Get(k) != want[k] {
			wrong = append(wrong, fmt.Sprintf("%s=%q", k, f.Get(k)))
		}
	}
	exGot := "no token exchange"
	if len(ex) > 0 {
		exGot = "answered " + fmt.Sprint(first.Status)
		if len(wrong) > 0 {
			exGot += "; wrong: " + strings.Join(wrong, ", ")
		}
	}
	red := r.redemptions()
	calls := r.mcpCalls()
	var authed []request
	for _, q := range calls {
		if q.Bearer != "" {
			authed = append(authed, q)
		}
	}
	out := []Result{
		res("client.happy-path.exchange", "token exchange at the IdP for an ID-JAG: audience = the AS issuer, resource = the MCP server", "IDJAG 4.3, EMA, checklist 5", Must,
			fmt.Sprintf("requested_token_type id-jag, subject_token_type id_token, audience %s, resource %s", r.sb.Todo0URL, r.sb.MCPResource), exGot, len(ex) > 0 && len(wrong) == 0 && first.Status == 200),
		res("client.happy-path.redeem", "the ID-JAG is redeemed at the AS with the jwt-bearer grant", "IDJAG 4.4, RFC 7523 2.1", Must,
			"a jwt-bearer request answered 200", describeReqs(red), countStatus(red, 200) > 0),
		res("client.happy-path.mcp", "the MCP server is called with the access token as a Bearer header", "MCP authorization 2025-11-25, RFC 6750 2.1", Must,
			"MCP requests with Authorization: Bearer answered 200", describeReqs(authed), countStatus(authed, 200) > 0),
		res("client.happy-path.exit", "the client reports success", "checker convention", Should, "exit status 0", exitGot(r), r.exitCode == 0 && !r.timedOut),
		noInteractive("happy-path", r),
	}
	// Discovery: RFC 9728 metadata then RFC 8414 (checklist 5); hard-coded
	// configuration works too, so it is a SHOULD.
	prm := r.filter(func(q request) bool {
		return q.Party == "todo0-mcp" && strings.HasPrefix(q.Path, "/.well-known/oauth-protected-resource")
	})
	out = append(out, res("client.happy-path.discovery", "the client reads the MCP server's protected resource metadata", "MCP authorization 2025-11-25, checklist 5 (discover)", Should,
		"a GET of /.well-known/oauth-protected-resource…", fmt.Sprintf("%d such requests", len(prm)), len(prm) > 0))
	return out
}

// ---- access token expiry ----

// expireFirstToken treats the first access token the client sends to the
// MCP server as expired: every request carrying it gets the 401 a resource
// answers an expired token with, so only a new token gets through.
func expireFirstToken(party string, w http.ResponseWriter, r *http.Request, seen []request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if party != "todo0-mcp" || r.URL.Path != demo.MCPPath || !ok {
		return false
	}
	expired := strings.TrimSpace(tok)
	for _, q := range seen {
		if q.Party == "todo0-mcp" && q.Bearer != "" {
			expired = q.Bearer // the first one
			break
		}
	}
	if strings.TrimSpace(tok) != expired {
		return false
	}
	origin := "http://" + r.Host
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata=%q, scope="todos.read todos.write", error="invalid_token", error_description="the access token expired"`,
		origin+"/.well-known/oauth-protected-resource"+demo.MCPPath))
	oauth.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": oauth.ErrInvalidToken, "error_description": "the access token expired"})
	return true
}

func judgeExpiry(r *clientRun) []Result {
	calls := r.mcpCalls()
	var firstBearer string
	var later []request
	for _, q := range calls {
		switch {
		case q.Bearer == "":
		case firstBearer == "":
			firstBearer = q.Bearer
		case q.Bearer != firstBearer:
			later = append(later, q)
		}
	}
	ex, red := r.exchanges(), r.redemptions()
	return []Result{
		res("client.access-token-expiry.reexchange", "after a 401 invalid_token the client gets a new ID-JAG and access token, silently", "checklist 5 (on expiry or 401 re-run the exchange without user interaction)", Must,
			"2 or more token exchanges and jwt-bearer redemptions, then a call with the new token answered 200",
			fmt.Sprintf("exchanges %d, redemptions %d, calls with a new token %s", len(ex), len(red), describeReqs(later)),
			len(ex) >= 2 && countStatus(red, 200) >= 2 && countStatus(later, 200) > 0),
		res("client.access-token-expiry.exit", "the client reports success", "checker convention", Should, "exit status 0", exitGot(r), r.exitCode == 0 && !r.timedOut),
		noInteractive("access-token-expiry", r),
	}
}

// ---- refusals and failures ----

// judgeRefused: the client stops after a refusal at step ("exchange" at the
// IdP, "redeem" at the AS): it does not loop, does not go on to the next
// step, does not fall back to interactive OAuth, and reports the failure.
func judgeRefused(name, step string) func(r *clientRun) []Result {
	return func(r *clientRun) []Result {
		tries := r.exchanges()
		next := r.redemptions()
		what, nextWhat := "token exchanges", "jwt-bearer redemptions"
		if step == "redeem" {
			tries, next = r.redemptions(), r.filter(func(q request) bool { return q.Party == "todo0-mcp" && q.Bearer != "" })
			what, nextWhat = "jwt-bearer redemptions", "MCP calls with a token"
		}
		return []Result{
			res("client."+name+".bounded", "the client does not retry a refusal in a loop", "checklist 5 (stop and tell the user)", Must,
				fmt.Sprintf("1 to %d %s", maxAttempts, what), fmt.Sprintf("%d %s", len(tries), what), len(tries) >= 1 && len(tries) <= maxAttempts),
			res("client."+name+".stops", "nothing is sent to the next step after the refusal", "checklist 5", Must,
				"no "+nextWhat, fmt.Sprintf("%d %s", countStatus(next, 200), nextWhat+" that succeeded"), countStatus(next, 200) == 0),
			noInteractive(name, r),
			res("client."+name+".exit", "the client reports the failure", "checklist 5 (tell the user plainly)", Should,
				"a non-zero exit status within the timeout", exitGot(r), r.exitCode != 0 && !r.timedOut),
		}
	}
}

func failIdP(party string, w http.ResponseWriter, r *http.Request, _ []request) bool {
	if party != "idp" || r.URL.Path != "/oauth2/token" || r.Method != http.MethodPost {
		return false
	}
	w.Header().Set("Retry-After", "1")
	oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrTemporarilyUnavail, Status: http.StatusServiceUnavailable, Description: "the IdP is down for maintenance (check client: failing-idp)"})
	return true
}

func slowIdP(party string, w http.ResponseWriter, r *http.Request, _ []request) bool {
	if party == "idp" && r.URL.Path == "/oauth2/token" {
		delay(r, 2*time.Second)
	}
	return false
}

func judgeSlow(r *clientRun) []Result {
	calls := r.filter(func(q request) bool { return q.Party == "todo0-mcp" && q.Bearer != "" })
	return []Result{
		res("client.slow-idp.completes", "a slow IdP (2 s) does not make the client give up or retry in parallel", "checklist 5", Should,
			"one token exchange, then a successful MCP call and exit status 0",
			fmt.Sprintf("exchanges %d, MCP calls %s, %s", len(r.exchanges()), describeReqs(calls), exitGot(r)),
			len(r.exchanges()) == 1 && countStatus(calls, 200) > 0 && r.exitCode == 0 && !r.timedOut),
		noInteractive("slow-idp", r),
	}
}

// ---- narrowed scope ----

func judgeNarrowed(r *clientRun) []Result {
	ex := r.exchanges()
	calls := r.filter(func(q request) bool { return q.Party == "todo0-mcp" && q.Bearer != "" })
	return []Result{
		res("client.narrowed-scope.proceeds", "the client goes on with the narrower grant instead of failing", "IDJAG 4.3 (scope may be narrowed), checklist 5", Should,
			"MCP calls with the narrowed token answered 200", describeReqs(calls), countStatus(calls, 200) > 0),
		res("client.narrowed-scope.bounded", "the client does not ask the IdP again and again for the scope it was denied", "checklist 5", Must,
			fmt.Sprintf("1 to %d token exchanges", maxAttempts), fmt.Sprintf("%d token exchanges", len(ex)), len(ex) >= 1 && len(ex) <= maxAttempts),
		noInteractive("narrowed-scope", r),
	}
}
