//go:build containers

// Package containers checks a sandbox that is already running somewhere
// else, in practice the compose demo (docker-compose.yml) that .ci/run
// brings up on non-default ports: the Go MCP SDK's Cross App Access flow
// through it, and that keys, users and todos survive restarts. Behind the
// "containers" build tag; the parties' URLs come from XAA_TARGET, in the
// format of `go run . play --target`:
//
//	XAA_TARGET=idp=http://localhost:17101,agent0=...,todo0=...,mcp=... \
//	XAA_SNAPSHOT=/tmp/snap.json XAA_SNAPSHOT_MODE=record \
//	go test -tags containers ./e2e/containers
package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
)

// target reads XAA_TARGET. Not a skip: the build tag asks for these tests.
func target(t *testing.T) sandboxclient.Config {
	t.Helper()
	raw := os.Getenv("XAA_TARGET")
	if raw == "" {
		t.Fatal("XAA_TARGET is not set: idp=URL,agent0=URL,todo0=URL,mcp=URL of the running sandbox")
	}
	m := map[string]string{}
	for _, kv := range strings.Split(raw, ",") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = strings.TrimRight(v, "/")
	}
	for _, k := range []string{"idp", "agent0", "todo0", "mcp"} {
		if m[k] == "" {
			t.Fatalf("XAA_TARGET=%q lacks %s=URL", raw, k)
		}
	}
	return sandboxclient.Config{
		URLs:        sandboxclient.NewURLs(m["idp"], m["agent0"], m["todo0"], strings.TrimSuffix(m["mcp"], "/mcp")),
		Credentials: sandboxclient.DemoCredentials(),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestGoSDKThroughContainers is the Go MCP SDK interop flow
// (extauth.EnterpriseHandler, unmodified) against the containers, where each
// party reaches the others at the same http://localhost URLs as the test.
func TestGoSDKThroughContainers(t *testing.T) {
	c, cfg := ctx(t), target(t)
	cs := aliceAgent(t, c, cfg)
	title := fmt.Sprintf("written by the Go SDK through the containers at %s", time.Now().UTC().Format(time.RFC3339Nano))
	res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": title}})
	if err != nil || res.IsError {
		t.Fatalf("create_todo: %v %+v", err, res)
	}
	if titles := todoTitles(t, c, cs); !slices.Contains(titles, title) {
		t.Fatalf("list_todos = %q, want it to contain %q", titles, title)
	}
}

// snapshot is what must survive a restart: signing keys, users and todos.
type snapshot struct {
	IdPKids, Todo0Kids, Agent0Kids []string
	Users                          []string // username:active
	AliceTodos                     []string
}

// TestDataSurvives records the sandbox's keys, users and alice's todos
// (XAA_SNAPSHOT_MODE=record) or checks that they are unchanged
// (XAA_SNAPSHOT_MODE=check), in the file XAA_SNAPSHOT. .ci/run records
// before restarting a party, and checks after it and after `compose down`
// and `up` without -v.
func TestDataSurvives(t *testing.T) {
	c, cfg := ctx(t), target(t)
	file, mode := os.Getenv("XAA_SNAPSHOT"), os.Getenv("XAA_SNAPSHOT_MODE")
	if file == "" || (mode != "record" && mode != "check") {
		t.Fatal("set XAA_SNAPSHOT=file and XAA_SNAPSHOT_MODE=record or check")
	}
	var now snapshot
	now.IdPKids = kids(t, cfg.URLs.IdP+"/oauth2/jwks")
	now.Todo0Kids = kids(t, cfg.URLs.Todo0+"/oauth2/jwks")
	now.Agent0Kids = kids(t, cfg.URLs.Agent0+"/.well-known/jwks.json")
	var users []struct {
		Username string `json:"username"`
		Active   bool   `json:"active"`
	}
	if err := sandboxclient.NewAdmin(cfg).IdP(c, http.MethodGet, "/users", nil, &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		now.Users = append(now.Users, fmt.Sprintf("%s:%v", u.Username, u.Active))
	}
	slices.Sort(now.Users)
	// Reading the todos takes the whole flow again: sign-in, token exchange,
	// jwt-bearer, MCP.
	now.AliceTodos = todoTitles(t, c, aliceAgent(t, c, cfg))
	slices.Sort(now.AliceTodos)

	if mode == "record" {
		if len(now.AliceTodos) == 0 {
			t.Fatal("alice has no todos to check after a restart; run the flows first")
		}
		b, _ := json.MarshalIndent(now, "", "  ")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d IdP kids, %d users, %d todos", len(now.IdPKids), len(now.Users), len(now.AliceTodos))
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var before snapshot
	if err := json.Unmarshal(b, &before); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, now) {
		t.Fatalf("data changed across the restart:\nbefore %+v\nafter  %+v", before, now)
	}
}

func kids(t *testing.T, u string) []string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) == 0 {
		t.Fatalf("%s: %v %+v", u, err, jwks)
	}
	var out []string
	for _, k := range jwks.Keys {
		out = append(out, k.Kid)
	}
	slices.Sort(out)
	return out
}

// aliceAgent signs alice in and connects the Go MCP SDK to Todo0 MCP through
// Cross App Access, with the demo credentials only.
func aliceAgent(t *testing.T, c context.Context, cfg sandboxclient.Config) *mcp.ClientSession {
	t.Helper()
	creds := cfg.Credentials
	redirect := cfg.URLs.Agent0 + "/callback"
	idp := &oauthex.ClientCredentials{ClientID: creds.Agent0AtIdP.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtIdP.Secret}}
	handler, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL:     cfg.URLs.IdP,
		IdPCredentials:   idp,
		MCPAuthServerURL: cfg.URLs.Todo0,
		MCPResourceURI:   cfg.URLs.MCPResource,
		MCPCredentials:   &oauthex.ClientCredentials{ClientID: creds.Agent0AtTodo0.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: creds.Agent0AtTodo0.Secret}},
		MCPScopes:        creds.Scopes,
		IDTokenFetcher: func(ctx context.Context) (*oauth2.Token, error) {
			return extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
				IssuerURL: cfg.URLs.IdP, Credentials: idp, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email"},
			}, func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				q, err := sandboxclient.AuthorizationCode(ctx, args.URL, redirect, "alice", "alice-demo")
				if err != nil {
					return nil, err
				}
				return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "containers-e2e", Version: "v0"}, nil).
		Connect(c, &mcp.StreamableClientTransport{Endpoint: cfg.URLs.MCPResource, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect through EnterpriseHandler: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func todoTitles(t *testing.T, c context.Context, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("list_todos: %v %+v", err, res)
	}
	todos, _ := res.StructuredContent.(map[string]any)["todos"].([]any)
	var out []string
	for _, td := range todos {
		out = append(out, fmt.Sprint(td.(map[string]any)["title"]))
	}
	return out
}
