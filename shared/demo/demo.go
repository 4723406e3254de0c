// Package demo names the seeded demo world: default URLs, users, clients and
// their well-known sandbox secrets. Parties use these only as configuration
// defaults (each party still has its own database and keys), and the README
// documents them. They are sandbox credentials: never reuse them anywhere real.
package demo

// Default public URLs of the four parties.
const (
	IdPURL      = "http://localhost:7001"
	Agent0URL   = "http://localhost:7002"
	Todo0URL    = "http://localhost:7003"
	Todo0MCPURL = "http://localhost:7004"
	// MCPPath is where Todo0 MCP serves; its resource id is Todo0MCPURL+MCPPath.
	MCPPath = "/mcp"
)

// User is a seeded IdP user.
type User struct {
	ID, Username, Password, Name, Email string
	Active, Admin                       bool
	Apps                                []string // app ids the user is assigned to
}

// App ids at the IdP.
const (
	AppAgent0 = "agent0"
	AppTodo0  = "todo0"
	// AppWiki0 is a second requesting app that signs in with SAML 2.0.
	AppWiki0 = "wiki0"
)

// Users of the seeded world.
var Users = []User{
	{ID: "00u_alice", Username: "alice", Password: "alice-demo", Name: "Alice Anderson", Email: "alice@acme.example", Active: true, Apps: []string{AppAgent0, AppTodo0, AppWiki0}},
	{ID: "00u_bob", Username: "bob", Password: "bob-demo", Name: "Bob Brown", Email: "bob@acme.example", Active: true, Apps: []string{AppAgent0, AppWiki0}},
	{ID: "00u_carol", Username: "carol", Password: "carol-demo", Name: "Carol Chen", Email: "carol@acme.example", Active: false, Apps: []string{AppAgent0, AppTodo0, AppWiki0}},
	{ID: "00u_admin", Username: "admin", Password: "admin-demo", Name: "Acme Admin", Email: "admin@acme.example", Active: true, Admin: true},
}

// Clients and secrets.
const (
	// Agent0 at the IdP (confidential; also registered for private_key_jwt).
	Agent0IdPClientID     = "agent0"
	Agent0IdPClientSecret = "agent0-idp-secret"
	// Todo0's web app at the IdP, for its own SSO.
	Todo0IdPClientID     = "todo0"
	Todo0IdPClientSecret = "todo0-idp-secret"
	// Agent0's client at the Todo0 authorization server: a different id than
	// at the IdP, which the managed connection maps.
	Agent0Todo0ClientID     = "agent0-at-todo0"
	Agent0Todo0ClientSecret = "agent0-todo0-secret"
	// Wiki0 at the IdP: a SAML 2.0 service provider (no program of its own
	// in the sandbox) that trades its users' SAML assertions for ID-JAGs.
	Wiki0IdPClientID     = "wiki0"
	Wiki0IdPClientSecret = "wiki0-idp-secret"
	// Wiki0's client id at the Todo0 authorization server, which the managed
	// connection wiki0 -> Todo0 names.
	Wiki0Todo0ClientID     = "wiki0-at-todo0"
	Wiki0Todo0ClientSecret = "wiki0-todo0-secret"
	// Wiki0's SAML entity id and assertion consumer service (ACS) URL.
	Wiki0EntityID = "urn:acme:sp:wiki0"
	Wiki0ACSURL   = "http://localhost:7005/saml/acs"
	// Todo0 MCP's service client at Todo0, for the todo API.
	MCPServiceClientID     = "todo0-mcp"
	MCPServiceClientSecret = "todo0-mcp-service-secret"
)

// Rich authorization requests at Todo0 (RFC 9396): one type, whose actions
// are the MCP tools' verbs.
const Todo0TodosDetailType = "todo0_todos"

// Todo0TodoActions are the actions of a todo0_todos authorization detail.
var Todo0TodoActions = []string{"list", "create", "complete", "delete"}

// Agent0Todo0DetailActions are what the seeded managed connection lets
// Agent0 ask for: everything but delete, so narrowing shows.
var Agent0Todo0DetailActions = []string{"list", "create", "complete"}

// Scopes at Todo0.
const (
	ScopeRead  = "todos.read"
	ScopeWrite = "todos.write"
)

// Todo0Scopes are the scopes the Todo0 resource app knows.
var Todo0Scopes = []string{ScopeRead, ScopeWrite}

// Admin bearer tokens for each party's admin API (fault injection, and the
// IdP's admin operations). Sandbox values; each party takes its own from
// configuration.
const (
	IdPAdminToken   = "acme-admin-token"
	Todo0AdminToken = "todo0-admin-token"
	MCPAdminToken   = "todo0-mcp-admin-token"
)
