package server

// The inspector as a lesson: the recorded exchanges grouped into the phases
// of the XAA sequence, each with why it happens and the rules it follows,
// and the "token lineage" of the latest flow: the ID token, the ID-JAG made
// from it and the access token redeemed for that, side by side, with what
// changed from one to the next and why.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// phase is one stage of the sequence.
type phase struct {
	Key, Name, Explain, Rules string
}

var phases = map[string]phase{
	"signin": {"signin", "Sign-in with Acme",
		"Alice signs in to Agent0 with Acme single sign-on: an authorization code with PKCE, redeemed at Acme's token endpoint for an ID token whose aud is Agent0's client id at Acme, and a refresh token. Agent0 reads Acme's discovery document and keys to verify the ID token.",
		"OpenID Connect Core 3.1 · RFC 7636 · RFC 9207"},
	"discovery": {"discovery", "Discovery",
		"Agent0's MCP client calls Todo0 MCP without a token, gets 401 with resource_metadata, reads the protected resource metadata (which authorization server?) and that server's metadata (does it redeem ID-JAGs?).",
		"checklist 5 · RFC 9728 · RFC 8414"},
	"exchange": {"exchange", "Token exchange at Acme",
		"Agent0 trades Alice's ID token for an ID-JAG: audience = Todo0's authorization server, resource = Todo0 MCP. Acme checks the client, the ID token, that Alice is active and assigned, and the administrator's managed connection, and narrows the scopes.",
		"checklist 1 · checklist 2 · RFC 8693"},
	"redemption": {"redemption", "Redemption at Todo0",
		"Agent0 presents the ID-JAG to Todo0's authorization server (jwt-bearer grant), authenticated as its client AT Todo0. Todo0 checks typ, alg, issuer and signature, aud, client_id, times, jti and resource, and issues a short-lived access token for Todo0 MCP. No refresh token: renewal goes back to Acme.",
		"checklist 3 · RFC 7523"},
	"mcp": {"mcp", "MCP calls",
		"Agent0's MCP client calls Todo0 MCP with the access token as a Bearer token. Todo0 MCP verifies it on its own (signature, aud = its resource, exp, scope) and reaches Todo0's API with its own credentials, never with the user's token.",
		"checklist 4 · MCP authorization 2025-11-25"},
	"renewal": {"renewal", "Renewal",
		"The access token expired (or Todo0 MCP answered 401): Agent0 runs the exchange again without Alice, with the refresh token first if the ID token expired. Every renewal goes back to Acme, which is where revocation takes effect.",
		"checklist 5 · checklist 9.1"},
	"refusal": {"refusal", "Refusal",
		"Acme or Todo0 refused. Agent0 stops calling for Alice and says why in plain words; it asks again after a pause or when she presses Reconnect.",
		"checklist 6 · IDJAG 4.4.3"},
}

// phaseOf places a step in the sequence.
func phaseOf(st StepView) string {
	t := st.Title
	switch {
	case st.Status >= 400 && (strings.Contains(t, "Token exchange") || strings.Contains(t, "JWT bearer") || strings.Contains(t, "Refresh grant")):
		return "refusal"
	case st.Silent || strings.Contains(t, "Refresh grant"):
		return "renewal"
	case strings.Contains(t, "Token exchange"):
		return "exchange"
	case strings.Contains(t, "JWT bearer"):
		return "redemption"
	case strings.Contains(t, "Authorization code"), strings.Contains(t, "OpenID Provider metadata"), st.Lane == LaneIdP && strings.Contains(t, "JWKS"):
		return "signin"
	case strings.Contains(t, "Protected resource metadata"), strings.Contains(t, "Authorization server metadata"), strings.Contains(t, "without a token"), strings.Contains(t, "(no token yet)"):
		return "discovery"
	case st.Lane == LaneMCP:
		return "mcp"
	}
	return "discovery"
}

// PhaseView is a run of consecutive steps in one phase.
type PhaseView struct {
	phase
	Steps []StepView
}

// groupPhases groups consecutive steps by phase, and labels a metadata
// document fetched again: the MCP SDK does not cache discovery between
// connections, which a client may do (the documents are static).
func groupPhases(steps []StepView) []PhaseView {
	var out []PhaseView
	first := map[string]int{}
	for _, st := range steps {
		if st.Method == "GET" && strings.Contains(st.Path, "/.well-known/") && st.Status == 200 {
			key := st.Method + " " + st.URL
			if n, ok := first[key]; ok {
				st.Repeat = n
			} else {
				first[key] = st.Seq
			}
		}
		st.Notes = notesFor(st)
		key := phaseOf(st)
		if len(out) == 0 || out[len(out)-1].Key != key {
			out = append(out, PhaseView{phase: phases[key]})
		}
		out[len(out)-1].Steps = append(out[len(out)-1].Steps, st)
	}
	return out
}

// notesFor explains what looks like noise in a step but is not.
func notesFor(st StepView) []string {
	var n []string
	if st.Lane == LaneMCP && st.Status == 401 && (strings.Contains(st.Title, "without a token") || strings.Contains(st.Title, "(no token yet)")) {
		n = append(n, "Expected: without a token Todo0 MCP answers 401 with WWW-Authenticate naming its resource_metadata; that is how a client discovers which authorization server to use (RFC 9728 5.1, checklist 4). The MCP SDK's first request of a connection gets it too.")
	}
	if strings.Contains(st.Title, "Token exchange") && strings.Contains(st.Request, "\ncode=\n") {
		n = append(n, "The Go MCP SDK sends an empty code= with the exchange; Acme ignores empty extra parameters, as some real IdPs must (checklist 1).")
	}
	if st.Repeat > 0 {
		n = append(n, fmt.Sprintf("Fetched again (first at step %d): the MCP SDK does not cache discovery between connections; a client may, the document is static.", st.Repeat))
	}
	return n
}

// shortLabel is a step's name on the sequence diagram, short enough for
// the gap between two lanes.
func shortLabel(st StepView) string {
	t := st.Title
	prefix := ""
	switch {
	case strings.HasPrefix(t, "Reconnect"):
		prefix = "Reconnect: "
	case st.Silent:
		prefix = "silent re-"
	}
	var s string
	switch {
	case strings.Contains(t, "Token exchange") && prefix != "":
		s = "exchange"
	case strings.Contains(t, "Token exchange"):
		s = "token exchange → ID-JAG"
	case strings.Contains(t, "JWT bearer"):
		s = "jwt-bearer → access token"
	case strings.Contains(t, "Refresh grant"):
		s = "refresh → new ID token"
	case strings.Contains(t, "Authorization code"):
		s = "code → ID token"
	case strings.Contains(t, "OpenID Provider metadata"):
		s = "OIDC discovery"
	case strings.Contains(t, "Protected resource metadata"):
		s = "resource metadata"
	case strings.Contains(t, "Authorization server metadata"):
		s = "AS metadata"
	case strings.Contains(t, "JWKS"):
		s = "JWKS"
	case strings.HasPrefix(t, "MCP "):
		s = strings.TrimPrefix(t, "MCP ")
	default:
		s = t
	}
	if st.Repeat > 0 {
		s += " (again)"
	}
	return prefix + s
}

// ---- token lineage ----

// TokenCol is one token of the lineage, decoded.
type TokenCol struct {
	Label, From string
	Present     bool
}

// LineageCell is one claim of one token.
type LineageCell struct {
	Value   string
	Changed bool // differs from the token to its left
}

// LineageRow is one claim across the three tokens.
type LineageRow struct {
	Claim, Why string
	Cells      []LineageCell
}

// Lineage is the latest flow's three tokens.
type Lineage struct {
	Tokens []TokenCol
	Rows   []LineageRow
}

var lineageRows = []struct{ claim, why string }{
	{"typ", "The JOSE header says what the token is: an ID token (JWT) cannot pass for an ID-JAG (oauth-id-jag+jwt), nor either for an access token (at+jwt), although Acme signs the first two with the same key (checklist 3.1)."},
	{"iss", "Acme issued the ID token and the ID-JAG; Todo0's authorization server issued the access token. Each verifier trusts only its issuer (checklist 3.3)."},
	{"sub", "Acme's id for Alice in the ID token and the ID-JAG. Todo0 maps (iss, sub) to a user of its own, whose id its access token carries, so the agent's Alice and the Alice who signs in to Todo0 are one user (checklist 3.10)."},
	{"aud", "Who may accept it: Agent0 (the ID token), Todo0's authorization server exactly (the ID-JAG, checklist 3.4), Todo0 MCP's resource (the access token, checklist 3.8)."},
	{"client_id", "Agent0's client id at Acme is agent0; at Todo0 it is agent0-at-todo0. The managed connection maps one to the other, and Todo0 checks it against the client that authenticated (checklist 2, 3.5)."},
	{"azp", "The ID token's authorized party."},
	{"resource", "The MCP server the ID-JAG is for, and hence the access token (RFC 8707; checklist 3.8)."},
	{"scope", "What Acme's managed connection granted (checklist 1.5), then what Todo0 granted of it (checklist 3.9)."},
	{"iat", "When each was issued."},
	{"exp", "Each expires on its own: the ID-JAG in minutes (single use, checklist 3.6, 3.7), the access token in minutes (no refresh token: renewal goes back to Acme)."},
	{"lifetime", "exp − iat."},
	{"jti", "Unique ids: Todo0 redeems an ID-JAG's jti at most once (checklist 3.7)."},
	{"nonce", "The sign-in's nonce, bound to Agent0's login (OpenID Connect)."},
	{"sid", "Acme's session: revoking it stops the exchange of this ID token (checklist 6)."},
}

// buildLineage follows the latest access token back: the jwt-bearer
// assertion that produced it, and the subject token of the exchange that
// produced that ID-JAG.
func buildLineage(exs []*Exchange, now time.Time) *Lineage {
	var at, jag, idt string
	for i := len(exs) - 1; i >= 0 && at == ""; i-- {
		e := exs[i]
		if e.Status == 200 && requestForm(e).Get("grant_type") == oauth.GrantTypeJWTBearer {
			at, jag = responseField(e, "access_token"), requestForm(e).Get("assertion")
		}
	}
	if at == "" {
		return nil
	}
	for _, e := range exs {
		f := requestForm(e)
		if e.Status == 200 && f.Get("grant_type") == oauth.GrantTypeTokenExchange && responseField(e, "access_token") == jag {
			idt = f.Get("subject_token")
			if f.Get("subject_token_type") != oauth.TokenTypeIDToken {
				idt = ""
			}
		}
	}
	l := &Lineage{Tokens: []TokenCol{
		{Label: "ID token", From: "Acme, at sign-in"}, {Label: "ID-JAG", From: "Acme, token exchange"}, {Label: "access token", From: "Todo0's authorization server, jwt-bearer"},
	}}
	var decoded [3]map[string]string
	for i, raw := range []string{idt, jag, at} {
		decoded[i] = flatten(raw, now)
		l.Tokens[i].Present = decoded[i] != nil
	}
	for _, r := range lineageRows {
		row := LineageRow{Claim: r.claim, Why: r.why}
		any := false
		for i := range decoded {
			v, ok := decoded[i][r.claim]
			if ok {
				any = true
			}
			c := LineageCell{Value: v}
			// A claim that appears or changes is highlighted; one that is
			// merely absent from the next token is not.
			if i > 0 && ok && decoded[i-1] != nil && v != decoded[i-1][r.claim] && r.claim != "jti" && r.claim != "iat" {
				c.Changed = true
			}
			if !ok {
				c.Value = "—"
			}
			row.Cells = append(row.Cells, c)
		}
		if any {
			l.Rows = append(l.Rows, row)
		}
	}
	return l
}

func responseField(e *Exchange, name string) string {
	var m map[string]any
	if json.Unmarshal(e.respBody, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// flatten decodes a JWT into display strings per claim (times readable).
func flatten(raw string, now time.Time) map[string]string {
	if raw == "" {
		return nil
	}
	hdr, claims, err := jwtverify.Peek(raw)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	if t, ok := hdr["typ"].(string); ok {
		out["typ"] = t
	}
	for k, v := range claims {
		switch x := v.(type) {
		case string:
			out[k] = x
		case []any:
			var parts []string
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			sort.Strings(parts)
			out[k] = strings.Join(parts, " ")
		case float64:
			out[k] = fmt.Sprint(int64(x))
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	iat, iok := claims["iat"].(float64)
	exp, eok := claims["exp"].(float64)
	if iok {
		out["iat"] = readableTime(time.Unix(int64(iat), 0), now, false)
	}
	if eok {
		out["exp"] = readableTime(time.Unix(int64(exp), 0), now, true)
	}
	if iok && eok {
		out["lifetime"] = (time.Duration(exp-iat) * time.Second).String()
	}
	return out
}

// readableTime is a date as people read it, relative to now: an expiry as
// "15:04:05 UTC (expires in 4m57s)" or "(expired 2m0s ago)", an issue time
// as "15:04:05 UTC (3m0s ago)".
func readableTime(t, now time.Time, expiry bool) string {
	s := t.UTC().Format("2006-01-02 15:04:05 UTC")
	d := t.Sub(now).Round(time.Second)
	switch {
	case expiry && d > 0:
		return s + " (expires in " + d.String() + ")"
	case expiry:
		return s + " (expired " + (-d).String() + " ago)"
	case d <= 0:
		return s + " (" + (-d).String() + " ago)"
	}
	return s + " (in " + d.String() + ")"
}
