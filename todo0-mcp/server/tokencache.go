package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// tokenCache remembers access tokens that verified, so the requests of one
// MCP session (initialize, notifications, each tool call) pay the signature
// check once. An entry never outlives the token's exp: after it the token is
// verified again (and refused once past the clock skew). The key is the
// token's SHA-256, so the cache holds no usable token. Access tokens from
// Todo0 cannot be revoked before exp, so a cached one says nothing a fresh
// verification would not.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]*auth.TokenInfo
	now func() time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: map[[32]byte]*auth.TokenInfo{}, now: time.Now}
}

func (c *tokenCache) get(raw string) (*auth.TokenInfo, bool) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	ti, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if !c.now().Before(ti.Expiration) {
		delete(c.m, k)
		return nil, false
	}
	return ti, true
}

// put stores a verified token. A full cache first drops its expired entries
// and, if still full, an arbitrary one, so it stays within max.
func (c *tokenCache) put(raw string, ti *auth.TokenInfo) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		now := c.now()
		for key, v := range c.m {
			if !now.Before(v.Expiration) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = ti
}
