package server

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func (e *mcpEnv) initialize(bearer string) string {
	e.t.Helper()
	resp := e.post("/mcp", bearer, initializeBody)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get(sessionHeader)
	if resp.StatusCode != http.StatusOK || id == "" {
		e.t.Fatalf("initialize: %d, session %q", resp.StatusCode, id)
	}
	return id
}

// Unauthenticated-growth rule: one user's valid token cannot pile up MCP
// sessions; past MaxSessionsPerUser the oldest is closed (and answers 404),
// and another user's sessions are untouched.
func TestMCPSessionCapPerUser(t *testing.T) {
	e := newMCPEnv(t, func(c *Config) { c.MaxSessionsPerUser = 3 })
	alice := "Bearer " + e.token(oauth.TypAccessToken, nil)
	bob := "Bearer " + e.token(oauth.TypAccessToken, func(c map[string]any) { c["sub"] = "t0u_bob" })
	bobs := e.initialize(bob)
	var ids []string
	for range 10 {
		ids = append(ids, e.initialize(alice))
	}
	if n := e.s.sessions.count(); n != 4 {
		t.Fatalf("%d live sessions, want 3 for alice + 1 for bob", n)
	}
	ping := func(bearer, id string) int {
		resp := e.postWith("/mcp", bearer, `{"jsonrpc":"2.0","id":9,"method":"ping"}`, map[string]string{sessionHeader: id, "Mcp-Protocol-Version": "2025-11-25"})
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ping(alice, ids[0]); got != http.StatusNotFound {
		t.Fatalf("oldest session answers %d, want 404", got)
	}
	if got := ping(alice, ids[9]); got != http.StatusOK {
		t.Fatalf("newest session answers %d", got)
	}
	if got := ping(bob, bobs); got != http.StatusOK {
		t.Fatalf("bob's session answers %d", got)
	}
}

// Sessions idle for SessionTimeout are closed and their memory reclaimed.
func TestMCPSessionTimeout(t *testing.T) {
	e := newMCPEnv(t, func(c *Config) { c.SessionTimeout = 50 * time.Millisecond })
	e.initialize("Bearer " + e.token(oauth.TypAccessToken, nil))
	deadline := time.Now().Add(5 * time.Second)
	for e.s.sessions.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle session still open after 5s (timeout 50ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNewRefusesNegativeSessionCap: a negative per-user session cap would
// close every session as it opens; it is a configuration error, not a cap.
func TestNewRefusesNegativeSessionCap(t *testing.T) {
	_, err := New(Config{PublicURL: "http://mcp.test", AuthServer: "http://as.test", Todo0API: "http://as.test", MaxSessionsPerUser: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "max sessions per user") {
		t.Fatalf("New with MaxSessionsPerUser -1: %v, want an error", err)
	}
}
