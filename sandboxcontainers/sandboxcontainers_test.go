package sandboxcontainers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxcontainers"
)

// One sandbox in containers, driven through every operation of the API: the
// options reach the parties, and data survives Restart and Kill.
func TestSandboxInContainers(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	sb := sandboxcontainers.Start(t, &sandboxcontainers.Options{
		SigningAlg:     "ES256",
		IDJAGTTL:       2 * time.Minute,
		AccessTokenTTL: 90 * time.Second,
		Env:            map[sandboxclient.Party]map[string]string{sandboxclient.Todo0: {"XAA_LOG_LEVEL": "debug"}},
	})
	t.Logf("started in %s: %+v", time.Since(start).Round(time.Millisecond), sb.URLs)

	// Options: the signing algorithm reached the IdP.
	kid, alg := idpKey(t, sb)
	if alg != "ES256" {
		t.Fatalf("IdP key alg = %s, want ES256", alg)
	}
	// Options: the token lifetimes reached the IdP and Todo0.
	if jag, at, err := tokenLifetimes(ctx, sb.Config); err != nil || jag != 120 || at != 90 {
		t.Fatalf("expires_in of the ID-JAG %v (want 120) and the access token %v (want 90): %v", jag, at, err)
	}
	// The URLs are localhost on the host, as inside the containers.
	if !strings.HasPrefix(sb.URLs.Agent0, "http://localhost:") {
		t.Fatalf("Agent0 URL = %s", sb.URLs.Agent0)
	}

	// The whole flow through the containers: the Go MCP SDK creates a todo
	// for alice.
	cs, err := aliceAgent(ctx, sb.Config)
	if err != nil {
		t.Fatalf("XAA flow: %v", err)
	}
	defer cs.Close()
	if _, err := callTool(ctx, cs, "create_todo", map[string]any{"title": "survives restarts"}); err != nil {
		t.Fatal(err)
	}

	// Restart Todo0 and the IdP: same todo, same key.
	for _, p := range []sandboxclient.Party{sandboxclient.Todo0, sandboxclient.IdP} {
		if err := sb.Restart(ctx, p); err != nil {
			t.Fatalf("restart %s: %v", p, err)
		}
	}
	// The access token issued before the restart still verifies (same key
	// at Todo0), and the todo is still there.
	if got, err := callTool(ctx, cs, "list_todos", map[string]any{}); err != nil || !strings.Contains(fmt.Sprint(got), "survives restarts") {
		t.Fatalf("todos after the restarts: %v %v", got, err)
	}
	if k, _ := idpKey(t, sb); k != kid {
		t.Fatalf("IdP kid after restart = %s, want %s", k, kid)
	}

	// Kill: the party is gone until Start.
	if err := sb.Kill(ctx, sandboxclient.MCP); err != nil {
		t.Fatal(err)
	}
	if _, err := get(sb.URLs.MCP+"/healthz", time.Second); err == nil {
		t.Fatal("Todo0 MCP answers after Kill")
	}
	if err := sb.Start(ctx, sandboxclient.MCP); err != nil {
		t.Fatal(err)
	}
	if code, err := get(sb.URLs.MCP+"/healthz", 2*time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("Todo0 MCP after Start: %d %v", code, err)
	}

	// Pause: connections hang until Unpause.
	if err := sb.Pause(ctx, sandboxclient.Todo0); err != nil {
		t.Fatal(err)
	}
	if _, err := get(sb.URLs.Todo0+"/healthz", 500*time.Millisecond); err == nil {
		t.Fatal("Todo0 answered while paused")
	}
	if err := sb.Unpause(ctx, sandboxclient.Todo0); err != nil {
		t.Fatal(err)
	}
	if code, err := get(sb.URLs.Todo0+"/healthz", 2*time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("Todo0 after Unpause: %d %v", code, err)
	}

	// Logs: per-party environment reached Todo0 (debug logs every request).
	logs, err := sb.Logs(ctx, sandboxclient.Todo0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "Todo0 listening") || !strings.Contains(logs, "/oauth2/token") {
		t.Fatalf("Todo0 logs lack its start and its request log:\n%s", logs)
	}

	// The admin client reaches the containers' admin APIs.
	if err := sb.Admin.SetFaults(ctx, sandboxclient.Todo0, "token.server_error"); err != nil {
		t.Fatal(err)
	}
	if f, err := sb.Admin.Faults(ctx, sandboxclient.Todo0); err != nil || len(f.Active) != 1 {
		t.Fatalf("faults: %+v %v", f, err)
	}

	// Terminate removes everything; the ports are free again.
	if err := sb.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := get(sb.URLs.IdP+"/healthz", time.Second); err == nil {
		t.Fatal("IdP answers after Terminate")
	}
	if err := sb.Restart(ctx, sandboxclient.IdP); err == nil {
		t.Fatal("Restart after Terminate succeeded")
	}
}

func idpKey(t *testing.T, sb *sandboxcontainers.Sandbox) (kid, alg string) {
	t.Helper()
	resp, err := http.Get(sb.URLs.IdP + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, Alg string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) == 0 {
		t.Fatalf("IdP JWKS: %v %+v", err, jwks)
	}
	return jwks.Keys[0].Kid, jwks.Keys[0].Alg
}

func get(u string, timeout time.Duration) (int, error) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
