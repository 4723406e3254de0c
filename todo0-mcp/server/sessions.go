package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sessionHeader is the streamable HTTP transport's session id header.
const sessionHeader = "Mcp-Session-Id"

// sessionCap bounds the MCP sessions one user holds: an initialize that
// would exceed Config.MaxSessionsPerUser closes that user's oldest session.
// Idle sessions are closed by the SDK after Config.SessionTimeout. Together
// they keep a valid token from filling memory with sessions.
type sessionCap struct {
	max     int
	servers []*mcp.Server

	mu   sync.Mutex
	byID map[string]sessionOwner // live sessions this server created
}

type sessionOwner struct {
	user    string
	created time.Time
}

// track wraps the MCP handler: after a request that created a session (no
// session id in, one out), it records the owner and enforces the cap.
func (c *sessionCap) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Method != http.MethodPost || r.Header.Get(sessionHeader) != "" {
			return
		}
		id := w.Header().Get(sessionHeader)
		ti := auth.TokenInfoFromContext(r.Context())
		if id == "" || ti == nil {
			return
		}
		c.add(id, ti.UserID)
	})
}

func (c *sessionCap) add(id, user string) {
	live := c.live()
	c.mu.Lock()
	for sid := range c.byID {
		if live[sid] == nil {
			delete(c.byID, sid) // timed out, deleted or failed to initialize
		}
	}
	if live[id] == nil {
		c.mu.Unlock()
		return
	}
	c.byID[id] = sessionOwner{user: user, created: time.Now()}
	var mine []string
	for sid, o := range c.byID {
		if o.user == user {
			mine = append(mine, sid)
		}
	}
	var evict []string
	for len(mine) > c.max {
		oldest := 0
		for i, sid := range mine {
			if c.byID[sid].created.Before(c.byID[mine[oldest]].created) {
				oldest = i
			}
		}
		evict = append(evict, mine[oldest])
		delete(c.byID, mine[oldest])
		mine = append(mine[:oldest], mine[oldest+1:]...)
	}
	c.mu.Unlock()
	for _, sid := range evict {
		_ = live[sid].Close()
	}
}

// live is every open session of the MCP servers, by id.
func (c *sessionCap) live() map[string]*mcp.ServerSession {
	out := map[string]*mcp.ServerSession{}
	for _, srv := range c.servers {
		for ss := range srv.Sessions() {
			out[ss.ID()] = ss
		}
	}
	return out
}

// count is the number of live sessions (for tests and the maintenance log).
func (c *sessionCap) count() int { return len(c.live()) }
