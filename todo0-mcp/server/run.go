package server

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

// Run is the todo0-mcp binary: flags (or TODO0_MCP_* environment variables), then serve.
func Run(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("todo0-mcp", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.PublicURL, "public-url", party.Env("TODO0_MCP_PUBLIC_URL", demo.Todo0MCPURL), "public URL; the resource id is this plus /mcp (env TODO0_MCP_PUBLIC_URL)")
	addr := party.String(fs, "addr", "TODO0_MCP_ADDR", "", "listen address (default: loopback, port of --public-url)")
	fs.StringVar(&cfg.AuthServer, "auth-server", party.Env("TODO0_PUBLIC_URL", demo.Todo0URL), "Todo0 authorization server issuer (env TODO0_PUBLIC_URL)")
	fs.StringVar(&cfg.Todo0API, "todo0-api", party.Env("TODO0_API_URL", ""), "Todo0 API base URL (default: --auth-server) (env TODO0_API_URL)")
	fs.StringVar(&cfg.ServiceClientSecret, "service-client-secret", party.Env("TODO0_MCP_SERVICE_SECRET", demo.MCPServiceClientSecret), "this server's client secret at Todo0 (env TODO0_MCP_SERVICE_SECRET)")
	fs.StringVar(&cfg.AdminToken, "admin-token", party.Env("TODO0_MCP_ADMIN_TOKEN", demo.MCPAdminToken), "bearer token for /admin/api/faults (env TODO0_MCP_ADMIN_TOKEN)")
	origins := party.String(fs, "allowed-origins", "TODO0_MCP_ALLOWED_ORIGINS", "", "comma-separated browser origins, besides this server's own, that may call /mcp")
	fs.DurationVar(&cfg.SessionTimeout, "session-timeout", 30*time.Minute, "close MCP sessions idle this long")
	fs.IntVar(&cfg.MaxSessionsPerUser, "max-sessions-per-user", 16, "MCP sessions one user may hold; a new one closes the oldest")
	fs.BoolVar(&cfg.CheckRevocation, "check-revocation", party.Env("TODO0_MCP_CHECK_REVOCATION", "") == "true", "ask Todo0's introspection endpoint whether each access token is still active, for Shared Signals (env TODO0_MCP_CHECK_REVOCATION=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	cfg.ServiceClientID, cfg.Logger = demo.MCPServiceClientID, logger
	s, err := New(cfg)
	if err != nil {
		return err
	}
	if *addr == "" {
		*addr = party.DefaultAddr(cfg.PublicURL)
	}
	logger.Info("Todo0 MCP listening", "addr", *addr, "resource", s.Resource())
	return party.Run(ctx, "todo0-mcp", *addr, s, logger)
}
