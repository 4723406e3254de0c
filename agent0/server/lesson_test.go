package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// flow records a sign-in, an exchange, a redemption and a tool call through
// the recorder, the way Agent0's HTTP client would, against one fake server.
func flow(t *testing.T) (*Recorder, string) {
	t.Helper()
	now := time.Now()
	idt := signJWT(t, "JWT", map[string]any{"iss": "https://acme", "sub": "00u_alice", "aud": "agent0", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "sid": "s1"})
	jag := signJWT(t, "oauth-id-jag+jwt", map[string]any{"iss": "https://acme", "sub": "00u_alice", "aud": "https://todo0", "client_id": "agent0-at-todo0", "scope": "todos.read", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j1"})
	at := signJWT(t, "at+jwt", map[string]any{"iss": "https://todo0", "sub": "t0u_1", "aud": "https://mcp/mcp", "client_id": "agent0-at-todo0", "scope": "todos.read", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "a1"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.FormValue("grant_type") {
		case "authorization_code":
			oauth.WriteJSON(w, 200, map[string]any{"id_token": idt, "access_token": "opaque", "token_type": "Bearer"})
		case oauth.GrantTypeTokenExchange:
			oauth.WriteJSON(w, 200, map[string]any{"access_token": jag, "issued_token_type": oauth.TokenTypeIDJAG, "token_type": "N_A"})
		case oauth.GrantTypeJWTBearer:
			oauth.WriteJSON(w, 200, map[string]any{"access_token": at, "token_type": "Bearer"})
		default:
			oauth.WriteJSON(w, 200, map[string]any{"jsonrpc": "2.0", "id": 1, "result": map[string]any{}})
		}
	}))
	t.Cleanup(srv.Close)
	rec := newRecorder(nil)
	hc := &http.Client{Transport: &recordingTransport{rec: rec}}
	post := func(form url.Values) {
		resp, err := hc.PostForm(srv.URL+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post(url.Values{"grant_type": {"authorization_code"}, "code": {"c"}})
	post(url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {idt}, "subject_token_type": {oauth.TokenTypeIDToken}})
	post(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag}})
	return rec, srv.URL
}

// TestLineageFollowsTheFlow: the lineage view shows the three tokens of one
// flow, each made from the previous one, with changed claims marked.
func TestLineageFollowsTheFlow(t *testing.T) {
	rec, _ := flow(t)
	l := buildLineage(rec.Exchanges(), time.Now())
	if l == nil || len(l.Tokens) != 3 || !l.Tokens[0].Present || !l.Tokens[1].Present || !l.Tokens[2].Present {
		t.Fatalf("lineage: %+v", l)
	}
	rows := map[string]LineageRow{}
	for _, r := range l.Rows {
		rows[r.Claim] = r
		if r.Why == "" {
			t.Errorf("claim %s has no explanation", r.Claim)
		}
	}
	cell := func(claim string, i int) LineageCell { return rows[claim].Cells[i] }
	for _, c := range []struct {
		claim   string
		i       int
		value   string
		changed bool
	}{
		{"typ", 0, "JWT", false}, {"typ", 1, "oauth-id-jag+jwt", true}, {"typ", 2, "at+jwt", true},
		{"aud", 0, "agent0", false}, {"aud", 1, "https://todo0", true}, {"aud", 2, "https://mcp/mcp", true},
		{"client_id", 1, "agent0-at-todo0", true}, {"client_id", 2, "agent0-at-todo0", false},
		{"iss", 1, "https://acme", false}, {"iss", 2, "https://todo0", true},
		{"sub", 1, "00u_alice", false}, {"sub", 2, "t0u_1", true},
		{"lifetime", 0, "1h0m0s", false}, {"lifetime", 1, "5m0s", true},
		{"sid", 1, "—", false}, // absent later: not highlighted
	} {
		if got := cell(c.claim, c.i); got.Value != c.value || got.Changed != c.changed {
			t.Errorf("%s in token %d = %+v, want %q changed=%v", c.claim, c.i, got, c.value, c.changed)
		}
	}
	if v := cell("exp", 1).Value; !strings.Contains(v, "UTC (expires in ") {
		t.Errorf("exp is not readable: %q", v)
	}
}

// TestPhasesAndLabels: steps are grouped into the sequence's phases, each
// with an explanation and its rules; a document fetched again is marked;
// every diagram label fits between its lanes.
func TestPhasesAndLabels(t *testing.T) {
	steps := []StepView{
		{Seq: 1, Title: "Authorization code → ID token (sign-in)", Lane: LaneIdP, LaneIndex: 0, Status: 200},
		{Seq: 2, Title: "MCP probe without a token (expects 401)", Lane: LaneMCP, LaneIndex: 3, Status: 401},
		{Seq: 3, Title: "Authorization server metadata (RFC 8414)", Lane: LaneAS, LaneIndex: 2, Status: 200, Method: "GET", URL: "https://todo0/.well-known/oauth-authorization-server", Path: "/.well-known/oauth-authorization-server"},
		{Seq: 4, Title: "Authorization server metadata (RFC 8414)", Lane: LaneAS, LaneIndex: 2, Status: 200, Method: "GET", URL: "https://todo0/.well-known/oauth-authorization-server", Path: "/.well-known/oauth-authorization-server"},
		{Seq: 5, Title: "Token exchange (RFC 8693): ID token → ID-JAG", Lane: LaneIdP, Status: 200, Request: "POST https://acme/oauth2/token\n\ncode=\ngrant_type=urn:ietf:params:oauth:grant-type:token-exchange\n"},
		{Seq: 6, Title: "JWT bearer grant (RFC 7523): ID-JAG → access token", Lane: LaneAS, LaneIndex: 2, Status: 200},
		{Seq: 7, Title: "MCP tools/call create_todo", Lane: LaneMCP, LaneIndex: 3, Status: 200},
		{Seq: 8, Title: "Silent re-exchange: Token exchange (RFC 8693): ID token → ID-JAG", Lane: LaneIdP, Status: 200, Silent: true},
		{Seq: 9, Title: "Reconnect (you pressed it): Token exchange (RFC 8693): ID token → ID-JAG", Lane: LaneIdP, Status: 400},
	}
	groups := groupPhases(steps)
	var keys []string
	for _, g := range groups {
		keys = append(keys, g.Key)
		if g.Explain == "" || !strings.Contains(g.Rules, "checklist") && g.Key != "signin" {
			t.Errorf("phase %s lacks its explanation or rule ids: %+v", g.Key, g.phase)
		}
	}
	if got := strings.Join(keys, " "); got != "signin discovery exchange redemption mcp renewal refusal" {
		t.Fatalf("phases: %s", got)
	}
	if rep := groups[1].Steps[2]; rep.Repeat != 3 || !strings.Contains(shortLabel(rep), "(again)") || len(rep.Notes) != 1 {
		t.Fatalf("the second metadata fetch is not marked as a repeat: %+v", rep)
	}
	if ex := groups[2].Steps[0]; len(ex.Notes) != 1 || !strings.Contains(ex.Notes[0], "empty code=") {
		t.Fatalf("the empty code= is not explained: %+v", ex.Notes)
	}
	if probe := groups[1].Steps[0]; len(probe.Notes) != 1 || !strings.Contains(probe.Notes[0], "RFC 9728") {
		t.Fatalf("the 401 probe is not explained: %+v", probe.Notes)
	}
	var all []StepView
	for _, g := range groups {
		for _, st := range g.Steps {
			st.Short = shortLabel(st)
			all = append(all, st)
		}
	}
	if l := shortLabel(all[8]); !strings.HasPrefix(l, "Reconnect") {
		t.Errorf("a Reconnect is labelled %q", l)
	}
	for _, a := range buildDiagram(all).Arrows {
		span := a.X2 - a.X1
		if span < 0 {
			span = -span
		}
		if span > 40 && len([]rune(a.Label))*7 > span {
			t.Errorf("label %q (%d chars) does not fit %d px", a.Label, len([]rune(a.Label)), span)
		}
		if a.Title == "" {
			t.Errorf("arrow %d has no full title for hover", a.Seq)
		}
	}
}
