package server

import (
	"context"
	"testing"
	"time"
)

// Unauthenticated growth / expiry: when a session expires, Maintain frees
// what Agent0 holds in memory for it (inspector record, chat, MCP session);
// a live session keeps its connection.
func TestMaintainFreesConnectionsOfExpiredSessions(t *testing.T) {
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), MCPURL: "http://127.0.0.1:1/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	s.now = func() time.Time { return now }
	for id, exp := range map[string]time.Time{"expired": now.Add(-time.Minute), "live": now.Add(time.Hour)} {
		if _, err := s.db.Exec(`INSERT INTO sessions(id, cookie_hash, sub, name, email, id_token, id_token_exp, csrf, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			id, hash(id), "00u_alice", "Alice", "a@x", "t", exp.Unix(), "c", now.Unix(), exp.Unix()); err != nil {
			t.Fatal(err)
		}
		s.connectionFor(id)
	}
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	_, expired := s.conns["expired"]
	_, live := s.conns["live"]
	s.mu.Unlock()
	if expired || !live {
		t.Fatalf("after Maintain: expired connection kept %v, live connection kept %v", expired, live)
	}
}
