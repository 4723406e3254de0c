package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
)

// `up --json` prints one line of JSON once the parties are ready: every URL
// answers at that point, and the credentials are the demo world's.
func TestUpJSON(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := up(ctx, []string{"--json", "--data-dir", dir, "--idp-port", "0", "--agent0-port", "0", "--todo0-port", "0", "--mcp-port", "0"}, pw)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading up --json: %v", err)
	}
	var got struct {
		sandboxclient.Config
		DataDir string `json:"data_dir"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("up --json printed %q: %v", line, err)
	}
	if got.DataDir != dir {
		t.Errorf("data_dir = %q, want %q", got.DataDir, dir)
	}
	u := got.URLs
	if u.MCPResource != u.MCP+"/mcp" {
		t.Errorf("mcp_resource = %q, mcp = %q", u.MCPResource, u.MCP)
	}
	for _, check := range []string{
		u.IdP + "/.well-known/openid-configuration",
		u.Todo0 + "/.well-known/oauth-authorization-server",
		u.MCP + "/.well-known/oauth-protected-resource/mcp",
		u.Agent0 + "/.well-known/jwks.json",
	} {
		resp, err := http.Get(check)
		if err != nil {
			t.Fatalf("GET %s right after up --json: %v", check, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", check, resp.Status)
		}
	}
	want := sandboxclient.DemoCredentials()
	if got.Credentials.Agent0AtIdP != want.Agent0AtIdP || got.Credentials.Agent0AtTodo0 != want.Agent0AtTodo0 ||
		got.Credentials.AdminTokens != want.AdminTokens || len(got.Credentials.Users) != len(want.Users) {
		t.Errorf("credentials = %+v, want the demo world's %+v", got.Credentials, want)
	}
	// The admin token printed is the one the IdP takes.
	if _, err := sandboxclient.NewAdmin(got.Config).Faults(context.Background(), sandboxclient.IdP); err != nil {
		t.Errorf("IdP admin API with the printed token: %v", err)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("up: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("up did not stop")
	}
}

// TestUpFlags: up passes --max-sessions-per-user to Todo0 MCP, so a load run
// against a running sandbox can have more agents than the default cap, and
// refuses a cap that would let no session live.
func TestUpFlags(t *testing.T) {
	o, _, _, err := upFlags(nil)
	if err != nil || o.MCPMaxSessionsPerUser != 16 {
		t.Errorf("default: cap %d, %v; want 16", o.MCPMaxSessionsPerUser, err)
	}
	o, _, _, err = upFlags([]string{"--max-sessions-per-user", "64"})
	if err != nil || o.MCPMaxSessionsPerUser != 64 {
		t.Errorf("--max-sessions-per-user 64: cap %d, %v", o.MCPMaxSessionsPerUser, err)
	}
	for _, bad := range []string{"0", "-1", "100001"} {
		if _, _, _, err := upFlags([]string{"--max-sessions-per-user", bad}); err == nil || !strings.Contains(err.Error(), "max-sessions-per-user") {
			t.Errorf("--max-sessions-per-user %s: %v, want an error naming the flag", bad, err)
		}
	}
}
