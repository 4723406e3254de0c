// Package sandboxclient describes a running XAA sandbox, however it was
// started (sandboxtest in-process, the containers harness, `go run . up`,
// `docker compose up`): where each party is, the demo credentials, and a
// client for the parties' admin APIs (the IdP's administration and every
// party's fault switches).
//
// `go run . up --json` prints a Config as JSON, for harnesses in other
// languages.
package sandboxclient

import "github.com/xaa-sandbox/xaa-sandbox/shared/demo"

// Party names one of the four parties.
type Party string

// The four parties, as the admin API, the front door (`xaa-sandbox idp`) and
// the compose services name them.
const (
	IdP    Party = "idp"
	Agent0 Party = "agent0"
	Todo0  Party = "todo0"
	MCP    Party = "todo0-mcp"
)

// Parties lists the four parties in start order.
var Parties = []Party{IdP, Todo0, MCP, Agent0}

// Config is everything a client of a running sandbox needs.
type Config struct {
	URLs        URLs        `json:"urls"`
	Credentials Credentials `json:"credentials"`
}

// URLs are the public base URLs of the parties: the same in the browser, on
// the host and inside every party. They are also the issuers (IdP, Todo0)
// and the protected resource id (MCPResource).
type URLs struct {
	IdP         string `json:"idp"`          // Acme IdP: OIDC issuer, token exchange
	Agent0      string `json:"agent0"`       // Agent0: the requesting app (open it in a browser)
	Todo0       string `json:"todo0"`        // Todo0: web app, todo API, authorization server issuer
	MCP         string `json:"mcp"`          // Todo0 MCP base URL
	MCPResource string `json:"mcp_resource"` // Todo0 MCP endpoint and resource id (MCP + "/mcp")
}

// URL returns the base URL of p ("" for an unknown party).
func (u URLs) URL(p Party) string {
	switch p {
	case IdP:
		return u.IdP
	case Agent0:
		return u.Agent0
	case Todo0:
		return u.Todo0
	case MCP:
		return u.MCP
	}
	return ""
}

// NewURLs derives every URL from the four base URLs.
func NewURLs(idp, agent0, todo0, mcp string) URLs {
	return URLs{IdP: idp, Agent0: agent0, Todo0: todo0, MCP: mcp, MCPResource: mcp + demo.MCPPath}
}

// Client is an OAuth client's id and secret at one authorization server.
type Client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// User is a seeded user of the Acme IdP.
type User struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Active   bool     `json:"active"`
	Admin    bool     `json:"admin"`
	Apps     []string `json:"apps"` // apps the user is assigned to
}

// AdminTokens are the Bearer tokens of each party's admin API.
type AdminTokens struct {
	IdP   string `json:"idp"`       // /admin/api on the IdP (administration and faults)
	Todo0 string `json:"todo0"`     // /admin/api/faults on Todo0
	MCP   string `json:"todo0_mcp"` // /admin/api/faults on Todo0 MCP
}

// Credentials are the demo world's sandbox secrets (never reuse them anywhere real).
type Credentials struct {
	Agent0AtIdP   Client      `json:"agent0_at_idp"`      // Agent0 at the IdP (also private_key_jwt)
	Todo0AtIdP    Client      `json:"todo0_at_idp"`       // Todo0's own SSO at the IdP
	Agent0AtTodo0 Client      `json:"agent0_at_todo0"`    // Agent0 at the Todo0 AS (redeems ID-JAGs)
	MCPAtTodo0    Client      `json:"todo0_mcp_at_todo0"` // Todo0 MCP's service client for the todo API
	Scopes        []string    `json:"scopes"`             // scopes the managed connection allows at Todo0
	Users         []User      `json:"users"`
	AdminTokens   AdminTokens `json:"admin_tokens"`
}

// DemoCredentials are the credentials every fresh sandbox is seeded with
// (README "The demo world").
func DemoCredentials() Credentials {
	c := Credentials{
		Agent0AtIdP:   Client{demo.Agent0IdPClientID, demo.Agent0IdPClientSecret},
		Todo0AtIdP:    Client{demo.Todo0IdPClientID, demo.Todo0IdPClientSecret},
		Agent0AtTodo0: Client{demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret},
		MCPAtTodo0:    Client{demo.MCPServiceClientID, demo.MCPServiceClientSecret},
		Scopes:        append([]string(nil), demo.Todo0Scopes...),
		AdminTokens:   AdminTokens{IdP: demo.IdPAdminToken, Todo0: demo.Todo0AdminToken, MCP: demo.MCPAdminToken},
	}
	for _, u := range demo.Users {
		c.Users = append(c.Users, User{ID: u.ID, Username: u.Username, Password: u.Password, Active: u.Active, Admin: u.Admin, Apps: append([]string{}, u.Apps...)})
	}
	return c
}

// User returns the seeded user with that username (false when there is none).
func (c Credentials) User(username string) (User, bool) {
	for _, u := range c.Users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}
