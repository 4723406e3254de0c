package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestTokenCacheNeverOutlivesExp: a cached token is served only before its
// exp, and the cache holds at most its bound however many tokens arrive.
func TestTokenCacheNeverOutlivesExp(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTokenCache(3)
	c.now = func() time.Time { return now }
	c.put("a", &auth.TokenInfo{UserID: "u", Expiration: now.Add(time.Minute)})
	if ti, ok := c.get("a"); !ok || ti.UserID != "u" {
		t.Fatal("a fresh entry was not served")
	}
	if _, ok := c.get("b"); ok {
		t.Fatal("an unknown token was served")
	}
	now = now.Add(time.Minute)
	if _, ok := c.get("a"); ok {
		t.Error("served at its exp")
	}
	for i := range 10 {
		c.put(strconv.Itoa(i), &auth.TokenInfo{Expiration: now.Add(time.Hour)})
		if len(c.m) > 3 {
			t.Fatalf("%d entries, bound 3", len(c.m))
		}
	}
}

// TestBearerCacheServesVerifiedOnly: the MCP endpoint verifies a token once
// per lifetime: a second request with the same token is served from the
// cache, and a token that failed verification is never cached.
func TestBearerCacheServesVerifiedOnly(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	good := e.token(oauth.TypAccessToken, nil)
	bad := e.token(oauth.TypAccessToken, func(c map[string]any) { c["aud"] = "http://elsewhere/mcp" })
	ctx := context.Background()
	if _, err := e.s.verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.s.tokens.get(good); !ok {
		t.Error("a verified token was not cached")
	}
	if _, err := e.s.verify(ctx, bad); err == nil {
		t.Fatal("a token for another resource verified")
	}
	if _, ok := e.s.tokens.get(bad); ok {
		t.Error("a refused token was cached")
	}
	if _, err := e.s.verify(ctx, bad); err == nil {
		t.Error("a refused token passed on the second try")
	}
}
