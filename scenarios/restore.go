package scenarios

// Playing against running parties (--target) touches a sandbox someone may be
// using: faults, the administrator's policy, sessions, signing keys, todos.
// GlobalChanges says what a scenario changes (the front door asks for --yes
// before playing such scenarios), and the runner restores what can be
// restored: the faults that were active before, the todos the scenario
// created; its cleanup steps undo its admin actions.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// Change is one thing a scenario changes in the parties it plays against.
type Change struct {
	What string `json:"what"`
	// Restored: the runner or the scenario's cleanup puts it back.
	Restored bool `json:"restored"`
}

func (c Change) String() string {
	if c.Restored {
		return c.What + " (restored afterwards)"
	}
	return c.What + " (cannot be undone)"
}

// undoOf pairs admin actions with the action that undoes them.
var undoOf = map[string]string{
	"deactivate_user":       "reactivate_user",
	"disable_connection":    "enable_connection",
	"set_connection_scopes": "set_connection_scopes",
}

// GlobalChanges lists what playing sc against running parties changes for
// everyone using them; nil when it changes nothing but its own sessions, or
// when it needs a sandbox of its own (and is skipped with --target).
func GlobalChanges(sc *Scenario) []Change {
	if sc.Setup.needsInProcess() {
		return nil // never played against running parties: skipped with --target
	}
	var out []Change
	seen := map[string]bool{}
	add := func(c Change) {
		if !seen[c.What] {
			seen[c.What] = true
			out = append(out, c)
		}
	}
	cleanup := map[string]bool{}
	for _, st := range sc.Cleanup {
		if st.Admin != nil {
			cleanup[st.Admin.Action+" "+st.Admin.User+" "+st.Admin.Connection] = true
		}
	}
	parties := map[string]bool{}
	for p := range sc.Setup.Faults {
		parties[p] = true
	}
	for _, st := range append(append([]*Step{}, sc.Steps...), sc.Cleanup...) {
		switch {
		case st.Faults != nil:
			parties[st.Faults.Party] = true
		case st.Admin != nil:
			a := st.Admin
			if _, undo := undoOf[a.Action]; !undo && isUndo(a.Action) {
				continue // an undo step itself
			}
			who := strings.TrimSpace(a.User + " " + a.Connection)
			what := fmt.Sprintf("Acme admin: %s %s", adminActions[a.Action].explain, who)
			undo, ok := undoOf[a.Action]
			restored := ok && cleanup[undo+" "+a.User+" "+a.Connection]
			if a.Action == "set_connection_scopes" {
				restored = len(sc.Cleanup) > 0 && hasCleanupAction(sc, "set_connection_scopes")
			}
			if a.Action == "revoke_sessions" {
				what = "Acme admin: revoke all of " + a.User + "'s Acme sessions and refresh tokens: whoever is signed in as " + a.User + " must sign in again"
			}
			add(Change{What: strings.TrimSpace(what), Restored: restored})
		case st.RotateKeys != nil:
			add(Change{What: "rotate the signing keys of " + partyName(st.RotateKeys.Party)})
		case st.CallTool != nil && st.CallTool.Tool == "create_todo":
			add(Change{What: "create todos at Todo0", Restored: true})
		case st.Agent0 != nil && st.Agent0.Action == "add_todo":
			add(Change{What: "add todos at Todo0 through Agent0's chat"})
		}
	}
	names := make([]string, 0, len(parties))
	for p := range parties {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		out = append(out, Change{What: "switch faults at " + partyName(p), Restored: true})
	}
	return out
}

func isUndo(action string) bool {
	for _, u := range undoOf {
		if u == action {
			return true
		}
	}
	return false
}

func hasCleanupAction(sc *Scenario, action string) bool {
	for _, st := range sc.Cleanup {
		if st.Admin != nil && st.Admin.Action == action {
			return true
		}
	}
	return false
}

// madeTodo is a todo a scenario created through Todo0 MCP, with the token
// that created it.
type madeTodo struct {
	token string
	id    int64
}

// noteCreated remembers the todo a successful create_todo returned.
func (r *run) noteCreated(tok string, res map[string]any) {
	sc, _ := res["structuredContent"].(map[string]any)
	if id, ok := sc["id"].(float64); ok {
		r.made = append(r.made, madeTodo{token: tok, id: int64(id)})
	}
}

// deleteMadeTodos deletes the todos the scenario created, with the tokens
// that created them (or the newest access token when one has expired).
func (r *run) deleteMadeTodos(ctx context.Context) *StepReport {
	sr := &StepReport{Kind: "restore", Explain: fmt.Sprintf("Delete the %s this scenario created, so the running sandbox is left as it was.", plural(len(r.made), "todo", "todos")),
		Expected: "succeeds", Passed: true, Cleanup: true}
	for _, m := range r.made {
		ok := false
		for _, tok := range []string{m.token, r.vars["access_token"]} {
			if tok == "" {
				continue
			}
			st, call := r.mcpTool(ctx, tok, "delete_todo", map[string]any{"id": m.id})
			sr.Calls = append(sr.Calls, call)
			if st == http.StatusOK {
				ok = true
				break
			}
		}
		if !ok {
			// A token narrowed so that it may not delete (authorization_details)
			// leaves the todo to Todo0's service API, as Todo0 MCP's own client.
			ok = r.deleteThroughAPI(ctx, sr, m)
		}
		if !ok {
			sr.Problem = fmt.Sprintf("todo %d could not be deleted", m.id)
			sr.Passed = false
		}
	}
	return sr
}

// deleteThroughAPI deletes a todo through Todo0's service API with Todo0
// MCP's demo credentials, for the user the creating token names.
func (r *run) deleteThroughAPI(ctx context.Context, sr *StepReport, m madeTodo) bool {
	_, claims, err := jwtverify.Peek(m.token)
	sub, _ := claims["sub"].(string)
	if err != nil || sub == "" {
		return false
	}
	u := r.t.Todo0 + "/api/v1/users/" + url.PathEscape(sub) + "/todos/" + strconv.FormatInt(m.id, 10)
	resp, call, err := do(ctx, r.hc, request{Party: "todo0", Method: http.MethodDelete, URL: u,
		Basic: &[2]string{demo.MCPServiceClientID, demo.MCPServiceClientSecret}})
	sr.Calls = append(sr.Calls, call)
	return err == nil && resp.Status < 300
}

// mcpTool calls one tool in a session of its own: initialize, initialized,
// tools/call, and the session's end.
func (r *run) mcpTool(ctx context.Context, tok, tool string, args map[string]any) (int, *Call) {
	hdr := map[string]string{"Accept": "application/json, text/event-stream"}
	resp, call, err := do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, JSON: initializeRequest(), Bearer: tok, Headers: hdr})
	if err != nil || resp.Status != http.StatusOK {
		return 0, call
	}
	hdr2 := map[string]string{"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-11-25"}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		hdr2["Mcp-Session-Id"] = sid
		defer func() {
			_, _, _ = do(ctx, r.hc, request{Party: "mcp", Method: http.MethodDelete, URL: r.t.MCP, Bearer: tok, Headers: hdr2})
		}()
	}
	if _, _, err := do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, Bearer: tok, Headers: hdr2,
		JSON: map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}}); err != nil {
		return 0, call
	}
	resp, call, err = do(ctx, r.hc, request{Party: "mcp", Method: http.MethodPost, URL: r.t.MCP, Bearer: tok, Headers: hdr2,
		JSON: map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}}})
	if err != nil {
		return 0, call
	}
	if res, _ := resp.JSON["result"].(map[string]any); res != nil {
		if isErr, _ := res["isError"].(bool); isErr {
			return http.StatusConflict, call
		}
	}
	return resp.Status, call
}

// activeFaults reads a party's active faults before the scenario changes
// them, so they can be put back.
func (r *run) activeFaults(ctx context.Context, party string) ([]string, error) {
	resp, _, err := do(ctx, r.hc, request{Party: party, Method: http.MethodGet, URL: r.partyURL(party) + "/admin/api/faults", Bearer: adminToken(party)})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.Status)
	}
	var st struct {
		Active []string `json:"active"`
	}
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		return nil, err
	}
	return st.Active, nil
}

// Plural is "1 scenario", "2 scenarios".
func Plural(n int, one, many string) string { return plural(n, one, many) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
