package server

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Run is the todo0 binary: flags (or TODO0_* environment variables), then serve.
func Run(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("todo0", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.PublicURL, "public-url", party.Env("TODO0_PUBLIC_URL", demo.Todo0URL), "public URL and authorization server issuer (env TODO0_PUBLIC_URL)")
	addr := party.String(fs, "addr", "TODO0_ADDR", "", "listen address (default: loopback, port of --public-url)")
	fs.StringVar(&cfg.DataDir, "data-dir", party.Env("TODO0_DATA_DIR", ".xaa-data/todo0"), "directory for todo0.db (env TODO0_DATA_DIR)")
	fs.StringVar(&cfg.IdPIssuer, "idp-issuer", party.Env("IDP_PUBLIC_URL", demo.IdPURL), "the trusted IdP's issuer (env IDP_PUBLIC_URL)")
	mcp := party.String(fs, "mcp-resource", "TODO0_MCP_RESOURCE", demo.Todo0MCPURL+demo.MCPPath, "the Todo0 MCP resource identifier")
	fs.StringVar(&cfg.AdminToken, "admin-token", party.Env("TODO0_ADMIN_TOKEN", demo.Todo0AdminToken), "bearer token for /admin/api/faults (env TODO0_ADMIN_TOKEN)")
	fs.StringVar(&cfg.Agent0JWKSURI, "agent0-jwks-uri", party.Env("TODO0_AGENT0_JWKS_URI", demo.Agent0URL+"/.well-known/jwks.json"), "where agent0-at-todo0 publishes its private_key_jwt keys, used when seeding (env TODO0_AGENT0_JWKS_URI)")
	quirkList := party.String(fs, "quirk", "XAA_QUIRKS", "", "vendor behaviours or presets, comma-separated (docs/quirks.md)")
	ttl := party.Duration(fs, "access-token-ttl", "TODO0_ACCESS_TOKEN_TTL", 5*time.Minute, "access token lifetime")
	defScopes := party.String(fs, "default-scopes", "TODO0_DEFAULT_SCOPES", demo.ScopeRead, "scopes granted for an ID-JAG without a scope claim")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.DefaultScopes = strings.Fields(*defScopes)
	q, err := quirks.Parse(*quirkList)
	if err != nil {
		return err
	}
	cfg.Quirks = q
	cfg.Resources, cfg.AccessTokenTTL, cfg.Logger = []string{*mcp}, *ttl, logger
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if *addr == "" {
		*addr = party.DefaultAddr(s.Issuer())
	}
	logger.Info("Todo0 listening", "addr", *addr, "issuer", s.Issuer())
	return party.Run(ctx, "todo0", *addr, s, logger)
}
