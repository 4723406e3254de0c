package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// adminAction is one IdP admin operation (docs/idp-admin.md).
type adminAction struct {
	method, path string // path under /admin/api; {user} and {conn} are filled in
	body         func(a *Admin) any
	explain      string
}

var adminActions = map[string]adminAction{
	"deactivate_user":    {http.MethodPost, "/users/{user}/deactivate", nil, "deactivate the user"},
	"reactivate_user":    {http.MethodPost, "/users/{user}/reactivate", nil, "reactivate the user"},
	"revoke_sessions":    {http.MethodDelete, "/users/{user}/sessions", nil, "revoke all the user's Acme sessions and refresh tokens"},
	"unassign_user":      {http.MethodDelete, "/apps/" + demo.AppTodo0 + "/assignments/users/{user}", nil, "remove the user's assignment to Todo0"},
	"disable_connection": {http.MethodPatch, "/connections/{conn}", func(*Admin) any { return map[string]any{"enabled": false} }, "disable the managed connection"},
	"enable_connection":  {http.MethodPatch, "/connections/{conn}", func(*Admin) any { return map[string]any{"enabled": true} }, "enable the managed connection"},
	"delete_connection":  {http.MethodDelete, "/connections/{conn}", nil, "delete the managed connection"},
	"set_connection_scopes": {http.MethodPatch, "/connections/{conn}", func(a *Admin) any {
		return map[string]any{"scopes": strings.Fields(a.Scopes)}
	}, "change the scopes the managed connection allows"},
	"set_connection_max_auth_age": {http.MethodPatch, "/connections/{conn}", func(a *Admin) any {
		return map[string]any{"max_auth_age": a.MaxAuthAge}
	}, "require a sign-in at most max_auth_age seconds old (step-up)"},
}

func adminActionNames() []string {
	out := make([]string, 0, len(adminActions))
	for k := range adminActions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// userID maps a demo username to its IdP id (the admin API takes ids).
func userID(name string) string {
	for _, u := range demo.Users {
		if u.Username == name {
			return u.ID
		}
	}
	return name
}

// admin runs an IdP admin action with the sandbox admin token.
func (r *run) admin(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	a := st.Admin
	act := adminActions[a.Action]
	path := strings.ReplaceAll(act.path, "{user}", url.PathEscape(userID(a.User)))
	if strings.Contains(path, "{conn}") {
		id := a.Connection
		if id == "" {
			var err error
			if id, err = r.connectionID(ctx, sr); err != nil {
				return Outcome{}, err
			}
		}
		path = strings.ReplaceAll(path, "{conn}", url.PathEscape(id))
	}
	req := request{Party: "idp", Method: act.method, URL: r.t.IdP + "/admin/api" + path, Bearer: demo.IdPAdminToken}
	if act.body != nil {
		req.JSON = act.body(a)
	}
	resp, call, err := do(ctx, r.hc, req)
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	if sr.Explain == "" {
		sr.Explain = "The Acme administrator: " + act.explain + "."
	}
	return httpOutcome("idp", resp), nil
}

// connectionID finds the managed connection Agent0 -> Todo0.
func (r *run) connectionID(ctx context.Context, sr *StepReport) (string, error) {
	resp, call, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/admin/api/connections", Bearer: demo.IdPAdminToken})
	sr.Calls = append(sr.Calls, call)
	call.Body = "(list of managed connections)"
	if err != nil {
		return "", err
	}
	var list []struct {
		ID            string `json:"id"`
		ClientID      string `json:"client_id"`
		ResourceAppID string `json:"resource_app_id"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return "", fmt.Errorf("admin API: connections: HTTP %d", resp.Status)
	}
	for _, c := range list {
		if c.ClientID == demo.Agent0IdPClientID && c.ResourceAppID == demo.AppTodo0 {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("admin API: no managed connection agent0 -> todo0")
}

// rotateKeys rotates the IdP's signing key (the old key stays published).
func (r *run) rotateKeys(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	resp, call, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodPost, URL: r.t.IdP + "/admin/api/keys/rotate", Bearer: demo.IdPAdminToken})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return Outcome{}, err
	}
	return httpOutcome("idp", resp), nil
}

// auditMark is the id of the IdP's newest audit record (0 when none).
func (r *run) auditMark(ctx context.Context) (int64, error) {
	resp, _, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/admin/api/audit?limit=1", Bearer: demo.IdPAdminToken})
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	var list []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return 0, fmt.Errorf("audit: HTTP %d: %w", resp.Status, err)
	}
	if len(list) == 0 {
		return 0, nil
	}
	return list[0].ID, nil
}

// checkAudit compares the IdP's newest audit record (of the expected event,
// token_exchange unless named) with want: event, outcome, error, client_id
// and user_id exactly; rule and reason by substring. The record must be
// newer than mark: one this step caused, not an earlier step's.
func (r *run) checkAudit(want map[string]string, mark int64, sr *StepReport) string {
	ev := want["event"]
	if ev == "" {
		ev = "token_exchange"
	}
	resp, call, err := do(context.Background(), r.hc, request{Party: "idp", Method: http.MethodGet,
		URL: r.t.IdP + "/admin/api/audit?limit=1&event=" + url.QueryEscape(ev), Bearer: demo.IdPAdminToken})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return "audit: " + err.Error()
	}
	var list []map[string]any
	if err := json.Unmarshal(resp.Body, &list); err != nil || len(list) == 0 {
		return fmt.Sprintf("audit: no %s record in the IdP audit log (HTTP %d)", ev, resp.Status)
	}
	got := list[0]
	if id, _ := got["id"].(float64); int64(id) <= mark {
		return fmt.Sprintf("audit: this step wrote no %s record (the newest, #%d, is from before it)", ev, int64(id))
	}
	var probs []string
	for k, w := range want {
		g := fmt.Sprint(got[k])
		if got[k] == nil {
			g = ""
		}
		switch k {
		case "rule", "reason":
			if !strings.Contains(g, w) {
				probs = append(probs, fmt.Sprintf("audit %s %q does not contain %q", k, g, w))
			}
		default:
			if g != w {
				probs = append(probs, fmt.Sprintf("audit %s is %q, expected %q", k, g, w))
			}
		}
	}
	return strings.Join(probs, "; ")
}
