package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// mcpCORSHeaders are the request headers a browser-based MCP client sends.
const mcpCORSHeaders = "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"

// originGate enforces the MCP transport's Origin rule (streamable HTTP,
// security warning: servers MUST validate Origin and answer an invalid one
// with 403). A request without Origin is not from a browser page and passes;
// our own origin (and its loopback forms) passes; so does one of
// Config.AllowedOrigins, which also gets the CORS headers a browser-based
// client needs. A CORS preflight (OPTIONS) is answered here, before the
// bearer check, because browsers never send credentials on a preflight.
func (s *Server) originGate(next http.Handler) http.Handler {
	hosts := httpx.NewHosts(s.cfg.PublicURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		cross := origin != "" && !hosts.SameOrigin(origin)
		if cross && !slices.Contains(s.cfg.AllowedOrigins, origin) {
			oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrAccessDenied, Status: http.StatusForbidden,
				Description: "Origin " + truncate(origin, 100) + " may not call this MCP server (MCP streamable HTTP: invalid Origin gets 403)"})
			return
		}
		if cross {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
		}
		if r.Method == http.MethodOptions {
			h := w.Header()
			h.Set("Allow", "GET, POST, DELETE, OPTIONS")
			if cross {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", mcpCORSHeaders)
				h.Set("Access-Control-Max-Age", "600")
			}
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
