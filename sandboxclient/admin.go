package sandboxclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Admin calls the parties' admin APIs: the IdP's administration
// (docs/idp-admin.md) and the fault switches of the IdP, Todo0 and Todo0 MCP
// (docs/todo0-faults.md). Faults are in memory: a restarted party has none.
type Admin struct {
	URLs   URLs
	Tokens AdminTokens
	// HTTP is the client used (http.DefaultClient when nil).
	HTTP *http.Client
}

// NewAdmin returns an admin client for the sandbox described by c.
func NewAdmin(c Config) *Admin {
	return &Admin{URLs: c.URLs, Tokens: c.Credentials.AdminTokens}
}

// Error is a non-2xx answer of an admin API, with its OAuth error body.
type Error struct {
	Status      int    // HTTP status
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("admin API: HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

// Fault is one misbehaviour a party can be switched into.
type Fault struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Faults is a party's fault switchboard: what it knows, what is on.
type Faults struct {
	Active []string `json:"active"`
	Known  []Fault  `json:"known"`
}

// SetFaults makes exactly names active at party p (none: all off). Unknown
// names are refused and change nothing. Agent0 has no faults.
func (a *Admin) SetFaults(ctx context.Context, p Party, names ...string) error {
	if names == nil {
		names = []string{}
	}
	return a.faults(ctx, p, http.MethodPut, map[string]any{"active": names}, nil)
}

// Faults returns party p's fault switchboard.
func (a *Admin) Faults(ctx context.Context, p Party) (Faults, error) {
	var f Faults
	err := a.faults(ctx, p, http.MethodGet, nil, &f)
	return f, err
}

func (a *Admin) faults(ctx context.Context, p Party, method string, in, out any) error {
	var token string
	switch p {
	case IdP:
		token = a.Tokens.IdP
	case Todo0:
		token = a.Tokens.Todo0
	case MCP:
		token = a.Tokens.MCP
	default:
		return fmt.Errorf("admin API: party %q has no fault switches (idp, todo0, todo0-mcp)", p)
	}
	return a.do(ctx, method, a.URLs.URL(p)+"/admin/api/faults", token, in, out)
}

// IdP calls the IdP's admin API: path is under /admin/api (e.g. "/users"),
// in (when not nil) is sent as JSON and the answer decoded into out (when not nil).
func (a *Admin) IdP(ctx context.Context, method, path string, in, out any) error {
	return a.do(ctx, method, a.URLs.IdP+"/admin/api"+path, a.Tokens.IdP, in, out)
}

// DeactivateUser deactivates a user at the IdP by username: sign-ins and
// token exchanges for them are refused until ReactivateUser.
func (a *Admin) DeactivateUser(ctx context.Context, username string) error {
	return a.userAction(ctx, username, "deactivate")
}

// ReactivateUser undoes DeactivateUser.
func (a *Admin) ReactivateUser(ctx context.Context, username string) error {
	return a.userAction(ctx, username, "reactivate")
}

// userPage is how many users userAction asks for at a time (the IdP's maximum).
var userPage = 1000

func (a *Admin) userAction(ctx context.Context, username, action string) error {
	// The IdP lists users a page at a time, by username.
	page := userPage
	after := ""
	for {
		var users []struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		}
		q := url.Values{"limit": {fmt.Sprint(page)}, "after": {after}}
		if err := a.IdP(ctx, http.MethodGet, "/users?"+q.Encode(), nil, &users); err != nil {
			return err
		}
		for _, u := range users {
			if u.Username == username {
				return a.IdP(ctx, http.MethodPost, "/users/"+url.PathEscape(u.ID)+"/"+action, nil, nil)
			}
		}
		if len(users) < page {
			return fmt.Errorf("admin API: no user %q at the IdP", username)
		}
		after = users[len(users)-1].Username
	}
}

func (a *Admin) do(ctx context.Context, method, u, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Description = strings.TrimSpace(string(b))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("admin API: %s %s: %w", method, u, err)
		}
	}
	return nil
}
